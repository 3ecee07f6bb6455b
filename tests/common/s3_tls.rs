//! A real S3 server behind TLS, in a container on a Docker network the
//! test makes: s3s-fs (bind-mounted from the host) on the container's
//! loopback, and stunnel in front of it with a certificate made for the
//! network alias [`HOST`]. pgBackRest reaches S3 over HTTPS only; the
//! fetch container of a job joins the network through `fetch_network`.
//! The container and the network are removed when the guard drops.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::s3::{ACCESS_KEY, SECRET_KEY, binary};

/// The image: Debian's stunnel on the local base image.
pub const IMAGE: &str = "restoredrill/s3-tls:test";
/// The endpoint's name on the test's network (and in its certificate).
pub const HOST: &str = "s3.restoredrill.test";
/// stunnel's port (not 443, so the job's endpoint carries a port).
pub const PORT: u16 = 8443;

pub struct S3TlsServer {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub network: String,
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI")
}

fn ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl S3TlsServer {
    /// Builds the image if needed (Docker's cache makes it quick after the
    /// first time), makes the certificate, the network and the container,
    /// and waits (up to 30 s) until stunnel accepts connections.
    pub fn start(tag: &str) -> Self {
        let image_dir = super::repo().join("docker/s3-tls");
        let out = docker(&["build", "-q", "-t", IMAGE, &image_dir.to_string_lossy()]);
        assert!(
            out.status.success(),
            "cannot build {IMAGE} (`docker build -t {IMAGE} docker/s3-tls`; it needs the local \
             base image from docker/build-images.sh and the Debian mirror): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        let openssl = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", &format!("/CN={HOST}")])
            .args(["-addext", &format!("subjectAltName=DNS:{HOST}")])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .output()
            .expect("openssl is needed (tests/run.sh installs it)");
        assert!(
            openssl.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&openssl.stderr)
        );
        std::fs::write(
            dir.path().join("stunnel.conf"),
            format!(
                "foreground = yes\npid =\n[s3]\naccept = {PORT}\nconnect = 127.0.0.1:9000\n\
                 cert = /srv/cert.pem\nkey = /srv/key.pem\n"
            ),
        )
        .expect("stunnel.conf");
        let name = format!("restoredrill-test-s3tls-{tag}");
        let network = format!("{name}-net");
        let _ = docker(&["rm", "-f", &name]);
        let _ = docker(&["network", "rm", &network]);
        ok(&["network", "create", &network]);
        let server = Self {
            dir,
            name: name.clone(),
            network: network.clone(),
        };
        let script = format!(
            "s3s-fs --host 127.0.0.1 --port 9000 --access-key {ACCESS_KEY} --secret-key {SECRET_KEY} \
             /srv/data & exec stunnel /srv/stunnel.conf"
        );
        ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &network,
            "--network-alias",
            HOST,
            "-v",
            &format!("{}:/usr/local/bin/s3s-fs:ro", binary().display()),
            "-v",
            &format!("{}:/srv", server.dir.path().display()),
            "--entrypoint",
            "sh",
            IMAGE,
            "-c",
            &script,
        ]);
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let probe = format!("echo >/dev/tcp/127.0.0.1/{PORT} && echo >/dev/tcp/127.0.0.1/9000");
        loop {
            if docker(&["exec", &self.name, "bash", "-c", &probe])
                .status
                .success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the S3 server behind TLS did not listen within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What s3s-fs and stunnel logged.
    pub fn log(&self) -> String {
        let out = docker(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// The folder of `bucket`, made if absent (buckets are folders).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        let d = self.dir.path().join("data").join(bucket);
        std::fs::create_dir_all(&d).expect("bucket dir");
        d
    }

    /// The certificate the endpoint presents (self-signed: its own CA).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The job's endpoint.
    pub fn endpoint() -> String {
        format!("https://{HOST}:{PORT}")
    }

    /// Stops the server (the container stays until drop): the repository
    /// can no longer be reached.
    pub fn stop(&self) {
        ok(&["stop", "-t", "1", &self.name]);
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for S3TlsServer {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
        let _ = docker(&["network", "rm", &self.network]);
    }
}
