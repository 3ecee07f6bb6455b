//! The candidate is a sandbox. Dumps made with the real tools, whose SQL runs
//! as the database superuser while they load (a materialized view's query, a
//! dblink connection, a FederatedX table, `SELECT ... INTO OUTFILE`), try to
//! reach a listener on the host, another container and an outside address:
//! none of them connects, and what they write outside the database is not in
//! the kept restore, nor do the PostgreSQL configuration files they rewrite.
//! The database container holds no extra privileges, other containers cannot
//! reach it through its relay, and a run leaves no container or network behind.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use common::*;
use serde_json::Value;

/// An address outside this machine that a container on Docker's default
/// bridge reaches (the control in the dump's source database shows whether it does here).
const OUTSIDE: &str = "1.1.1.1:53";

/// Runs `docker ARGS` and returns its stdout; panics with its stderr on failure.
fn docker_cli(args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the docker CLI");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A TCP listener on the default bridge's gateway address, the host as
/// containers see it, that records who connects; closed when dropped.
struct HostListener {
    addr: SocketAddr,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
}

impl HostListener {
    /// Listens on `gateway`, the host's address on the default bridge.
    fn start(gateway: &str) -> Self {
        let listener = std::net::TcpListener::bind((gateway, 0))
            .unwrap_or_else(|e| panic!("bind a listener on the bridge gateway {gateway}: {e}"));
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let peers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peers.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((_, peer)) => p.lock().unwrap().push(peer),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Self { addr, peers, stop }
    }

    fn connections(&self) -> usize {
        self.peers.lock().unwrap().len()
    }
}

impl Drop for HostListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A container the test starts itself on Docker's default bridge, where
/// containers are by default: the dump's source database, and the
/// "other container" the dump tries to reach. Removed when dropped.
struct Neighbour {
    name: String,
    ip: String,
    /// The host's address on the default bridge.
    gateway: String,
}

impl Neighbour {
    fn start(app: &App, image: &str, env: &[&str], args: &[&str]) -> Self {
        let name = format!("restoredrill-{}-neighbour", app.tag.to_ascii_lowercase());
        let mut run = vec!["run", "-d", "--name", name.as_str()];
        for e in env {
            run.extend(["-e", e]);
        }
        run.push(image);
        run.extend_from_slice(args);
        docker_cli(&run, None);
        let addresses = docker_cli(
            &[
                "inspect",
                &name,
                "--format",
                "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}}",
            ],
            None,
        );
        let (ip, gateway) = addresses
            .trim()
            .split_once(' ')
            .expect("address and gateway");
        Self {
            ip: ip.to_string(),
            gateway: gateway.to_string(),
            name,
        }
    }

    /// Runs `cmd` in the container with `stdin`; `Err` with its output if it fails.
    fn exec(&self, cmd: &[&str], stdin: &[u8]) -> Result<String, String> {
        use std::io::Write;
        let mut child = Command::new("docker")
            .args(["exec", "-i", &self.name])
            .args(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(text)
        }
    }

    fn until_ready(&self, probe: &[&str]) {
        for _ in 0..120 {
            if self.exec(probe, b"").is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("{} did not become ready", self.name);
    }

    fn file(&self, path: &str) -> Vec<u8> {
        let out = Command::new("docker")
            .args(["exec", &self.name, "cat", path])
            .output()
            .unwrap();
        assert!(out.status.success(), "cat {path} in {}", self.name);
        out.stdout
    }

    fn log(&self) -> String {
        let out = Command::new("docker")
            .args(["logs", &self.name])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

/// A PostgreSQL neighbour that logs every connection it receives.
fn pg_neighbour(app: &App) -> Neighbour {
    let n = Neighbour::start(
        app,
        PG_IMAGE,
        &["POSTGRES_PASSWORD=neighbour-pw", "POSTGRES_DB=shop"],
        &["postgres", "-c", "log_connections=on"],
    );
    n.until_ready(&[
        "env",
        "PGPASSWORD=neighbour-pw",
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "shop",
        "-c",
        "SELECT 1",
    ]);
    n
}

impl Neighbour {
    fn psql(&self, sql: &str) -> String {
        self.exec(
            &[
                "env",
                "PGPASSWORD=neighbour-pw",
                "psql",
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "shop",
            ],
            sql.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("psql in the neighbour: {e}"))
    }

    /// `pg_dump -Fc` of the neighbour's `shop` database, written to `path`.
    fn pg_dump_custom(&self, path: &std::path::Path) {
        self.exec(
            &[
                "env",
                "PGPASSWORD=neighbour-pw",
                "pg_dump",
                "-Fc",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "shop",
                "-f",
                "/tmp/shop.dump",
            ],
            b"",
        )
        .unwrap_or_else(|e| panic!("pg_dump: {e}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, self.file("/tmp/shop.dump")).unwrap();
    }

    /// How many connections the neighbour's PostgreSQL has received so far.
    fn pg_connections_received(&self) -> usize {
        self.log().matches("connection received:").count()
    }
}

/// A database whose materialized view `probes` tries, for each target, to
/// open a TCP connection (bash's /dev/tcp, started by `COPY ... FROM PROGRAM`)
/// and records what happened, and whose view `files` writes files outside the
/// database (`COPY ... TO PROGRAM`, `COPY ... TO` a server file) and lists
/// them. pg_dump writes `REFRESH MATERIALIZED VIEW` into the archive, so
/// pg_restore runs both queries again, as the superuser, in the candidate
/// (in parallel: each has a table of its own for its program's output).
fn probing_database(targets: &[(&str, String)]) -> String {
    let values: Vec<String> = targets
        .iter()
        .map(|(name, addr)| format!("('{name}', '{addr}')"))
        .collect();
    format!(
        r#"
CREATE TABLE public.probe_output (line text);
CREATE TABLE public.files_output (line text);
CREATE FUNCTION public.probe(target text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE result text;
BEGIN
  DELETE FROM public.probe_output;
  EXECUTE format('COPY public.probe_output FROM PROGRAM %L',
    format($sh$bash -c 'if timeout 8 bash -c "exec 3<>/dev/tcp/%s/%s" 2>/tmp/probe.err; then echo connected; else echo "cannot connect: $(tail -n1 /tmp/probe.err)"; fi'$sh$,
      split_part(target, ':', 1), split_part(target, ':', 2)));
  SELECT string_agg(line, ' ') INTO result FROM public.probe_output;
  RETURN result;
END
$fn$;
CREATE FUNCTION public.leave_files() RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE result text;
BEGIN
  COPY (SELECT 'written by the dump') TO '/tmp/copied-by-the-dump';
  DELETE FROM public.files_output;
  COPY public.files_output FROM PROGRAM 'touch /tmp/written-by-the-dump /var/run/postgresql/written-by-the-dump && ls /tmp/copied-by-the-dump /tmp/written-by-the-dump /var/run/postgresql/written-by-the-dump';
  SELECT string_agg(line, ' ' ORDER BY line) INTO result FROM public.files_output;
  RETURN result;
END
$fn$;
CREATE TABLE public.targets (name text PRIMARY KEY, addr text NOT NULL);
INSERT INTO public.targets VALUES {values};
CREATE MATERIALIZED VIEW public.probes AS SELECT name, addr, public.probe(addr) AS outcome FROM public.targets;
CREATE MATERIALIZED VIEW public.files AS SELECT public.leave_files() AS listing;
"#,
        values = values.join(", ")
    )
}

const FILES_WRITTEN: &str =
    "/tmp/copied-by-the-dump /tmp/written-by-the-dump /var/run/postgresql/written-by-the-dump";

fn pg_job(dir: &std::path::Path, keep: bool, extra: &str) -> String {
    format!(
        "  - name: JOB(probe)\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: {keep}\n{extra}",
        dir.display()
    )
}

async fn kept_pg_rows(kept: &Value, sql: &str) -> Vec<(String, String)> {
    use sqlx::Connection;
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}",
        kept["user"].as_str().unwrap(),
        kept["password"].as_str().unwrap(),
        kept["port"],
        kept["database"].as_str().unwrap()
    );
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("the kept restore is reachable through its relay");
    let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}

/// Nothing of `app` but the kept restore, its relay and its network is left.
async fn only_the_kept_restore_is_left(app: &App, docker: &Docker, kept_container: &str) {
    assert_eq!(
        app.containers(docker).await,
        vec![(kept_container.to_string(), "kept".to_string())]
    );
    assert_eq!(
        app.relays(docker).await,
        vec![format!("{kept_container}-relay")]
    );
    assert_eq!(app.networks(docker).await, vec![kept_container.to_string()]);
}

/// The container runs without extra privileges, alone on an internal
/// network without an address on the host, published only through its relay on 127.0.0.1.
async fn assert_confined(docker: &Docker, container: &str) {
    let info = docker.inspect_container(container, None).await.unwrap();
    let host = info.host_config.unwrap();
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]), "{container}");
    let added = host.cap_add.unwrap_or_default();
    for cap in &added {
        assert!(
            ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"].contains(&cap.as_str()),
            "{container} was given {cap}"
        );
    }
    assert!(
        host.security_opt
            .unwrap_or_default()
            .iter()
            .any(|o| o.starts_with("no-new-privileges")),
        "{container} has no-new-privileges"
    );
    assert!(
        host.pids_limit.unwrap_or(0) > 0,
        "{container} has a PIDs limit"
    );
    assert_eq!(host.privileged, Some(false));
    assert!(
        host.port_bindings.unwrap_or_default().is_empty(),
        "the database container publishes nothing itself"
    );
    let network = host.network_mode.unwrap();
    assert_eq!(network, container, "alone on a network of its own");
    let net = docker
        .inspect_network(
            &network,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .unwrap();
    assert_eq!(net.internal, Some(true), "the network is internal");
    assert_eq!(
        net.options
            .unwrap_or_default()
            .get("com.docker.network.bridge.inhibit_ipv4")
            .map(String::as_str),
        Some("true"),
        "the bridge has no address on the host"
    );
    let members: Vec<String> = net
        .containers
        .unwrap_or_default()
        .values()
        .filter_map(|c| c.name.clone())
        .collect();
    let mut expected = vec![container.to_string(), format!("{container}-relay")];
    expected.sort();
    let mut members = members;
    members.sort();
    assert_eq!(members, expected, "only the container and its relay");

    let relay = docker
        .inspect_container(&format!("{container}-relay"), None)
        .await
        .unwrap();
    let bindings = relay.host_config.unwrap().port_bindings.unwrap_or_default();
    for b in bindings.values().flatten().flatten() {
        assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"), "{bindings:?}");
    }
}

#[tokio::test]
async fn a_postgres_archive_cannot_reach_the_host_another_container_or_outside_and_its_files_do_not_survive()
 {
    let docker = require_docker().await;
    let app = App::new("pgprobe");
    let neighbour = pg_neighbour(&app);
    let host = HostListener::start(&neighbour.gateway);
    let targets = [
        ("host", host.addr.to_string()),
        ("container", format!("{}:5432", neighbour.ip)),
        ("outside", OUTSIDE.to_string()),
    ];

    // Made with the real tools: the objects in a real database, then pg_dump -Fc.
    neighbour.psql(&probing_database(&targets));
    let control = neighbour.psql("SELECT name || '=' || outcome FROM probes ORDER BY name");
    eprintln!("outside the sandbox, where the dump was made:\n{control}");
    for target in ["host", "container"] {
        assert!(
            control.contains(&format!("{target}=connected")),
            "the probe works where nothing confines it: {control}"
        );
    }
    assert_eq!(
        neighbour.psql("SELECT listing FROM files").trim(),
        FILES_WRITTEN
    );
    let dir = app.path("dumps");
    neighbour.pg_dump_custom(&dir.join("shop.dump"));
    let host_before = host.connections();
    let neighbour_before = neighbour.pg_connections_received();

    app.write_config(&pg_job(
        &dir,
        true,
        "    assertions:\n      - sql:\n          name: no probe connected\n          query: SELECT count(*) FROM probes WHERE outcome = 'connected'\n          equals: 0\n",
    ));
    let (code, runs, stderr) = app.run_json(&[]);
    let run = &runs[0];
    assert_eq!(code, 0, "{run:#}\n{stderr}");
    assert_eq!(run["assertions"][0]["observed"], "0", "{run:#}");

    // The restore ran the probes, as the superuser, and none connected.
    let kept = &run["kept"];
    let outcomes = kept_pg_rows(kept, "SELECT name, outcome FROM probes ORDER BY name").await;
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    for (target, outcome) in &outcomes {
        assert!(
            outcome.starts_with("cannot connect:"),
            "{target}: {outcome}"
        );
    }
    assert_eq!(
        host.connections(),
        host_before,
        "the listener on the host saw no connection from the restore"
    );
    assert_eq!(
        neighbour.pg_connections_received(),
        neighbour_before,
        "the other container saw no connection from the restore"
    );

    // The restore wrote its files (it lists them), but they are not in the kept restore.
    let files = kept_pg_rows(kept, "SELECT 'files', listing FROM files").await;
    assert_eq!(files[0].1, FILES_WRITTEN);
    let kept_container = kept["container"].as_str().unwrap();
    for path in FILES_WRITTEN.split(' ') {
        let out = Command::new("docker")
            .args(["exec", kept_container, "test", "-e", path])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{path} written while the dump loaded is not in the kept restore"
        );
    }

    assert_confined(&docker, kept_container).await;

    // Other containers cannot reach the kept restore through its relay.
    let relay_ip = docker_cli(
        &[
            "inspect",
            &format!("{kept_container}-relay"),
            "--format",
            "{{.NetworkSettings.Networks.bridge.IPAddress}}",
        ],
        None,
    );
    let password = kept["password"].as_str().unwrap();
    let from_neighbour = neighbour.exec(
        &[
            "env",
            &format!("PGPASSWORD={password}"),
            "PGCONNECT_TIMEOUT=5",
            "psql",
            "-h",
            relay_ip.trim(),
            "-U",
            "postgres",
            "-d",
            "shop",
            "-c",
            "SELECT 1",
        ],
        b"",
    );
    assert!(
        from_neighbour.is_err(),
        "another container reached the kept restore: {from_neighbour:?}"
    );
    let relay_log = docker_cli(&["logs", &format!("{kept_container}-relay")], None);
    assert!(
        relay_log.contains(&format!("refused a connection from {}", neighbour.ip)),
        "{relay_log}"
    );

    only_the_kept_restore_is_left(&app, &docker, kept_container).await;
}

#[tokio::test]
async fn a_dblink_connection_in_an_archive_fails_the_run_and_leaves_nothing_behind() {
    let docker = require_docker().await;
    let app = App::new("pgdblink");
    let neighbour = pg_neighbour(&app);
    // The materialized view connects to the other container with dblink; where
    // the dump was made, it can.
    let conninfo = format!(
        "host={} port=5432 user=postgres password=neighbour-pw dbname=shop connect_timeout=10",
        neighbour.ip
    );
    neighbour.psql(&format!(
        "CREATE EXTENSION dblink;
         CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1);
         CREATE MATERIALIZED VIEW remote AS
           SELECT * FROM dblink('{conninfo}', 'SELECT count(*) FROM orders') AS t(n bigint);"
    ));
    assert_eq!(neighbour.psql("SELECT n FROM remote").trim(), "1");
    let dir = app.path("dumps");
    neighbour.pg_dump_custom(&dir.join("shop.dump"));
    let before = neighbour.pg_connections_received();

    app.write_config(&pg_job(&dir, false, ""));
    let (code, runs, stderr) = app.run_json(&[]);
    let run = &runs[0];
    assert_eq!(code, 1, "{run:#}\n{stderr}");
    assert_eq!(run["verdict"], "fail", "{run:#}");
    let said = format!("{} {}", reason(run), run["tool_output"]);
    assert!(
        said.contains("could not establish connection"),
        "the run names the failed connection: {said}"
    );
    assert_eq!(
        neighbour.pg_connections_received(),
        before,
        "the other container saw no connection"
    );
    assert!(app.containers(&docker).await.is_empty());
    assert!(app.relays(&docker).await.is_empty());
    assert!(app.networks(&docker).await.is_empty());
}

/// A MariaDB neighbour, the source of the MariaDB dumps.
fn mariadb_neighbour(app: &App) -> Neighbour {
    let n = Neighbour::start(
        app,
        MARIADB_IMAGE,
        &[
            "MARIADB_ROOT_PASSWORD=neighbour-pw",
            "MARIADB_DATABASE=shop",
        ],
        &[],
    );
    n.until_ready(&[
        "env",
        "MYSQL_PWD=neighbour-pw",
        "mariadb",
        "-uroot",
        "shop",
        "-e",
        "SELECT 1",
    ]);
    n
}

impl Neighbour {
    fn mariadb(&self, sql: &str) -> String {
        self.exec(
            &["env", "MYSQL_PWD=neighbour-pw", "mariadb", "-uroot", "shop"],
            sql.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("mariadb in the neighbour: {e}"))
    }

    /// mariadb-dump of `shop`, with `head` put before its first statement
    /// and `tail` after its last, before the completion line.
    fn tampered_mariadb_dump(&self, head: &str, tail: &str) -> String {
        let dump = self
            .exec(
                &[
                    "env",
                    "MYSQL_PWD=neighbour-pw",
                    "mariadb-dump",
                    "-uroot",
                    "shop",
                ],
                b"",
            )
            .unwrap_or_else(|e| panic!("mariadb-dump: {e}"));
        let first = dump.find("\nDROP TABLE").expect("a table in the dump") + 1;
        let end = dump
            .rfind("-- Dump completed")
            .expect("the completion line");
        format!(
            "{}{head}\n{}{tail}\n{}",
            &dump[..first],
            &dump[first..end],
            &dump[end..]
        )
    }
}

#[tokio::test]
async fn mariadb_dumps_cannot_reach_another_container_and_their_outfiles_do_not_survive() {
    let docker = require_docker().await;
    let app = App::new("myprobe");
    let neighbour = mariadb_neighbour(&app);
    let host = HostListener::start(&neighbour.gateway);
    neighbour.mariadb(&format!(
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1), (2);
         INSTALL SONAME 'ha_federatedx';
         CREATE TABLE remote_orders (id int PRIMARY KEY) ENGINE=FEDERATED
           CONNECTION='mysql://root:neighbour-pw@{}:3306/shop/orders';",
        neighbour.ip
    ));
    assert_eq!(
        neighbour
            .mariadb("SELECT count(*) FROM remote_orders")
            .lines()
            .last(),
        Some("2"),
        "FederatedX connects where the dump was made"
    );
    // A MariaDB dump runs no code at load time but its statements, and the
    // screen refuses those that would reach out or write files, however they
    // are wrapped.
    let federated = neighbour.tampered_mariadb_dump("INSTALL SONAME 'ha_federatedx';", "");
    neighbour.mariadb("DROP TABLE remote_orders;");
    let hidden = neighbour
        .tampered_mariadb_dump("EXECUTE IMMEDIATE 'INSTALL SONAME ''ha_federatedx''';", "");
    let outfile = neighbour.tampered_mariadb_dump(
        "",
        "SELECT 'written by the dump' INTO OUTFILE '/tmp/written-by-the-dump';",
    );
    let plain = neighbour.tampered_mariadb_dump("", "");
    let dumps = [
        ("federated", &federated, false),
        ("hidden", &hidden, false),
        ("outfile", &outfile, false),
        ("plain", &plain, true),
    ];
    let mut jobs = String::new();
    for (job, dump, keep) in dumps {
        let dir = app.path(job);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("shop.sql"), dump).unwrap();
        jobs.push_str(&format!(
            "  - name: JOB({job})\n    engine: mariadb\n    image: {MARIADB_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: {keep}\n",
            dir.display()
        ));
    }
    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 1, "{runs:#?}\n{stderr}");
    for (job, says) in [
        ("federated", "INSTALL/UNINSTALL PLUGIN"),
        ("hidden", "`PREPARE`, `EXECUTE` or `CALL`"),
        ("outfile", "INTO OUTFILE"),
    ] {
        let run = by_job(&runs, &app.job_name(job));
        assert_eq!(run["verdict"], "fail", "{run:#}");
        assert!(reason(run).contains(says), "{job}: {}", reason(run));
    }

    // The kept restore runs whatever people ask of it (a routine the dump
    // left, say). As its superuser, load FederatedX there and point tables at
    // the other container, the host and outside: none connects.
    let run = by_job(&runs, &app.job_name("plain"));
    assert_eq!(run["verdict"], "pass", "{run:#}");
    let kept = &run["kept"];
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(kept["port"].as_u64().unwrap() as u16)
        .user(kept["user"].as_str())
        .pass(kept["password"].as_str())
        .db_name(Some("shop"));
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .expect("the kept restore answers");
    use mysql_async::prelude::Queryable;
    conn.query_drop("INSTALL SONAME 'ha_federatedx'")
        .await
        .unwrap();
    let host_before = host.connections();
    for (i, target) in [
        format!("{}:3306", neighbour.ip),
        host.addr.to_string(),
        OUTSIDE.to_string(),
    ]
    .iter()
    .enumerate()
    {
        let made = conn
            .query_drop(format!(
                "CREATE TABLE probe{i} (id int PRIMARY KEY) ENGINE=FEDERATED \
                 CONNECTION='mysql://root:neighbour-pw@{target}/shop/orders'"
            ))
            .await;
        let err = made
            .expect_err("no connection from the kept restore")
            .to_string();
        assert!(
            err.contains("Can't create federated table"),
            "{target}: {err}"
        );
    }
    conn.disconnect().await.unwrap();
    assert_eq!(
        host.connections(),
        host_before,
        "the host saw no connection"
    );

    let kept_container = kept["container"].as_str().unwrap();
    assert_confined(&docker, kept_container).await;
    only_the_kept_restore_is_left(&app, &docker, kept_container).await;
}

