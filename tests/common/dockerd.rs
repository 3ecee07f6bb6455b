//! A second Docker engine that a test starts, stops and starts again itself:
//! its own `dockerd` (and the containerd it runs) on its own socket, data
//! root, exec root and bridge under a temporary folder, so a test can take an
//! engine away without touching the machine's own. Needs root and Debian's
//! `docker.io`. Dropping it stops the engine (killing it if it hangs),
//! unmounts what it left mounted, removes its folder and its bridge: on every
//! path, panics included.
//!
//! Caution: dockerd 20.10 started again on its data root deletes the host's
//! `docker0` bridge, which the machine's engine uses; [`TestEngine::start_again`]
//! makes it again (with this machine's 172.17.0.1/16, MTU 1400), but containers
//! already on it lose their network. Run tests that restart it on a machine of
//! their own.

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
    bridge: String,
    /// The host's FORWARD rule letting this engine's containers talk to each other.
    forward: Option<String>,
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
        let bridge = format!("rde{}x{n}", pid % 1_000_000);
        let subnet = (pid.wrapping_mul(7) + n) % 200 + 20;
        sh(&format!("ip link add {bridge} type bridge"));
        let mut engine = Self {
            host: format!("unix://{}", dir.path().join("docker.sock").display()),
            args: Vec::new(),
            dir,
            bridge: bridge.clone(),
            forward: None,
            child: None,
        };
        sh(&format!("ip addr add 10.231.{subnet}.1/24 dev {bridge}"));
        sh(&format!("ip link set {bridge} up"));
        // This engine adds no iptables rules (they are the machine engine's),
        // and the host's FORWARD policy drops what bridges pass between
        // containers: its networks (the pool below) may talk among themselves.
        let rule = format!("FORWARD -s 10.232.{subnet}.0/24 -d 10.232.{subnet}.0/24 -j ACCEPT");
        sh(&format!("iptables -I {rule}"));
        engine.forward = Some(rule);
        engine.args = engine.dockerd_args(subnet);
        engine.start_again().await;
        for image in images {
            engine.load(image);
        }
        engine
    }

    fn dockerd_args(&self, subnet: u32) -> Vec<String> {
        let d = self.dir.path();
        std::fs::write(d.join("daemon.json"), "{}").unwrap();
        let driver = machine_storage_driver();
        [
            format!("--config-file={}", d.join("daemon.json").display()),
            format!("--host={}", self.host),
            format!("--data-root={}", d.join("root").display()),
            format!("--exec-root={}", d.join("exec").display()),
            format!("--pidfile={}", d.join("docker.pid").display()),
            format!("--bridge={}", self.bridge),
            format!("--default-address-pool=base=10.232.{subnet}.0/24,size=28"),
            "--iptables=false".into(),
            "--ip-masq=false".into(),
            "--ip-forward=false".into(),
            format!("--storage-driver={driver}"),
            "--mtu=1400".into(),
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
        let child = Command::new("dockerd")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start dockerd (apt-get install docker.io)");
        self.child = Some(child);
        let had_docker0 = link_exists("docker0");
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
        // dockerd 20.10, started again on its data root, deletes the host's
        // `docker0` (the machine engine's bridge) while it clears its stale
        // default network. Put it back; containers already on it stay cut off.
        if had_docker0 && !link_exists("docker0") {
            eprintln!("the test engine deleted the host's docker0 bridge; making it again");
            sh(
                "ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0 \
                && ip link set docker0 mtu 1400 && ip link set docker0 up",
            );
        }
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
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        if let Some(rule) = &self.forward {
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("iptables -D {rule}"))
                .status();
        }
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

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sh(cmd: &str) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
