//! age: files written by the `age` CLI, as backup scripts write them.

use super::*;

/// An identity made by `age-keygen` in a temporary folder.
struct AgeKey {
    dir: tempfile::TempDir,
    recipient: String,
}

impl AgeKey {
    fn new() -> Self {
        need("age-keygen", "apt-get install -y age");
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.txt");
        run(Command::new("age-keygen").arg("-o").arg(&key));
        let recipient =
            String::from_utf8(run(Command::new("age-keygen").arg("-y").arg(&key))).unwrap();
        Self {
            dir,
            recipient: recipient.trim().to_owned(),
        }
    }

    fn identity(&self) -> PathBuf {
        self.dir.path().join("key.txt")
    }

    fn spec(&self) -> DecryptSpec {
        DecryptSpec::Age {
            identity: self.identity(),
        }
    }

    /// `plaintext` encrypted to this key by the `age` CLI (`-a`: armored).
    fn encrypt(&self, plaintext: &[u8], armor: bool) -> Vec<u8> {
        need("age", "apt-get install -y age");
        let input = self.dir.path().join("plain");
        let output = self.dir.path().join("cipher");
        std::fs::write(&input, plaintext).unwrap();
        let mut cmd = Command::new("age");
        cmd.arg("-r").arg(&self.recipient).arg("-o").arg(&output);
        if armor {
            cmd.arg("-a");
        }
        run(cmd.arg(&input));
        std::fs::read(&output).unwrap()
    }
}

/// Where the payload starts: after the header's `--- MAC` line and the 16-byte nonce.
fn payload_start(file: &[u8]) -> usize {
    let mac = file
        .windows(4)
        .position(|w| w == b"\n---")
        .expect("an age header");
    let end = mac + 1 + file[mac + 1..].iter().position(|&b| b == b'\n').unwrap();
    end + 1 + 16
}

#[tokio::test]
async fn a_multi_megabyte_age_file_decrypts_to_the_exact_bytes() {
    let key = AgeKey::new();
    let plain = payload(5 * 1024 * 1024 + 123);
    let cipher = key.encrypt(&plain, false);
    assert_eq!(detect(&cipher), Some(Encryption::Age));
    let got = decrypt_with(&key.spec(), cipher).await.unwrap().unwrap();
    assert!(
        got == plain,
        "decrypted {} bytes, expected {}",
        got.len(),
        plain.len()
    );
}

#[tokio::test]
async fn an_armored_age_file_decrypts() {
    let key = AgeKey::new();
    let plain = payload(300 * 1024);
    let cipher = key.encrypt(&plain, true);
    assert!(cipher.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    let got = decrypt_with(&key.spec(), cipher).await.unwrap().unwrap();
    assert!(got == plain);
}

#[tokio::test]
async fn another_identity_is_a_wrong_key_before_any_plaintext() {
    let (key, other) = (AgeKey::new(), AgeKey::new());
    let cipher = key.encrypt(b"secret rows", false);
    match decrypt_with(&other.spec(), cipher).await {
        Err(DecryptError::WrongKey(reason)) => assert!(reason.contains("recipient"), "{reason}"),
        Err(e) => panic!("expected WrongKey, got {e:?}"),
        Ok(r) => panic!("expected WrongKey, got a stream: {:?}", r.map(|v| v.len())),
    }
}

#[tokio::test]
async fn a_flipped_byte_in_the_middle_is_a_read_error() {
    let key = AgeKey::new();
    let mut cipher = key.encrypt(&payload(2 * 1024 * 1024), false);
    let middle = cipher.len() / 2;
    cipher[middle] ^= 0x01;
    let err = decrypt_with(&key.spec(), cipher)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the age ciphertext is corrupt or cut"),
        "{err}"
    );
}

#[tokio::test]
async fn a_cut_age_file_is_a_read_error_even_at_a_chunk_boundary() {
    let key = AgeKey::new();
    let cipher = key.encrypt(&payload(1024 * 1024), false);
    // 65536 plaintext bytes + a 16-byte tag per chunk: cut after exactly three whole chunks.
    let at_boundary = payload_start(&cipher) + 3 * (65536 + 16);
    for cut in [cipher.len() / 2, at_boundary, cipher.len() - 1] {
        let err = decrypt_with(&key.spec(), cipher[..cut].to_vec())
            .await
            .unwrap()
            .expect_err("a cut age file must not end cleanly");
        assert!(
            err.to_string().contains("corrupt or cut"),
            "cut at {cut}: {err}"
        );
    }
}

