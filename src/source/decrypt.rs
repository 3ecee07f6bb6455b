//! Decrypts encrypted dumps as they stream: `age` (with an identity file) and
//! OpenPGP (the system `gpg`, with a keyring or an exported secret key).
//!
//! [`detect`] tells an encrypted dump from its first bytes, never its name.
//! A [`Decrypter`] is prepared once per job (identities parsed, a private
//! GNUPGHOME filled) so that setup problems are the checker's errors, not the
//! backup's; [`Decrypter::decrypt`] then turns a stream of ciphertext into a
//! stream of plaintext in bounded memory. A wrong key, corrupt or cut
//! ciphertext always ends in an error, never in a clean end of stream, so a
//! tampered dump cannot pass as a short one. This module does not decompress
//! (that follows it) and does not decide verdicts (the pipeline does).

mod age_stream;
mod gpg_process;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use super::RawStream;

/// How a dump is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    /// age (<https://age-encryption.org/v1>), binary or ASCII-armored.
    Age,
    /// OpenPGP, as `gpg --encrypt` or `gpg --symmetric` writes it, binary or armored.
    Gpg,
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Age => "age",
            Self::Gpg => "gpg",
        })
    }
}

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const PGP_ARMOR: &[u8] = b"-----BEGIN PGP MESSAGE-----";

/// How a dump is encrypted, from its first bytes as stored (64 bytes are enough);
/// `None` for anything that is not an age file or an OpenPGP encrypted message.
pub fn detect(head: &[u8]) -> Option<Encryption> {
    if head.starts_with(AGE_MAGIC) {
        return Some(Encryption::Age);
    }
    // Armor may follow blank lines or a byte-order mark left by an editor or a mail.
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[start..];
    if text.starts_with(AGE_ARMOR) {
        return Some(Encryption::Age);
    }
    if text.starts_with(PGP_ARMOR) || is_openpgp_encrypted(head) {
        return Some(Encryption::Gpg);
    }
    None
}

/// Whether `head` starts with an OpenPGP session-key packet: a PKESK (tag 1)
/// or an SKESK (tag 3), whose version and algorithm bytes are checked too, so
/// that arbitrary binary with a high first bit is not taken for a message.
fn is_openpgp_encrypted(head: &[u8]) -> bool {
    let Some(&first) = head.first() else {
        return false;
    };
    if first & 0x80 == 0 {
        return false;
    }
    let (tag, body) = if first & 0x40 == 0 {
        // Old format: tag in bits 5-2, then a 1, 2 or 4 byte length (3 = indeterminate, refused).
        let len_bytes = match first & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => return false,
        };
        ((first >> 2) & 0x0f, head.get(1 + len_bytes..))
    } else {
        // New format: tag in bits 5-0, then a one, two or five byte length (partial lengths refused).
        let len_bytes = match head.get(1) {
            Some(0..=191) => 1,
            Some(192..=223) => 2,
            Some(255) => 5,
            _ => return false,
        };
        (first & 0x3f, head.get(1 + len_bytes..))
    };
    let Some(body) = body else {
        return false;
    };
    match tag {
        1 => is_pkesk_body(body),
        3 => is_skesk_body(body),
        _ => false,
    }
}

/// PKESK v3: version, 8-byte key id, public-key algorithm; v6: version, length, key version.
fn is_pkesk_body(body: &[u8]) -> bool {
    match body {
        [3, _, _, _, _, _, _, _, _, algo, ..] => {
            matches!(algo, 1 | 2 | 16 | 18 | 20 | 22 | 25 | 26 | 100..=110)
        }
        [6, _, key_version, ..] => matches!(key_version, 0 | 4 | 6),
        _ => false,
    }
}

/// SKESK v4: version, cipher, S2K type; v5/v6: version, (length,) cipher, AEAD mode.
fn is_skesk_body(body: &[u8]) -> bool {
    match body {
        [4, cipher, s2k, ..] => {
            matches!(cipher, 1..=13 | 100..=110) && matches!(s2k, 0 | 1 | 3 | 4)
        }
        [5, cipher, aead, ..] => matches!(cipher, 1..=13) && matches!(aead, 1..=3),
        [6, _, cipher, aead, ..] => matches!(cipher, 1..=13) && matches!(aead, 1..=3),
        _ => false,
    }
}

pub use crate::config::DecryptSpec;

