//! gpg: keys generated and files encrypted by the system `gpg` in temporary homes.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::vocab::Secret;

const UID: &str = "Restoredrill Drill <drill@example.invalid>";

/// A key pair in its own temporary GNUPGHOME, like a backup host's.
struct GpgKey {
    home: tempfile::TempDir,
    passphrase: &'static str,
}

impl GpgKey {
    fn new(passphrase: &'static str) -> Self {
        need("gpg", "apt-get install -y gnupg");
        let home = tempfile::Builder::new()
            .prefix("drill-gpg-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let key = Self { home, passphrase };
        run(key
            .gpg()
            .args(["--quick-gen-key", UID, "future-default", "default", "never"]));
        key
    }

    fn gpg(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.args(["--batch", "--no-tty", "--quiet", "--homedir"])
            .arg(self.home.path())
            .args([
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                self.passphrase,
            ]);
        cmd
    }

    /// `gpg --export-secret-keys` into a file (what a restore host is given).
    fn exported_secret_key(&self) -> PathBuf {
        let out = self.home.path().join("exported-secret.asc");
        run(self
            .gpg()
            .args(["--armor", "--output"])
            .arg(&out)
            .args(["--export-secret-keys", UID]));
        out
    }

    fn exported_public_key(&self) -> PathBuf {
        let out = self.home.path().join("exported-public.asc");
        run(self
            .gpg()
            .args(["--armor", "--output"])
            .arg(&out)
            .args(["--export", UID]));
        out
    }

    /// `plaintext` encrypted to this key (`--armor`: armored).
    fn encrypt(&self, plaintext: &[u8], armor: bool) -> Vec<u8> {
        let input = self.home.path().join("plain");
        let output = self.home.path().join("cipher");
        let _ = std::fs::remove_file(&output);
        std::fs::write(&input, plaintext).unwrap();
        let mut cmd = self.gpg();
        cmd.args(["--trust-model", "always", "--recipient", UID]);
        if armor {
            cmd.arg("--armor");
        }
        run(cmd
            .arg("--output")
            .arg(&output)
            .arg("--encrypt")
            .arg(&input));
        std::fs::read(&output).unwrap()
    }

    fn with_secret_key(&self, passphrase: Option<&str>) -> DecryptSpec {
        DecryptSpec::Gpg {
            keyring: None,
            secret_key: Some(self.exported_secret_key()),
            passphrase: passphrase.map(Secret::new),
        }
    }
}

impl Drop for GpgKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .status();
    }
}

/// gpg-agent processes started for `home`.
fn agents_for(home: &Path) -> Vec<String> {
    let ps = run(Command::new("ps").args(["-eo", "args"]));
    String::from_utf8_lossy(&ps)
        .lines()
        .filter(|l| l.contains("gpg-agent") && l.contains(&*home.to_string_lossy()))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn an_imported_secret_key_decrypts_a_multi_megabyte_dump_exactly() {
    let key = GpgKey::new("");
    let plain = payload(5 * 1024 * 1024 + 7);
    let cipher = key.encrypt(&plain, false);
    assert_eq!(detect(&cipher), Some(Encryption::Gpg));
    let got = decrypt_with(&key.with_secret_key(None), cipher)
        .await
        .unwrap()
        .unwrap();
    assert!(
        got == plain,
        "decrypted {} bytes, expected {}",
        got.len(),
        plain.len()
    );
}

#[tokio::test]
async fn a_dump_signed_by_a_key_the_restore_host_lacks_still_decrypts() {
    let key = GpgKey::new("");
    let signer = "Backup Host <signer@example.invalid>";
    run(key.gpg().args([
        "--quick-gen-key",
        signer,
        "future-default",
        "default",
        "never",
    ]));
    let plain = payload(256 * 1024);
    let (input, output) = (
        key.home.path().join("plain"),
        key.home.path().join("signed"),
    );
    std::fs::write(&input, &plain).unwrap();
    run(key
        .gpg()
        .args([
            "--trust-model",
            "always",
            "--recipient",
            UID,
            "--local-user",
            signer,
        ])
        .arg("--output")
        .arg(&output)
        .args(["--sign", "--encrypt"])
        .arg(&input));
    // Only the recipient's secret key reaches the decrypter, not the signer's public key.
    let cipher = std::fs::read(&output).unwrap();
    let got = decrypt_with(&key.with_secret_key(None), cipher)
        .await
        .unwrap()
        .unwrap();
    assert!(got == plain, "decrypted {} bytes", got.len());
}

#[tokio::test]
async fn a_keyring_decrypts_an_armored_dump() {
    let key = GpgKey::new("");
    let plain = payload(700 * 1024);
    let cipher = key.encrypt(&plain, true);
    assert!(cipher.starts_with(b"-----BEGIN PGP MESSAGE-----"));
    let spec = DecryptSpec::Gpg {
        keyring: Some(key.home.path().to_owned()),
        secret_key: None,
        passphrase: None,
    };
    let got = decrypt_with(&spec, cipher).await.unwrap().unwrap();
    assert!(got == plain);
}

#[tokio::test]
async fn another_key_ends_the_stream_with_no_secret_key() {
    let (key, other) = (GpgKey::new(""), GpgKey::new(""));
    let cipher = key.encrypt(b"secret rows", false);
    let err = decrypt_with(&other.with_secret_key(None), cipher)
        .await
        .unwrap()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("gpg could not decrypt the dump (exit 2)"),
        "{msg}"
    );
    assert!(msg.contains("No secret key"), "{msg}");
}