#[tokio::test]
async fn a_cut_or_garbled_header_is_corrupt() {
    let key = AgeKey::new();
    let cipher = key.encrypt(b"rows", false);
    let decrypter = Decrypter::new(&key.spec()).await.unwrap();
    let cut = decrypter
        .decrypt(stream_of(cipher[..40].to_vec()), Encryption::Age)
        .await;
    assert!(
        matches!(cut, Err(DecryptError::Corrupt(_))),
        "{:?}",
        cut.err()
    );
    // A garbled recipient stanza cannot be told from another key's; a garbled MAC can.
    let mut garbled = cipher.clone();
    let mac = cipher.windows(4).position(|w| w == b"\n---").unwrap();
    garbled[mac + 6] = if garbled[mac + 6] == b'A' { b'B' } else { b'A' };
    let bad = decrypter.decrypt(stream_of(garbled), Encryption::Age).await;
    assert!(
        matches!(bad, Err(DecryptError::Corrupt(_))),
        "{:?}",
        bad.err()
    );
}

#[tokio::test]
async fn an_endless_header_line_is_refused_not_buffered() {
    let key = AgeKey::new();
    let decrypter = Decrypter::new(&key.spec()).await.unwrap();
    let endless = (&b"age-encryption.org/v1\n-> X25519 "[..]).chain(tokio::io::repeat(b'A'));
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        decrypter.decrypt(Box::pin(endless), Encryption::Age),
    )
    .await
    .expect("an endless header must be refused, not read forever");
    match result {
        Err(DecryptError::Corrupt(reason)) => assert!(reason.contains("16 KiB"), "{reason}"),
        other => panic!("expected Corrupt, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn an_endless_armored_header_is_refused_too() {
    let key = AgeKey::new();
    let decrypter = Decrypter::new(&key.spec()).await.unwrap();
    // "age-encryption.org/v1\n-> X25519 AAAA..." in base64, one 64-character line after another.
    let first =
        "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBBQUFB\n";
    let line = format!("{}\n", "QUFB".repeat(16));
    let mut text = first.as_bytes().to_vec();
    text.extend(line.repeat(2000).as_bytes());
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        decrypter.decrypt(Box::pin(std::io::Cursor::new(text)), Encryption::Age),
    )
    .await
    .expect("an endless armored header must be refused, not read forever");
    match result {
        Err(DecryptError::Corrupt(reason)) => assert!(reason.contains("16 KiB"), "{reason}"),
        other => panic!("expected Corrupt, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn the_sources_own_error_is_passed_on_unchanged() {
    let key = AgeKey::new();
    let cipher = key.encrypt(&payload(512 * 1024), false);
    let half = cipher[..cipher.len() / 2].to_vec();
    let failing = io::Cursor::new(half).chain(Failing);
    let decrypter = Decrypter::new(&key.spec()).await.unwrap();
    let stream = decrypter
        .decrypt(Box::pin(failing), Encryption::Age)
        .await
        .unwrap();
    let err = read_all(stream).await.unwrap_err();
    assert_eq!(err.to_string(), "the source went away");
}

/// A source that fails on read, like a download whose connection dropped.
struct Failing;

impl tokio::io::AsyncRead for Failing {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Err(io::Error::other("the source went away")))
    }
}

#[tokio::test]
async fn a_missing_or_unparsable_identity_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = DecryptSpec::Age {
        identity: dir.path().join("nope.txt"),
    };
    let err = Decrypter::new(&missing).await.unwrap_err();
    assert!(
        matches!(err, DecryptSetupError::IdentityUnreadable { .. }),
        "{err}"
    );
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "not a key\n").unwrap();
    let err = Decrypter::new(&DecryptSpec::Age { identity: junk })
        .await
        .unwrap_err();
    assert!(
        matches!(err, DecryptSetupError::IdentityInvalid { .. }),
        "{err}"
    );
    assert!(
        !err.to_string().contains("not a key"),
        "the file's content stays out of messages: {err}"
    );
}

#[tokio::test]
async fn a_gpg_dump_given_to_an_age_job_is_named() {
    let key = AgeKey::new();
    let decrypter = Decrypter::new(&key.spec()).await.unwrap();
    let err = decrypter
        .decrypt(stream_of(vec![]), Encryption::Gpg)
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the dump is gpg-encrypted but the job's `decrypt:` is age"
    );
}

#[tokio::test]
async fn a_small_armored_file_decrypts_exactly() {
    let key = AgeKey::new();
    let decrypter = Decrypter::new(&key.spec()).await.unwrap();
    for size in [1, 100, 3668, 48 * 1024, 70 * 1024] {
        let plain = payload(size);
        let cipher = key.encrypt(&plain, true);
        let mut out = Vec::new();
        // Dumps arrive in pieces (a file read, a network read), not in one buffer.
        let (client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in cipher.chunks(100) {
                server.write_all(piece).await.unwrap();
            }
        });
        decrypter
            .decrypt(Box::pin(client), Encryption::Age)
            .await
            .unwrap_or_else(|e| panic!("{size}: {e}"))
            .read_to_end(&mut out)
            .await
            .unwrap_or_else(|e| panic!("{size}: {e}"));
        assert_eq!(out, plain, "{size}");
    }
}
