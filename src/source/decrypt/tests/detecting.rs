//! detect() on the heads of real files: the project's unencrypted fixtures
//! (gzip, zstd, xz, bzip2, plain SQL, PGDMP, tar, random bytes) and files
//! encrypted here by `age` and `gpg`.

use super::*;

fn head_of(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.truncate(64);
    bytes
}

#[test]
fn no_unencrypted_fixture_is_taken_for_encrypted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut seen = 0;
    for folder in ["postgres", "mariadb", "bad"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                assert_eq!(detect(&head_of(&path)), None, "{path:?}");
                seen += 1;
            }
        }
    }
    // gzip, zstd, xz, bzip2, PGDMP, tar, SQL and random bytes are all among them.
    assert!(seen >= 30, "only {seen} fixtures found under {root:?}");
    let magic = |name: &str| head_of(&root.join("postgres").join(name));
    assert!(magic("shop.dump").starts_with(b"PGDMP"));
    assert!(magic("shop.sql.gz").starts_with(&[0x1f, 0x8b]));
    assert!(magic("shop.sql.zst").starts_with(&[0x28, 0xb5, 0x2f, 0xfd]));
}

#[test]
fn files_encrypted_by_age_and_gpg_are_detected() {
    need("age", "apt-get install -y age");
    need("gpg", "apt-get install -y gnupg");
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.sql");
    std::fs::write(&plain, "-- PostgreSQL database dump\n").unwrap();
    let key = dir.path().join("key.txt");
    run(Command::new("age-keygen").arg("-o").arg(&key));
    let age = |armor: bool| {
        let mut cmd = Command::new("age");
        cmd.arg("-e").arg("-i").arg(&key);
        if armor {
            cmd.arg("-a");
        }
        run(cmd.arg(&plain))
    };
    assert_eq!(detect(&age(false)), Some(Encryption::Age));
    assert_eq!(detect(&age(true)), Some(Encryption::Age));

    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    let gpg = |args: &[&str]| {
        let mut cmd = Command::new("gpg");
        cmd.args(["--batch", "--quiet", "--homedir"])
            .arg(&home)
            .args([
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "pw",
                "--trust-model",
                "always",
            ]);
        run(cmd.args(args))
    };
    gpg(&[
        "--quick-gen-key",
        "Detect <d@example.invalid>",
        "future-default",
        "default",
        "never",
    ]);
    let plain = plain.to_str().unwrap();
    let public = gpg(&[
        "-r",
        "d@example.invalid",
        "--output",
        "-",
        "--encrypt",
        plain,
    ]);
    let armored = gpg(&[
        "-r",
        "d@example.invalid",
        "--armor",
        "--output",
        "-",
        "--encrypt",
        plain,
    ]);
    let symmetric = gpg(&["--output", "-", "--symmetric", plain]);
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .status();
    assert_eq!(
        detect(&public),
        Some(Encryption::Gpg),
        "{:02x?}",
        &public[..12]
    );
    assert_eq!(detect(&armored), Some(Encryption::Gpg));
    assert_eq!(
        detect(&symmetric),
        Some(Encryption::Gpg),
        "{:02x?}",
        &symmetric[..12]
    );
}

#[test]
fn openpgp_packets_are_checked_beyond_their_first_byte() {
    // New-format PKESK v3 (RSA) and SKESK v4 (AES-256, iterated+salted S2K).
    let pkesk = [0xc1, 0x0c, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0];
    let skesk = [0xc3, 0x0d, 4, 9, 3, 8];
    assert_eq!(detect(&pkesk), Some(Encryption::Gpg));
    assert_eq!(detect(&skesk), Some(Encryption::Gpg));
    // The same tags with impossible versions or algorithms, other tags, or too little to tell.
    for head in [
        &[0xc1, 0x0c, 9, 1, 2, 3, 4, 5, 6, 7, 8, 1][..],
        &[0x85, 0x01, 0x0c, 3, 1, 2, 3, 4, 5, 6, 7, 8, 99][..],
        &[0x8c, 0x0d, 4, 77, 3][..],
        &[0xa3, 0x01, 0x78][..],
        &[0x85, 0x01][..],
        &[0xc1][..],
        &[][..],
        b"-----BEGIN PGP SIGNATURE-----",
    ] {
        assert_eq!(detect(head), None, "{head:02x?}");
    }
    assert_eq!(
        detect(b"\n\n-----BEGIN AGE ENCRYPTED FILE-----\n"),
        Some(Encryption::Age)
    );
}
