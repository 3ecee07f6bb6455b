//! Tells a dump's compression and format from its first bytes.
//!
//! Names lie (`backup.sql` may be gzip; `.gz` may be empty), so only content
//! counts: compression by magic bytes, then the format by sniffing the first
//! 64 KiB of the decompressed stream.

use crate::vocab::EngineKind;
use std::fmt;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use std::path::Path;

use super::reader;

/// How many decompressed bytes are looked at to tell the format.
pub const SNIFF_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Compression {
    pub fn from_magic(head: &[u8]) -> Self {
        match head {
            [0x1f, 0x8b, ..] => Self::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Self::Zstd,
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Self::Xz,
            [b'B', b'Z', b'h', ..] => Self::Bzip2,
            _ => Self::None,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Xz => "xz",
            Self::Bzip2 => "bzip2",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DumpFormat {
    /// `pg_dump` plain SQL, loaded with psql.
    PostgresPlain,
    /// `pg_dump -Fc`, loaded with pg_restore.
    PostgresCustom,
    /// `pg_dump -Fd`, a folder with `toc.dat`, loaded with pg_restore.
    PostgresDirectory,
    /// `pg_dump -Ft`, loaded with pg_restore.
    PostgresTar,
    /// mysqldump / mariadb-dump SQL, loaded with the mysql or mariadb client.
    MysqlSql,
    /// SQL with no tool's signature; either engine may load it.
    GenericSql,
}

impl DumpFormat {
    pub fn accepted_by(self, engine: EngineKind) -> bool {
        match engine {
            EngineKind::Postgres => !matches!(self, Self::MysqlSql),
            EngineKind::Mysql | EngineKind::Mariadb => {
                matches!(self, Self::MysqlSql | Self::GenericSql)
            }
        }
    }
}

impl fmt::Display for DumpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PostgresPlain => "PostgreSQL plain SQL dump",
            Self::PostgresCustom => "PostgreSQL custom-format dump",
            Self::PostgresDirectory => "PostgreSQL directory-format dump",
            Self::PostgresTar => "PostgreSQL tar-format dump",
            Self::MysqlSql => "MySQL/MariaDB SQL dump",
            Self::GenericSql => "SQL file",
        })
    }
}

/// What a dump turned out to be.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inspection {
    pub compression: Compression,
    pub format: DumpFormat,
    /// The tool and version that wrote it, when the dump says so.
    pub dumped_by: Option<String>,
    /// A plain PostgreSQL dump that creates its own database(s) and connects
    /// to them (`pg_dump --create`, `pg_dumpall`): it is loaded from the
    /// server's `postgres` database rather than into a prepared one.
    pub creates_databases: bool,
}

/// Why a dump is not a dump restoredrill can load: each is a failed verdict.
#[derive(Debug, thiserror::Error)]
pub enum NotLoadable {
    #[error("the dump is empty{0}")]
    Empty(&'static str),
    #[error("the dump is not a known dump format: {0}")]
    Unknown(String),
    #[error("the dump is corrupt: {0}")]
    Corrupt(String),
    /// Reading it failed for a reason of the dump's own (a command that
    /// exited non-zero, a size over `max_size`).
    #[error("the dump could not be read: {0}")]
    Failed(String),
    #[error(
        "the dump is {0}-encrypted, but the job has no `source.decrypt`; add `decrypt: {{ type: {0}, ... }}` with the key that opens it"
    )]
    Encrypted(super::decrypt::Encryption),
    #[error("cannot read the dump {path}: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Tells whether the local folder `dir` is a pg_dump directory-format dump.
pub async fn inspect_dir(dir: &Path) -> Result<Inspection, NotLoadable> {
    let unreadable = |source| NotLoadable::Unreadable {
        path: dir.display().to_string(),
        source,
    };
    let mut head = [0u8; 5];
    let mut toc = reader::open_regular(&dir.join("toc.dat"))
        .await
        .map_err(unreadable)?;
    let n = toc.read(&mut head).await.map_err(unreadable)?;
    if &head[..n] == b"PGDMP" {
        Ok(Inspection {
            compression: Compression::None,
            format: DumpFormat::PostgresDirectory,
            dumped_by: None,
            creates_databases: false,
        })
    } else {
        Err(NotLoadable::Unknown(
            "a folder whose toc.dat is not a pg_dump table of contents".into(),
        ))
    }
}

/// Tells what a dump is from the first decompressed bytes, `head`.
pub fn inspect_head(head: &[u8], compression: Compression) -> Result<Inspection, NotLoadable> {
    let (format, dumped_by) = sniff(head)?;
    Ok(Inspection {
        compression,
        format,
        dumped_by,
        creates_databases: format == DumpFormat::PostgresPlain && creates_databases(head),
    })
}

/// pg_dumpall's header, or a `CREATE DATABASE` before any other object or
/// data (where `pg_dump --create` writes it). One further down creates a
/// database the dump was not made from.
fn creates_databases(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    for l in text.lines() {
        if l.starts_with("-- PostgreSQL database cluster dump") || l.starts_with("CREATE DATABASE ")
        {
            return true;
        }
        if ["CREATE ", "COPY ", "INSERT ", "ALTER TABLE", "\\connect"]
            .iter()
            .any(|p| l.starts_with(p))
        {
            return false;
        }
    }
    false
}

