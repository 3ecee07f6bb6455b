//! A second Docker engine that a test starts, stops and starts again itself:
//! its own `dockerd` (and the containerd it runs) on its own socket, data
//! root and exec root under a temporary folder, in a network namespace of its
//! own, so a test can take an engine away without touching the machine's own.
//! Needs root, Debian's `docker.io`, `ip` (iproute2) and `nsenter`
//! (util-linux).
//!
//! The namespace matters: dockerd 20.10 started again on its data root deletes
//! the `docker0` bridge it finds, and in the host's namespace that is the
//! machine engine's bridge. In its own namespace the engine has its own
//! `docker0` and iptables, and the host's are never touched (start-up checks
//! that the host's `docker0` is still there). The namespace reaches the host
//! through a veth pair: [`TestEngine::addr`] is the namespace's side, where a
//! process started with [`TestEngine::prefix`] (the daemon under test) listens
//! for the test. The engine's socket is a file, so `docker -H` works from the
//! host. dockerd runs under `nsenter --net` rather than `ip netns exec`, which
//! would also remount `/sys` and hide the cgroup mounts dockerd needs.
//!
//! Dropping it stops the engine (killing it if it hangs), unmounts what it
//! left mounted, removes its folder, its namespace and its veth pair: on every
//! path, panics included.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;

/// How long the engine may take to start or stop before the test gives up.
const LIMIT: Duration = Duration::from_secs(60);

pub struct TestEngine {
    dir: tempfile::TempDir,
    /// `unix:///…/docker.sock`, for DOCKER_HOST or `docker -H`.
    pub host: String,
    /// The engine's network namespace (`ip netns`), named `rde…`.
    netns: String,
    /// The namespace's address on its veth pair, reachable from the host.
    pub addr: String,
    args: Vec<String>,
    child: Option<Child>,
}

impl TestEngine {
    /// Starts the engine and loads `images` into it from the machine's engine.
    pub async fn start(images: &[&str]) -> Self {
        preconditions();
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let dir = tempfile::Builder::new()
            .prefix("rde")
            .tempdir_in("/tmp")
            .expect("temporary folder for the test engine");
        let netns = format!("rde{}x{n}", pid % 1_000_000);
        let subnet = (pid.wrapping_mul(7) + n) % 250 + 1;
        let mut engine = Self {
            host: format!("unix://{}", dir.path().join("docker.sock").display()),
            addr: format!("10.233.{subnet}.2"),
            args: Vec::new(),
            dir,
            netns,
            child: None,
        };
        // From here on, Drop removes whatever part of the namespace exists.
        engine.make_netns(subnet);
        engine.args = engine.dockerd_args();
        engine.start_again().await;
        for image in images {
            engine.load(image);
        }
        engine
    }

    /// The namespace with its loopback up and a veth pair to the host.
    fn make_netns(&self, subnet: u32) {
        let (ns, outer, inner) = (&self.netns, self.outer_link(), format!("{}n", self.netns));
        sh(&format!("ip netns add {ns}"));
        sh(&format!("ip netns exec {ns} ip link set lo up"));
        sh(&format!("ip link add {outer} type veth peer name {inner}"));
        sh(&format!("ip link set {inner} netns {ns}"));
        sh(&format!("ip addr add 10.233.{subnet}.1/30 dev {outer}"));
        sh(&format!("ip link set {outer} up"));
        sh(&format!(
            "ip netns exec {ns} ip addr add {}/30 dev {inner}",
            self.addr
        ));
        sh(&format!("ip netns exec {ns} ip link set {inner} up"));
    }

    /// The host's end of the veth pair.
    fn outer_link(&self) -> String {
        format!("{}h", self.netns)
    }

    /// The command that runs a program in the engine's network namespace
    /// (and only there: mounts and the rest stay the host's).
    pub fn prefix(&self) -> Vec<String> {
        vec!["nsenter".into(), format!("--net=/run/netns/{}", self.netns)]
    }