#[tokio::test]
async fn a_flipped_byte_or_a_cut_never_ends_cleanly() {
    let key = GpgKey::new("");
    let cipher = key.encrypt(&payload(3 * 1024 * 1024), false);
    let spec = key.with_secret_key(None);
    let mut flipped = cipher.clone();
    flipped[cipher.len() / 2] ^= 0x01;
    let damaged = [
        ("flipped", flipped),
        ("cut in half", cipher[..cipher.len() / 2].to_vec()),
        ("last byte cut", cipher[..cipher.len() - 1].to_vec()),
    ];
    for (what, bytes) in damaged {
        let err = decrypt_with(&spec, bytes)
            .await
            .unwrap()
            .expect_err(&format!("{what}: must be an error"));
        assert!(
            err.to_string()
                .starts_with("gpg could not decrypt the dump"),
            "{what}: {err}"
        );
    }
}

#[tokio::test]
async fn a_passphrase_protected_key_needs_its_passphrase() {
    let key = GpgKey::new("correct horse");
    let plain = payload(200 * 1024);
    let cipher = key.encrypt(&plain, false);
    let got = decrypt_with(&key.with_secret_key(Some("correct horse")), cipher.clone())
        .await
        .unwrap()
        .unwrap();
    assert!(got == plain);
    let err = decrypt_with(&key.with_secret_key(Some("wrong")), cipher)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("gpg could not decrypt the dump"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("wrong"),
        "the passphrase stays out of messages: {err}"
    );
}

#[tokio::test]
async fn a_symmetric_dump_decrypts_with_the_passphrase_alone() {
    need("gpg", "apt-get install -y gnupg");
    let dir = tempfile::tempdir().unwrap();
    let plain = payload(100 * 1024);
    std::fs::write(dir.path().join("plain"), &plain).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    run(Command::new("gpg")
        .args(["--batch", "--quiet", "--homedir"])
        .arg(&home)
        .args([
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "s3cret",
            "--output",
        ])
        .arg(dir.path().join("cipher"))
        .arg("--symmetric")
        .arg(dir.path().join("plain")));
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .status();
    let cipher = std::fs::read(dir.path().join("cipher")).unwrap();
    let spec = DecryptSpec::Gpg {
        keyring: None,
        secret_key: None,
        passphrase: Some(Secret::new("s3cret")),
    };
    assert!(decrypt_with(&spec, cipher).await.unwrap().unwrap() == plain);
}

#[tokio::test]
async fn no_agent_and_no_home_remain_once_the_decrypter_is_gone() {
    let key = GpgKey::new("");
    let cipher = key.encrypt(b"rows", false);
    let decrypter = Decrypter::new(&key.with_secret_key(None)).await.unwrap();
    let home = decrypter.gpg_home().unwrap();
    let stream = decrypter
        .decrypt(stream_of(cipher), Encryption::Gpg)
        .await
        .unwrap();
    assert_eq!(read_all(stream).await.unwrap(), b"rows");
    assert!(
        !agents_for(&home).is_empty(),
        "decrypting started an agent in {home:?}"
    );
    drop(decrypter);
    assert!(
        agents_for(&home).is_empty(),
        "left behind: {:?}",
        agents_for(&home)
    );
    assert!(!home.exists(), "{home:?} was not removed");
}

#[tokio::test]
async fn a_public_key_or_a_missing_file_is_a_setup_error() {
    let key = GpgKey::new("");
    let public_only = DecryptSpec::Gpg {
        keyring: None,
        secret_key: Some(key.exported_public_key()),
        passphrase: None,
    };
    let err = Decrypter::new(&public_only).await.unwrap_err();
    assert!(matches!(err, DecryptSetupError::NoSecretKey(_)), "{err}");
    let missing = DecryptSpec::Gpg {
        keyring: None,
        secret_key: Some(key.home.path().join("nope.asc")),
        passphrase: None,
    };
    let err = Decrypter::new(&missing).await.unwrap_err();
    assert!(matches!(err, DecryptSetupError::KeyImport { .. }), "{err}");
}
