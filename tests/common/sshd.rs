//! A real OpenSSH server for tests: Debian's `/usr/sbin/sshd` on 127.0.0.1,
//! with a fresh ed25519 host key and user key in a temporary folder, public
//! key login only, `internal-sftp`, and a known_hosts line for its port.
//! The guard kills sshd (and any session it forked) when dropped. It does not
//! serve anything but SFTP/ssh logins as the current user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd; dropped, it is killed.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The login user: whoever runs the tests.
    pub user: String,
    /// The user's private key, authorised on this server.
    pub key_file: PathBuf,
    /// A known_hosts file holding this server's host key for `[127.0.0.1]:port`.
    pub known_hosts: PathBuf,
    child: Child,
}

impl Sshd {
    /// Starts sshd and waits until it answers with its SSH banner.
    pub fn start() -> Self {
        if !Path::new(SSHD).exists() {
            panic!("{SSHD} is missing: install it with `apt-get install -y openssh-server`");
        }
        let mut dir = tempfile::tempdir().expect("tempdir");
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("user_key"));
        std::fs::copy(
            dir.path().join("user_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        let user = run("id", &["-un"]);
        if run("id", &["-u"]) == "0" {
            // sshd started as root insists on its privilege separation folder
            // (what the Debian service's RuntimeDirectory makes).
            std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        }
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let config = write_config(dir.path());
            let log = dir.path().join("sshd.log");
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .args(["-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("sshd log"))
                .spawn()
                .expect("spawn sshd");
            let known_hosts = dir.path().join("known_hosts");
            let host_pub = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
            std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_pub}")).unwrap();
            let mut sshd = Sshd {
                key_file: dir.path().join("user_key"),
                known_hosts,
                dir,
                port,
                user: user.clone(),
                child,
            };
            if sshd.wait_ready() {
                return sshd;
            }
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
            // The port was taken in between: try another one.
            let _ = sshd.child.kill();
            let _ = sshd.child.wait();
            dir = take_dir(sshd);
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    /// A folder on the "remote" side (the same machine) to put dumps in.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Another key pair, not authorised on this server.
    pub fn stranger_key(&self) -> PathBuf {
        let path = self.dir.path().join("stranger_key");
        if !path.exists() {
            keygen(&path);
        }
        path
    }

    /// Kills the sessions sshd forked (the connections), leaving the listener:
    /// a connection that drops mid-transfer.
    pub fn kill_sessions(&self) {
        for pid in descendants(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }

    fn wait_ready(&mut self) -> bool {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
            if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 8];
                if s.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-2.0") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_sessions();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Moves the temp dir out of a failed guard (whose Drop then only kills).
fn take_dir(mut sshd: Sshd) -> tempfile::TempDir {
    let empty = tempfile::tempdir().expect("tempdir");
    std::mem::replace(&mut sshd.dir, empty)
}

fn write_config(dir: &Path) -> PathBuf {
    let d = dir.display();
    let config = format!(
        "ListenAddress 127.0.0.1\n\
         HostKey {d}/host_key\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         StrictModes no\n\
         UsePAM no\n\
         UseDNS no\n\
         PidFile {d}/sshd.pid\n\
         Subsystem sftp internal-sftp\n"
    );
    let path = dir.join("sshd_config");
    std::fs::write(&path, config).expect("sshd_config");
    path
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen: install it with `apt-get install -y openssh-client`");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().unwrap().port()
}

/// Processes whose parent is `pid`, then theirs, and so on.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for (child, _) in children(parent) {
            found.push(child);
            parents.push(child);
        }
    }
    found
}

/// `(pid, comm)` of the processes whose parent is `pid`, from /proc.
pub fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{child}/status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        if field("PPid:").and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push((child, field("Name:").unwrap_or_default()));
        }
    }
    out
}