impl DecryptSpec {
    /// The encryption this spec decrypts.
    pub fn kind(&self) -> Encryption {
        match self {
            Self::Age { .. } => Encryption::Age,
            Self::Gpg { .. } => Encryption::Gpg,
        }
    }
}

/// The checker cannot decrypt at all: its key material or tools are missing.
/// Verdict `error`, not `fail`: the backup may be fine.
#[derive(Debug, thiserror::Error)]
pub enum DecryptSetupError {
    #[error("cannot read the age identity file {path}: {source}")]
    IdentityUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the age identity file {path} is not usable: {reason} (it should hold `AGE-SECRET-KEY-1...` lines, as `age-keygen -o FILE` writes)"
    )]
    IdentityInvalid { path: PathBuf, reason: String },
    #[error("gpg cannot be run ({0}); install it with `apt-get install -y gnupg`")]
    GpgMissing(String),
    #[error("cannot read the gpg keyring {path}: {source}")]
    KeyringUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot import the gpg secret key {path}: {reason}")]
    KeyImport { path: PathBuf, reason: String },
    #[error("{0}")]
    NoSecretKey(String),
    #[error("cannot prepare a private gpg home: {0}")]
    TempHome(#[source] io::Error),
}

/// This dump cannot be decrypted. All but [`DecryptError::Read`] are about the backup (a fail verdict).
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// The dump is encrypted to someone else: none of the job's keys opens it.
    #[error("the dump cannot be decrypted with the configured key: {0}")]
    WrongKey(String),
    /// The encryption header is malformed or cut.
    #[error("the encrypted dump is corrupt: {0}")]
    Corrupt(String),
    /// The dump is encrypted with something else than the job's `decrypt:` says.
    #[error("the dump is {found}-encrypted but the job's `decrypt:` is {configured}")]
    OtherEncryption {
        found: Encryption,
        configured: Encryption,
    },
    /// Reading the dump failed before the header was complete: the source's own
    /// error, kept as is (it may be a `SourceGone`, which is the checker's error).
    #[error("{0}")]
    Read(#[source] io::Error),
    /// gpg could not be started for this dump.
    #[error("cannot start gpg: {0}")]
    Spawn(#[source] io::Error),
}

/// A prepared decrypter for one job's dumps.
pub struct Decrypter {
    inner: Inner,
}

enum Inner {
    Age(age_stream::AgeKeys),
    Gpg(Arc<gpg_process::GpgHome>),
}

impl fmt::Debug for Decrypter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Age(_) => Encryption::Age,
            Inner::Gpg(_) => Encryption::Gpg,
        };
        write!(f, "Decrypter({kind})")
    }
}

impl Decrypter {
    /// Reads and parses the identity file, or fills a private GNUPGHOME with the key.
    pub async fn new(spec: &DecryptSpec) -> Result<Self, DecryptSetupError> {
        let inner = match spec {
            DecryptSpec::Age { identity } => Inner::Age(age_stream::AgeKeys::load(identity).await?),
            DecryptSpec::Gpg {
                keyring,
                secret_key,
                passphrase,
            } => Inner::Gpg(Arc::new(
                gpg_process::GpgHome::prepare(
                    keyring.as_deref(),
                    secret_key.as_deref(),
                    passphrase.as_ref(),
                )
                .await?,
            )),
        };
        Ok(Self { inner })
    }

    /// The plaintext of `raw` (a dump detected as `kind`), streamed.
    pub async fn decrypt(
        &self,
        raw: RawStream,
        kind: Encryption,
    ) -> Result<RawStream, DecryptError> {
        match (&self.inner, kind) {
            (Inner::Age(keys), Encryption::Age) => keys.decrypt(raw).await,
            (Inner::Gpg(home), Encryption::Gpg) => gpg_process::decrypt(home.clone(), raw),
            (Inner::Age(_), found) => Err(DecryptError::OtherEncryption {
                found,
                configured: Encryption::Age,
            }),
            (Inner::Gpg(_), found) => Err(DecryptError::OtherEncryption {
                found,
                configured: Encryption::Gpg,
            }),
        }
    }
}

#[cfg(test)]
impl Decrypter {
    /// The private GNUPGHOME of a gpg decrypter, to check it is cleaned up.
    fn gpg_home(&self) -> Option<PathBuf> {
        match &self.inner {
            Inner::Gpg(home) => Some(home.path().to_owned()),
            Inner::Age(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
