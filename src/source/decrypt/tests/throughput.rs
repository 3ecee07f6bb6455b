//! Measurement, not a check: plaintext throughput of age and gpg decryption on
//! a 200 MB stream read from a file, and the test process's peak RSS.
//! Run: `cargo test --lib source::decrypt::tests::throughput -- --ignored --nocapture`.

use std::io::Write;
use std::time::Instant;

use super::*;

const SIZE: usize = 200 * 1024 * 1024;

/// Writes SIZE incompressible bytes (a compressed dump looks like this) in 1 MiB pieces.
fn write_payload(path: &Path) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let piece = payload(1024 * 1024 + 1);
    for i in 0..SIZE / (1024 * 1024) {
        file.write_all(&piece[i % 2..i % 2 + 1024 * 1024]).unwrap();
    }
    file.flush().unwrap();
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Decrypts `cipher` (a file) through a Decrypter, counting plaintext bytes without keeping them.
async fn measure(what: &str, spec: &DecryptSpec, cipher: &Path) {
    let decrypter = Decrypter::new(spec).await.unwrap();
    let raw: RawStream = Box::pin(tokio::fs::File::open(cipher).await.unwrap());
    let start = Instant::now();
    let mut head = [0u8; 64];
    std::io::Read::read_exact(&mut std::fs::File::open(cipher).unwrap(), &mut head).unwrap();
    let kind = detect(&head).unwrap();
    let mut plain = decrypter.decrypt(raw, kind).await.unwrap();
    let n = tokio::io::copy(&mut plain, &mut tokio::io::sink())
        .await
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n as usize, SIZE);
    println!(
        "{what}: {n} bytes in {secs:.2} s = {:.0} MB/s; peak RSS so far {} MiB",
        n as f64 / secs / 1e6,
        peak_rss_kib() / 1024
    );
}

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn decrypting_200_mb() {
    need("age", "apt-get install -y age");
    need("gpg", "apt-get install -y gnupg");
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    write_payload(&plain);
    println!(
        "after writing the payload: peak RSS {} MiB",
        peak_rss_kib() / 1024
    );

    let key = dir.path().join("key.txt");
    run(Command::new("age-keygen").arg("-o").arg(&key));
    let age_file = dir.path().join("plain.age");
    run(Command::new("age")
        .arg("-e")
        .arg("-i")
        .arg(&key)
        .arg("-o")
        .arg(&age_file)
        .arg(&plain));
    measure("age", &DecryptSpec::Age { identity: key }, &age_file).await;

    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    let gpg = || {
        let mut cmd = Command::new("gpg");
        cmd.args(["--batch", "--quiet", "--homedir"])
            .arg(&home)
            .args([
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--trust-model",
                "always",
            ]);
        cmd
    };
    run(gpg().args([
        "--quick-gen-key",
        "M <m@example.invalid>",
        "future-default",
        "default",
        "never",
    ]));
    let gpg_file = dir.path().join("plain.gpg");
    run(gpg()
        .args(["-r", "m@example.invalid", "--output"])
        .arg(&gpg_file)
        .arg("--encrypt")
        .arg(&plain));
    let spec = DecryptSpec::Gpg {
        keyring: Some(home.clone()),
        secret_key: None,
        passphrase: None,
    };
    measure("gpg", &spec, &gpg_file).await;
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .status();
}