    fn dockerd_args(&self) -> Vec<String> {
        let d = self.dir.path();
        std::fs::write(d.join("daemon.json"), "{}").unwrap();
        let driver = machine_storage_driver();
        [
            format!("--config-file={}", d.join("daemon.json").display()),
            format!("--host={}", self.host),
            format!("--data-root={}", d.join("root").display()),
            format!("--exec-root={}", d.join("exec").display()),
            format!("--pidfile={}", d.join("docker.pid").display()),
            format!("--storage-driver={driver}"),
        ]
        .into()
    }

    /// Starts the (stopped) engine on its same folders and waits until it answers.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the test engine is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .arg("dockerd")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start dockerd (apt-get install docker.io util-linux)");
        self.child = Some(child);
        let had_docker0 = host_docker0();
        let started = Instant::now();
        // The client wants the socket to exist already.
        while !self.answers().await {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the test engine exited ({status}) at start-up; its log:\n{}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < LIMIT,
                "the test engine did not answer within {LIMIT:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            host_docker0(),
            had_docker0,
            "the test engine changed the host's docker0 bridge; its log:\n{}",
            self.log()
        );
    }
    /// Stops the engine as an upgrade does (SIGTERM) and waits until it is gone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the test engine did not stop within {LIMIT:?}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    async fn answers(&self) -> bool {
        match Docker::connect_with_host(&self.host) {
            Ok(d) => d.ping().await.is_ok(),
            Err(_) => false,
        }
    }

    /// A client of this engine.
    pub fn docker(&self) -> Docker {
        Docker::connect_with_host(&self.host).expect("a client of the test engine")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("dockerd.log")
    }

    /// `docker save IMAGE | docker -H ENGINE load`.
    fn load(&self, image: &str) {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; docker save {image} | docker -H {} load",
                self.host
            ))
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "could not load {image} into the test engine ({}); build it with `docker/build-images.sh`",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Unmounts whatever the engine left mounted under its folder.
    fn unmount_leftovers(dir: &Path) {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let prefix = dir.display().to_string();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).status();
        }
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none() && started.elapsed() < LIMIT {
                std::thread::sleep(Duration::from_millis(100));
            }
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
                // The containerd a killed engine ran, by the pid it recorded.
                let pidfile = self.dir.path().join("exec/containerd/containerd.pid");
                if let Ok(pid) = std::fs::read_to_string(pidfile) {
                    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
                }
            }
        }
        Self::unmount_leftovers(self.dir.path());
        if let Err(e) = std::fs::remove_dir_all(self.dir.path()) {
            eprintln!("could not remove the test engine's folder: {e}");
        }
        // Deleting the namespace takes its end of the veth pair along; the
        // host's end goes explicitly, in case the namespace was never made.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.outer_link()])
            .output();
    }
}

/// Fails loudly, with what fixes it, where a second engine cannot run.
fn preconditions() {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "starting a second Docker engine needs root: run these tests as root"
    );
    let found = Command::new("dockerd").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "dockerd is missing: `apt-get install docker.io`"
    );
    for (tool, package) in [("nsenter", "util-linux"), ("ip", "iproute2")] {
        let found = Command::new(tool).arg("-V").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "{tool} is missing: `apt-get install {package}`"
        );
    }
}

/// The machine engine's storage driver, which is known to work here.
fn machine_storage_driver() -> String {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.Driver}}"])
        .output()
        .expect("docker info");
    let driver = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !driver.is_empty(),
        "the machine's Docker engine does not answer `docker info`; start it, e.g. `service docker start`"
    );
    driver
}

/// The host's `docker0` bridge with its addresses (`ip -br addr`), if any.
fn host_docker0() -> Option<String> {
    let out = Command::new("ip")
        .args(["-br", "addr", "show", "docker0"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn sh(cmd: &str) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