/// Tells the format of a decompressed dump from its first bytes.
pub fn sniff(head: &[u8]) -> Result<(DumpFormat, Option<String>), NotLoadable> {
    if head.starts_with(b"PGDMP") {
        return Ok((DumpFormat::PostgresCustom, None));
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        let name_end = head[..100].iter().position(|&b| b == 0).unwrap_or(100);
        return if &head[..name_end] == b"toc.dat" {
            Ok((DumpFormat::PostgresTar, None))
        } else {
            Err(NotLoadable::Unknown(
                "a tar archive that is not a pg_dump tar-format dump".into(),
            ))
        };
    }
    let binary = head
        .iter()
        .filter(|&&b| b == 0 || (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)))
        .count();
    if binary * 100 > head.len() {
        return Err(NotLoadable::Unknown(
            "binary data that matches no dump format or compression".into(),
        ));
    }
    let text = String::from_utf8_lossy(head);
    let line_value = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
    };
    if text.contains("-- PostgreSQL database dump")
        || text.contains("-- PostgreSQL database cluster dump")
        || text.contains("-- Dumped by pg_dump")
        || text.contains("SET client_encoding")
    {
        let by = line_value("-- Dumped by pg_dump version ").map(|v| format!("pg_dump {v}"));
        return Ok((DumpFormat::PostgresPlain, by));
    }
    if text.contains("-- MySQL dump")
        || text.contains("-- MariaDB dump")
        || text.contains("/*!40101 SET")
        || text.contains("/*M!999999")
    {
        let by = line_value("-- Server version")
            .map(|v| format!("server {v}"))
            .or_else(|| line_value("-- MariaDB dump ").map(|v| format!("mariadb-dump {v}")))
            .or_else(|| line_value("-- MySQL dump ").map(|v| format!("mysqldump {v}")));
        return Ok((DumpFormat::MysqlSql, by));
    }
    let sql_words = [
        "CREATE TABLE",
        "INSERT INTO",
        "CREATE SCHEMA",
        "BEGIN;",
        "START TRANSACTION",
    ];
    let looks_sql = text.lines().any(|l| {
        let u = l.trim_start().to_ascii_uppercase();
        sql_words.iter().any(|w| u.starts_with(w))
    });
    if looks_sql {
        return Ok((DumpFormat::GenericSql, None));
    }
    Err(NotLoadable::Unknown(
        "text that is neither a pg_dump nor a mysqldump/mariadb-dump file".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_create_database_before_the_objects_makes_a_create_dump() {
        let head = "SET client_encoding = 'UTF8';\n";
        let create = format!(
            "{head}CREATE DATABASE shop WITH TEMPLATE = template0;\n\\connect shop\nCREATE TABLE t ();\n"
        );
        assert!(creates_databases(create.as_bytes()));
        let cluster = "--\n-- PostgreSQL database cluster dump\n--\nCREATE ROLE app;\n";
        assert!(creates_databases(cluster.as_bytes()));
        let later =
            format!("{head}CREATE TABLE t ();\nCOPY t FROM stdin;\n\\.\nCREATE DATABASE decoy;\n");
        assert!(!creates_databases(later.as_bytes()));
        assert!(!creates_databases(head.as_bytes()));
    }

    #[test]
    fn compression_by_magic_not_name() {
        assert_eq!(Compression::from_magic(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::from_magic(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(
            Compression::from_magic(b"\xfd7zXZ\x00\x00"),
            Compression::Xz
        );
        assert_eq!(Compression::from_magic(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(Compression::from_magic(b"-- Postg"), Compression::None);
    }

    #[test]
    fn formats_by_content() {
        let pg = b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped by pg_dump version 16.2\nSET client_encoding = 'UTF8';\n";
        let (f, by) = sniff(pg).unwrap();
        assert_eq!(f, DumpFormat::PostgresPlain);
        assert_eq!(by.as_deref(), Some("pg_dump 16.2"));

        let my =
            b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n/*!40101 SET NAMES utf8mb4 */;\n";
        assert_eq!(sniff(my).unwrap().0, DumpFormat::MysqlSql);
        assert_eq!(
            sniff(b"PGDMP\x01\x0e").unwrap().0,
            DumpFormat::PostgresCustom
        );
        assert_eq!(
            sniff(b"create table t (id int);\n").unwrap().0,
            DumpFormat::GenericSql
        );

        let mut tar = vec![0u8; 512];
        tar[..7].copy_from_slice(b"toc.dat");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar).unwrap().0, DumpFormat::PostgresTar);
        tar[..7].copy_from_slice(b"foo.txt");
        assert!(sniff(&tar).is_err());
    }

    #[test]
    fn rejects_what_is_not_a_dump() {
        let log = b"127.0.0.1 - - [20/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 612\n";
        let err = sniff(log).unwrap_err().to_string();
        assert!(err.contains("not a known dump format"), "{err}");
        assert!(sniff(&[0u8, 1, 2, 3, 0, 0, 0, 9]).is_err());
    }

    #[test]
    fn engines_accept_their_formats_only() {
        assert!(DumpFormat::PostgresCustom.accepted_by(EngineKind::Postgres));
        assert!(!DumpFormat::PostgresPlain.accepted_by(EngineKind::Mariadb));
        assert!(!DumpFormat::MysqlSql.accepted_by(EngineKind::Postgres));
        assert!(DumpFormat::GenericSql.accepted_by(EngineKind::Mysql));
    }
}