#[tokio::test]
async fn a_dump_cannot_change_how_the_kept_restore_starts_or_who_may_log_in() {
    let docker = require_docker().await;
    let app = App::new("pgconf");
    let neighbour = pg_neighbour(&app);
    // The superuser rewrites the server's configuration from SQL: everyone may
    // log in without a password, and a setting in postgresql.auto.conf (what
    // ALTER SYSTEM writes). A materialized view runs it again when pg_restore
    // refreshes it, in the candidate, whose data directory the kept restore
    // starts from.
    neighbour.psql(
        r#"
CREATE FUNCTION public.reconfigure() RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format('COPY (SELECT unnest(ARRAY[%L, %L])) TO %L',
    'local all all trust', 'host all all all trust', current_setting('hba_file'));
  EXECUTE format('COPY (SELECT %L) TO %L', 'work_mem = ''7777kB''',
    current_setting('data_directory') || '/postgresql.auto.conf');
  PERFORM pg_reload_conf();
  RETURN 'reconfigured ' || current_setting('hba_file');
END
$fn$;
CREATE TABLE public.orders (id int PRIMARY KEY);
INSERT INTO public.orders VALUES (1);
CREATE MATERIALIZED VIEW public.reconfigured AS SELECT public.reconfigure() AS outcome;
"#,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(neighbour.psql("SHOW work_mem").trim(), "7777kB");
    let passwordless = neighbour.exec(
        &[
            "psql",
            "-w",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "shop",
            "-c",
            "SELECT 1",
        ],
        b"",
    );
    assert!(
        passwordless.is_ok(),
        "where the dump was made, anyone logs in: {passwordless:?}"
    );
    let dir = app.path("dumps");
    neighbour.pg_dump_custom(&dir.join("shop.dump"));

    app.write_config(&pg_job(&dir, true, ""));
    let (code, runs, stderr) = app.run_json(&[]);
    let run = &runs[0];
    assert_eq!(code, 0, "{run:#}\n{stderr}");
    let kept = &run["kept"];
    let rows = kept_pg_rows(kept, "SELECT 'outcome', outcome FROM reconfigured").await;
    assert!(
        rows[0].1.starts_with("reconfigured "),
        "the restore ran the function: {rows:?}"
    );
    let settings = kept_pg_rows(kept, "SELECT 'work_mem', current_setting('work_mem')").await;
    assert_eq!(
        settings[0].1, "4MB",
        "the kept restore does not start with the dump's settings"
    );

    use sqlx::Connection;
    let wrong = format!(
        "postgres://postgres:not-the-password@127.0.0.1:{}/shop",
        kept["port"]
    );
    let login = sqlx::PgConnection::connect(&wrong).await;
    assert!(
        login.is_err(),
        "a wrong password does not log in to the kept restore"
    );
    let kept_container = kept["container"].as_str().unwrap();
    assert_confined(&docker, kept_container).await;
}
