//! A real S3 server for tests: s3s-fs on 127.0.0.1, a free port and a temporary root
//! folder, killed when the guard drops. Buckets are folders under the root, objects are
//! files; LastModified is the file's mtime, so tests can date objects by setting it.
//!
//! The binary is found via `S3S_FS`, then `PATH`, then `~/.cargo/bin`; missing,
//! the test fails naming the command that installs it (`tests/run.sh` does).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How s3s-fs is installed (0.15+ needs a newer Rust than 1.95).
pub const INSTALL: &str = "cargo install s3s-fs --version 0.14.1 --features binary";

pub const ACCESS_KEY: &str = "drillkey";
pub const SECRET_KEY: &str = "drillsecret-not-a-real-one";

/// A running s3s-fs; stopped, and its root removed, on drop.
pub struct S3Server {
    child: Child,
    root: tempfile::TempDir,
    pub port: u16,
    pub endpoint: String,
}

/// The s3s-fs binary, or a panic naming the install command.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("S3S_FS") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("s3s-fs"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/s3s-fs"));
    on_path
        .into_iter()
        .chain(home)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "s3s-fs (a real S3 server) is missing; install it with `{INSTALL}` or set S3S_FS"
            )
        })
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

impl S3Server {
    /// Starts s3s-fs and waits (up to 10 s) until it accepts connections.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        let log = std::fs::File::create(root.path().join("s3s-fs.log")).expect("log file");
        let port = free_port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start s3s-fs ({e}); install it with `{INSTALL}`"));
        let mut server = Self {
            child,
            root,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("s3s-fs exited ({status}) before answering:\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "s3s-fs did not listen on port {} within 10 s:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("s3s-fs.log")).unwrap_or_default()
    }

    /// The folder of `bucket` (buckets are folders under the root).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.path().join("data").join(bucket)
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        std::fs::create_dir_all(self.bucket_dir(bucket)).expect("bucket folder");
    }

    /// Writes an object straight into the server's root, dated `age` ago
    /// (its LastModified), creating the bucket and "folders" as needed.
    pub fn put_file(&self, bucket: &str, key: &str, body: &[u8], age: Duration) -> PathBuf {
        let path = self.bucket_dir(bucket).join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("key folders");
        std::fs::write(&path, body).expect("object file");
        set_age(&path, age);
        path
    }

    /// Stops the server now (the port closes); drop does the same.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets a file's mtime to `age` ago.
pub fn set_age(path: &Path, age: Duration) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open object file");
    f.set_modified(SystemTime::now() - age).expect("set mtime");
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
