//! The candidate is a sandbox. Dumps made with the real tools, whose SQL runs
//! as the database superuser while they load (a materialized view's query
//! starting a program with `COPY ... PROGRAM`, a function a CHECK constraint
//! runs for each row COPY loads, a dblink connection, a FederatedX table,
//! `SELECT ... INTO OUTFILE`), in plain dumps and custom archives, try to reach
//! listeners on this machine's own addresses (the default bridge's gateway and
//! the host's own interface address) and another container: none of them
//! connects, though a container on the default bridge reaches each, and what
//! they write outside the database is not in the kept restore, nor do the
//! PostgreSQL configuration files they rewrite. The database container holds
//! no extra privileges, other containers cannot reach it through its relay,
//! and a run leaves no container or network behind.
//!
//! No probe targets an address outside this machine: the listeners are the
//! test's own, bound on those two addresses only, for the test's length.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use common::*;
use serde_json::Value;

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

/// Runs `ip ARGS` and returns its stdout.
fn ip_cli(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("ip {args:?}: {e}; the test needs iproute2 (apt-get install iproute2)")
    });
    assert!(out.status.success(), "ip {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The IPv4 addresses `ip -4 -o addr show ARGS` lists, with their interface.
fn ipv4_addresses(args: &[&str]) -> Vec<(String, IpAddr)> {
    let mut cmd = vec!["-4", "-o", "addr", "show"];
    cmd.extend_from_slice(args);
    ip_cli(&cmd)
        .lines()
        .filter_map(|line| {
            // "4: eth0    inet 192.0.2.2/24 brd ... scope global eth0 ..."
            let mut words = line.split_whitespace();
            let dev = words.nth(1)?.trim_end_matches(':').to_string();
            let addr = words.skip_while(|w| *w != "inet").nth(1)?;
            Some((dev, addr.split('/').next()?.parse().ok()?))
        })
        .collect()
}

/// The default bridge's gateway: the host as containers on that bridge see
/// it, from `docker network inspect bridge` (its IPAM gateway, or the
/// address of the bridge interface it names when Docker lists none).
fn bridge_gateway() -> IpAddr {
    let listed = docker_cli(
        &[
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{range .IPAM.Config}}{{.Gateway}} {{end}}",
        ],
        None,
    );
    if let Some(ip) = listed.split_whitespace().find_map(|a| a.parse().ok()) {
        return ip;
    }
    let interface = docker_cli(
        &[
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{index .Options \"com.docker.network.bridge.name\"}}",
        ],
        None,
    );
    let interface = interface.trim();
    ipv4_addresses(&["dev", interface])
        .first()
        .map(|(_, ip)| *ip)
        .unwrap_or_else(|| {
            panic!("the default bridge's interface {interface:?} has no IPv4 address")
        })
}

/// This machine's own address on the interface of its default route (or,
/// without one, on any interface but loopback and Docker's bridges): the
/// host as a container reaches it without the bridge's gateway. Read from
/// `ip`, so it is an address of this machine; binding a listener to it proves that again.
fn host_address(gateway: IpAddr) -> IpAddr {
    let route = ip_cli(&["-4", "route", "show", "default"]);
    let default_dev = route
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .map(str::to_string);
    let ours: Vec<(String, IpAddr)> = ipv4_addresses(&["scope", "global"])
        .into_iter()
        .filter(|(dev, ip)| {
            *ip != gateway
                && !ip.is_loopback()
                && !dev.starts_with("docker")
                && !dev.starts_with("br-")
                && !dev.starts_with("veth")
        })
        .collect();
    ours.iter()
        .find(|(dev, _)| Some(dev) == default_dev.as_ref())
        .or(ours.first())
        .map(|(_, ip)| *ip)
        .unwrap_or_else(|| {
            panic!("this machine has no IPv4 address but loopback and Docker's bridges; the test needs one")
        })
}

/// The longest a probe listener stays open, even if its test never ends.
const LISTEN_LIMIT: Duration = Duration::from_secs(15 * 60);

/// A TCP listener the test starts on one of this machine's own addresses,
/// that records who connects; closed when dropped (or after [`LISTEN_LIMIT`]).
struct HostListener {
    addr: SocketAddr,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostListener {
    /// Listens on `ip` only, on a port of the system's choosing.
    fn start(ip: IpAddr) -> Self {
        let listener = std::net::TcpListener::bind((ip, 0)).unwrap_or_else(|e| {
            panic!("bind a probe listener on this machine's address {ip}: {e}")
        });
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let peers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peers.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let until = std::time::Instant::now() + LISTEN_LIMIT;
            while !s.load(Ordering::SeqCst) && std::time::Instant::now() < until {
                match listener.accept() {
                    Ok((_, peer)) => p.lock().unwrap().push(peer),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Self {
            addr,
            peers,
            stop,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> usize {
        self.peers.lock().unwrap().len()
    }

    /// Who connected so far.
    fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().unwrap().clone()
    }

    /// Whether a connection from `ip` is accepted within 5 s.
    fn heard_from(&self, ip: &str) -> bool {
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < until {
            if self.peers().iter().any(|p| p.ip().to_string() == ip) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for HostListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The probe listeners on this machine's own addresses: the default
/// bridge's gateway, and the host's interface address.
struct Probes {
    gateway: HostListener,
    host: HostListener,
}

impl Probes {
    fn start() -> Self {
        let gateway = bridge_gateway();
        let host = host_address(gateway);
        Self {
            gateway: HostListener::start(gateway),
            host: HostListener::start(host),
        }
    }

    /// (name, address) of each listener.
    fn targets(&self) -> [(&'static str, SocketAddr); 2] {
        [("gateway", self.gateway.addr), ("host", self.host.addr)]
    }

    fn connections(&self) -> usize {
        self.gateway.connections() + self.host.connections()
    }

    /// The control: `from`, a container on the default bridge, reaches both
    /// listeners, so a probe that does not connect from the sandbox was
    /// stopped by the sandbox, not by the network.
    fn assert_reached_from(&self, from: &Neighbour) {
        for (name, addr) in self.targets() {
            assert!(
                from.reaches(addr),
                "a container on the default bridge connects to the {name} listener {addr}"
            );
        }
        for listener in [&self.gateway, &self.host] {
            assert!(
                listener.heard_from(&from.ip),
                "the listener {} heard from {}: {:?}",
                listener.addr,
                from.ip,
                listener.peers()
            );
        }
    }
}

/// A container the test starts itself on Docker's default bridge, where
/// containers are by default: the dump's source database, and the
/// "other container" the dump tries to reach. Removed when dropped.
struct Neighbour {
    name: String,
    ip: String,
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
        let ip = docker_cli(
            &[
                "inspect",
                &name,
                "--format",
                "{{.NetworkSettings.IPAddress}}",
            ],
            None,
        );
        Self {
            ip: ip.trim().to_string(),
            name,
        }
    }

    /// Whether a TCP connection from this container to `addr` opens within 8 s.
    fn reaches(&self, addr: SocketAddr) -> bool {
        let open = format!("exec 3<>/dev/tcp/{}/{}", addr.ip(), addr.port());
        self.exec(&["timeout", "8", "bash", "-c", &open], b"")
            .is_ok()
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
        self.pg_dump(&["-Fc"], path);
    }

    /// `pg_dump ARGS` of the neighbour's `shop` database, written to `path`.
    fn pg_dump(&self, args: &[&str], path: &std::path::Path) {
        let mut cmd = vec![
            "env",
            "PGPASSWORD=neighbour-pw",
            "pg_dump",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "shop",
            "-f",
            "/tmp/shop.dump",
        ];
        cmd.extend_from_slice(args);
        self.exec(&cmd, b"")
            .unwrap_or_else(|e| panic!("pg_dump: {e}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, self.file("/tmp/shop.dump")).unwrap();
    }

    /// How many connections the neighbour's PostgreSQL has received so far.
    fn pg_connections_received(&self) -> usize {
        self.log().matches("connection received:").count()
    }
}

/// A database whose code tries, for each target, to open a TCP connection
/// (bash's /dev/tcp, started by `COPY ... FROM PROGRAM` in `probe`) and
/// records what happened: its materialized view `probes`, and the CHECK
/// constraint of `checked`, which runs for each row COPY loads into it and
/// writes the outcome to `check_log` (whose rows the dumps leave out, so
/// that what it holds after a restore was written by the restore). Its view
/// `files` writes files outside the database (`COPY ... TO PROGRAM`, `COPY
/// ... TO` a server file) and lists them. pg_dump writes `REFRESH
/// MATERIALIZED VIEW` into the dump, so the restore runs both views' queries
/// again, as the superuser, in the candidate (in parallel with pg_restore:
/// each caller has a table of its own for its program's output). The code is
/// in function bodies, which the screen of plain dumps does not read.
fn probing_database(targets: &[(&str, String)]) -> String {
    let values: Vec<String> = targets
        .iter()
        .map(|(name, addr)| format!("('{name}', '{addr}')"))
        .collect();
    format!(
        r#"
CREATE TABLE public.probe_output (line text);
CREATE TABLE public.check_output (line text);
CREATE TABLE public.files_output (line text);
CREATE FUNCTION public.probe(target text, output text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE result text;
BEGIN
  EXECUTE format('DELETE FROM %s', output);
  EXECUTE format('COPY %s FROM PROGRAM %L', output,
    format($sh$bash -c 'if timeout 8 bash -c "exec 3<>/dev/tcp/%s/%s" 2>/tmp/probe.err; then echo connected; else echo "cannot connect: $(tail -n1 /tmp/probe.err)"; fi'$sh$,
      split_part(target, ':', 1), split_part(target, ':', 2)));
  EXECUTE format('SELECT string_agg(line, %L) FROM %s', ' ', output) INTO result;
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
CREATE MATERIALIZED VIEW public.probes AS SELECT name, addr, public.probe(addr, 'public.probe_output') AS outcome FROM public.targets;
CREATE MATERIALIZED VIEW public.files AS SELECT public.leave_files() AS listing;
CREATE TABLE public.check_log (name text, outcome text);
CREATE FUNCTION public.probe_in_check(name text, addr text) RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO public.check_log VALUES (name, public.probe(addr, 'public.check_output'));
  RETURN true;
END
$fn$;
CREATE TABLE public.checked (name text, addr text, CHECK (public.probe_in_check(name, addr)));
INSERT INTO public.checked SELECT name, addr FROM public.targets;
"#,
        values = values.join(", ")
    )
}

/// What the dumps leave out: the rows the CHECK logged, and its program's output.
const PROBE_DUMP_ARGS: &[&str] = &[
    "--exclude-table-data=public.check_log",
    "--exclude-table-data=public.check_output",
];

const FILES_WRITTEN: &str =
    "/tmp/copied-by-the-dump /tmp/written-by-the-dump /var/run/postgresql/written-by-the-dump";

fn pg_job(dir: &std::path::Path, keep: bool, extra: &str) -> String {
    pg_job_named("probe", dir, keep, extra)
}

fn pg_job_named(job: &str, dir: &std::path::Path, keep: bool, extra: &str) -> String {
    format!(
        "  - name: JOB({job})\n    engine: postgres\n    image: {PG_IMAGE}\n    source: {{ type: local, settle: 0s, path: {} }}\n    database: shop\n    keep: {keep}\n{extra}",
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

/// Nothing of `app` but the kept restores, their relays and their networks is left.
async fn only_the_kept_restores_are_left(app: &App, docker: &Docker, kept: &[&str]) {
    let mut containers = app.containers(docker).await;
    containers.sort();
    let mut expected: Vec<(String, String)> = kept
        .iter()
        .map(|k| (k.to_string(), "kept".to_string()))
        .collect();
    expected.sort();
    assert_eq!(containers, expected);
    let mut relays = app.relays(docker).await;
    relays.sort();
    let mut expected: Vec<String> = kept.iter().map(|k| format!("{k}-relay")).collect();
    expected.sort();
    assert_eq!(relays, expected);
    let mut networks = app.networks(docker).await;
    networks.sort();
    let mut expected: Vec<String> = kept.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(networks, expected);
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

/// Each probe's outcome in a database made by [`probing_database`]: by the
/// materialized view (`view NAME`) and by the CHECK during COPY (`check NAME`).
const PROBE_OUTCOMES: &str = "SELECT 'view ' || name, outcome FROM probes \
     UNION ALL SELECT 'check ' || name, outcome FROM check_log ORDER BY 1";

#[tokio::test]
async fn postgres_dumps_cannot_reach_this_machine_or_another_container_and_their_files_do_not_survive()
 {
    let docker = require_docker().await;
    let app = App::new("pgprobe");
    let neighbour = pg_neighbour(&app);
    let probes = Probes::start();
    probes.assert_reached_from(&neighbour);
    let mut targets: Vec<(&str, String)> = probes
        .targets()
        .iter()
        .map(|(name, addr)| (*name, addr.to_string()))
        .collect();
    targets.push(("container", format!("{}:5432", neighbour.ip)));

    // Made with the real tools: the objects in a real database, then pg_dump,
    // as a custom archive and as a plain dump.
    neighbour.psql(&probing_database(&targets));
    let control = neighbour.psql(&format!(
        "SELECT string_agg(o.p || '=' || o.outcome, E'\\n') FROM ({PROBE_OUTCOMES}) AS o(p, outcome)"
    ));
    eprintln!("outside the sandbox, where the dumps were made:\n{control}");
    for (target, _) in &targets {
        for via in ["view", "check"] {
            assert!(
                control.contains(&format!("{via} {target}=connected")),
                "the probe works where nothing confines it: {control}"
            );
        }
    }
    assert_eq!(
        neighbour.psql("SELECT listing FROM files").trim(),
        FILES_WRITTEN
    );
    let dumps = [
        ("archive", "shop.dump", "-Fc"),
        ("plain", "shop.sql", "-Fp"),
    ];
    let mut jobs = String::new();
    for (job, file, format) in dumps {
        let dir = app.path(job);
        let mut args = vec![format];
        args.extend_from_slice(PROBE_DUMP_ARGS);
        neighbour.pg_dump(&args, &dir.join(file));
        jobs.push_str(&pg_job_named(
            job,
            &dir,
            true,
            "    assertions:\n      - sql:\n          name: no probe connected\n          query: SELECT count(*) FROM probes WHERE outcome = 'connected'\n          equals: 0\n      - sql:\n          name: no CHECK connected\n          query: SELECT count(*) FROM check_log WHERE outcome = 'connected'\n          equals: 0\n",
        ));
    }
    let probes_before = probes.connections();
    let neighbour_before = neighbour.pg_connections_received();

    app.write_config(&jobs);
    let (code, runs, stderr) = app.run_json(&[]);
    assert_eq!(code, 0, "{runs:#?}\n{stderr}");

    let mut kept_containers = Vec::new();
    for (job, _, _) in dumps {
        let run = by_job(&runs, &app.job_name(job));
        assert_eq!(run["verdict"], "pass", "{job}: {run:#}");
        // The restore ran the probes, as the superuser, and none connected:
        // not the view's, nor the CHECK's during COPY.
        let kept = &run["kept"];
        let outcomes = kept_pg_rows(kept, PROBE_OUTCOMES).await;
        assert_eq!(outcomes.len(), 2 * targets.len(), "{job}: {outcomes:?}");
        for (target, outcome) in &outcomes {
            assert!(
                outcome.starts_with("cannot connect:"),
                "{job}: {target}: {outcome}"
            );
        }

        // The restore wrote its files (it lists them), but they are not in the kept restore.
        let files = kept_pg_rows(kept, "SELECT 'files', listing FROM files").await;
        assert_eq!(files[0].1, FILES_WRITTEN, "{job}");
        let kept_container = kept["container"].as_str().unwrap().to_string();
        for path in FILES_WRITTEN.split(' ') {
            let out = Command::new("docker")
                .args(["exec", &kept_container, "test", "-e", path])
                .output()
                .unwrap();
            assert!(
                !out.status.success(),
                "{job}: {path} written while the dump loaded is not in the kept restore"
            );
        }
        assert_confined(&docker, &kept_container).await;
        kept_containers.push(kept_container);
    }
    assert_eq!(
        probes.connections(),
        probes_before,
        "the listeners on this machine saw no connection from the restores"
    );
    assert_eq!(
        neighbour.pg_connections_received(),
        neighbour_before,
        "the other container saw no connection from the restores"
    );

    let kept = &by_job(&runs, &app.job_name("archive"))["kept"];
    let kept_container = kept["container"].as_str().unwrap();
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

    let kept: Vec<&str> = kept_containers.iter().map(String::as_str).collect();
    only_the_kept_restores_are_left(&app, &docker, &kept).await;
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
    let probes = Probes::start();
    probes.assert_reached_from(&neighbour);
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
    // the other container and this machine's own addresses: none connects.
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
    let probes_before = probes.connections();
    let targets = [
        format!("{}:3306", neighbour.ip),
        probes.gateway.addr.to_string(),
        probes.host.addr.to_string(),
    ];
    for (i, target) in targets.iter().enumerate() {
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
        probes.connections(),
        probes_before,
        "this machine saw no connection"
    );

    let kept_container = kept["container"].as_str().unwrap();
    assert_confined(&docker, kept_container).await;
    only_the_kept_restores_are_left(&app, &docker, &[kept_container]).await;
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
