//! Screens a plain SQL dump while it streams into the engine's client.
//!
//! A dump is untrusted input: whoever owns the production host writes it. The
//! clients that load plain dumps (psql, mysql/mariadb) run more than SQL: psql
//! meta-commands (`\!`, `\set ON_ERROR_STOP off`, `\o`, `\copy ... program`)
//! and mysql client commands (`system`, `\!`, `source`, `tee`) would run inside
//! the candidate or switch off error checking. So the stream is lexed the way
//! the client lexes it (quotes, dollar quotes, comments, COPY data, the
//! delimiter), and anything the dump tools never write for one database is
//! refused, naming the command and its line:
//!
//! - psql: only `\connect` (to a database by name), `\restrict` /
//!   `\unrestrict`, and COPY's `\.` are allowed. Where psql knows `\restrict`
//!   (CVE-2025-8714), the stream is also wrapped in a restriction with a key
//!   of this run's, so psql's own lexer refuses every other meta-command even
//!   if this one were ever out of step with it.
//! - mysql/mariadb: no client commands but `DELIMITER` and `USE` (the mariadb
//!   client is also started with `--sandbox` where it has it).
//! - Both: `COPY ... PROGRAM`, COPY to or from server files, and statements
//!   that make logins (superusers, passwords) are refused unless the job
//!   allows them.
//!
//! The screen also proves the dump complete: pg_dump's plain output ends with
//! `-- PostgreSQL database dump complete` (pg_dumpall's with `... cluster dump
//! complete`), mysqldump's with `-- Dump completed`. A dump cut anywhere, at a
//! line boundary or inside a COPY, lacks that line.

use std::fmt;

mod marks;
mod session;
pub use marks::{Mark, MarkKind, StatementKind, Unit};
use session::{Capture, MysqlSession, Tok};

/// Which client's rules the dump is read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

/// What a job lets a dump do that the dump tools never write for one database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowances {
    /// Statements that create or change logins (`CREATE ROLE ... PASSWORD`,
    /// `ALTER ROLE ... SUPERUSER`, `CREATE USER ... IDENTIFIED BY`, `GRANT`).
    pub logins: bool,
}

/// Why the screen stopped a dump: a failed verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: u64,
    pub what: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

/// The dump's last line, as the end-of-dump proof needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The dump tool's completion line is there, with nothing but comments after it.
    Complete,
    /// It is not: the dump was cut off after `bytes` bytes, in line `line`.
    Missing {
        bytes: u64,
        line: u64,
        expected: &'static str,
    },
}

/// Longest client command line the screen holds back (no dump tool writes longer ones).
const MAX_COMMAND_LINE: usize = 64 * 1024;
/// Longest word kept for classifying statements.
const MAX_WORD: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lex {
    Normal,
    /// Inside '...'; `escapes` when a backslash escapes the next byte
    /// (PostgreSQL E'' strings; always in mysql).
    Single {
        escapes: bool,
    },
    /// Inside "..." (an identifier in PostgreSQL, a string in mysql).
    Double,
    /// Inside `...` (mysql identifiers).
    Backtick,
    /// After a `$` that may open a dollar quote: the tag so far.
    DollarTag(Vec<u8>),
    /// Inside $tag$...$tag$, with `matched` bytes of the closing `$tag$` seen.
    Dollar {
        tag: Vec<u8>,
        matched: usize,
    },
    LineComment,
    /// PostgreSQL block comments nest; mysql's do not.
    Block {
        depth: u32,
    },
    /// mysql: just after `/*`; the next bytes tell a comment from `/*!...*/`.
    BlockOpen,
    /// mysql: after `/*M`.
    BlockOpenM,
    /// mysql: after `--`; a comment only if white space follows.
    DashDash,
    /// psql: COPY ... FROM stdin data, up to a line `\.`.
    CopyData,
}

/// The statement being read, as far as the screen needs it.
#[derive(Debug, Default)]
struct Statement {
    words: usize,
    first: [String; 3],
    prev: String,
    /// COPY ... FROM STDIN: the lines after this statement's line are data.
    copy_in: bool,
    /// Text other than white space and comments has been seen.
    started: bool,
    /// `SET standard_conforming_strings`: the value word is checked.
    scs_value_next: bool,
    /// What the parallel loader needs to know of it.
    traits: marks::Traits,
    /// Its tokens while it may be a `SET` (see [`session`]).
    capture: Capture,
    /// mysql: user variables it names (`@name`), upper case.
    user_vars: Vec<String>,
    /// mysql: it names a user variable whose name is not kept (quoted, or too many).
    all_vars: bool,
    /// mysql: what the last `@` began.
    at: At,
    /// psql: `(` not yet closed; `;` inside does not end the statement.
    paren_depth: u32,
    /// psql: `BEGIN` (ATOMIC) or `CASE` not yet ended in `CREATE FUNCTION`
    /// or `PROCEDURE`; `;` inside does not end the statement.
    begin_depth: u32,
    /// psql: which of the first four identifiers were CREATE, OR, REPLACE,
    /// FUNCTION or PROCEDURE (their first letter), as psql tracks them.
    idents: [u8; 4],
    ident_count: usize,
}

/// mysql: what an `@` outside quotes begins.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum At {
    #[default]
    Nothing,
    /// `@name`: a user variable.
    User,
    /// `@@name`: a system variable.
    System,
}

/// mysql: whether the server runs what a version comment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cond {
    /// Its version number has not been read yet.
    Unread,
    /// Every server restoredrill loads into runs it (MySQL 8+, MariaDB 10+).
    Always,
    /// Some do, some do not.
    Maybe,
    /// None does (`/*M!999999`, mariadb-dump's sandbox line).
    Never,
}

/// mysql: the `/*!NNNNN ... */` or `/*M!NNNNNN ... */` being read.
#[derive(Debug, Clone, Copy)]
struct VersionBlock {
    /// `/*M!`: only MariaDB runs it.
    mariadb: bool,
    cond: Cond,
    id: u32,
}

/// The server version a version comment names, and whether servers run it.
fn version_cond(digits: &str, mariadb: bool) -> Cond {
    if digits.is_empty() {
        return Cond::Always;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Cond::Maybe;
    }
    if digits.starts_with("999999") {
        return Cond::Never;
    }
    match (mariadb, digits.len()) {
        // MySQL reads five digits; MariaDB runs every five-digit version.
        (false, 5) if digits < "80000" => Cond::Always,
        _ => Cond::Maybe,
    }
}

/// Longest pg_dumpall globals line held back to look at.
const MAX_HELD_LINE: usize = 512;

/// The streaming screen: feed it the decompressed dump, in order, then [`Screen::finish`].
pub struct Screen {
    dialect: Dialect,
    allow: Allowances,
    /// psql's `\restrict` key of this run, when psql supports it.
    restrict_key: Option<String>,
    lex: Lex,
    /// The byte before, as the lexer saw it (0 after an escape or a closed pair).
    prev: u8,
    word: Vec<u8>,
    stmt: Statement,
    line: u64,
    bytes: u64,
    at_line_start: bool,
    /// A psql meta-command line being held back until its newline.
    command: Option<Vec<u8>>,
    /// mysql: the first word of this line may be a client command.
    line_first_word: bool,
    /// mysql: this line began with `-`, which may begin a `-- ` comment.
    line_dash: bool,
    /// mysql: the rest of this line is the argument of `DELIMITER` or `USE`.
    command_arg: Option<(&'static str, Vec<u8>)>,
    /// The first bytes of the current line.
    line_head: Vec<u8>,
    /// mysql's statement delimiter (`;`, or `;;` after `DELIMITER ;;`).
    delimiter: Vec<u8>,
    delim_matched: usize,
    /// The header says pg_dumpall: only the cluster completion line proves the end.
    cluster: bool,
    marker_seen: bool,
    copy_next_line: bool,
    refusal: Option<Refusal>,
    /// Databases the dump switches to (`\connect`, `USE`), in order, once each.
    pub databases: Vec<String>,
    started_output: bool,
    /// mysql: a backslash outside quotes; the next byte names the command.
    pending_backslash: bool,
    /// Roles the restore server has already (its superuser).
    server_roles: Vec<String>,
    /// pg_dumpall globals: a line held back until it is whole, in case it
    /// creates or alters a role the server has.
    held_line: Option<Vec<u8>>,
    /// Where the output may be cut, when asked for ([`Screen::marking`]).
    marks: Option<Vec<Mark>>,
    /// The statements since the last mark.
    unit: Unit,
    /// mysql: the version comment the lexer is in.
    block: Option<VersionBlock>,
    blocks_seen: u32,
    /// mysql: what the session settings so far have set.
    session: MysqlSession,
    /// The tokens kept of each statement, for tests.
    #[cfg(test)]
    captured: Vec<Vec<Tok>>,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// mysql client commands that have a long name (`mysql --help`, `help`).
const MYSQL_COMMANDS: &[&str] = &[
    "?",
    "CHARSET",
    "CLEAR",
    "CONNECT",
    "DELIMITER",
    "EDIT",
    "EGO",
    "EXIT",
    "GO",
    "HELP",
    "NOPAGER",
    "NOTEE",
    "NOWARNING",
    "PAGER",
    "PRINT",
    "PROMPT",
    "QUERY_ATTRIBUTES",
    "QUIT",
    "REHASH",
    "RESETCONNECTION",
    "SANDBOX",
    "SOURCE",
    "SSL_SESSION_DATA_PRINT",
    "STATUS",
    "SYSTEM",
    "TEE",
    "USE",
    "WARNINGS",
];

impl Screen {
    pub fn new(dialect: Dialect, allow: Allowances, restrict_key: Option<String>) -> Self {
        Self {
            dialect,
            allow,
            restrict_key: restrict_key.filter(|_| dialect == Dialect::Postgres),
            lex: Lex::Normal,
            prev: b'\n',
            word: Vec::new(),
            stmt: Statement::default(),
            line: 1,
            bytes: 0,
            at_line_start: true,
            command: None,
            line_first_word: false,
            line_dash: false,
            command_arg: None,
            line_head: Vec::new(),
            delimiter: b";".to_vec(),
            delim_matched: 0,
            cluster: false,
            marker_seen: false,
            copy_next_line: false,
            refusal: None,
            databases: Vec::new(),
            started_output: false,
            pending_backslash: false,
            server_roles: Vec::new(),
            held_line: None,
            marks: None,
            unit: Unit::default(),
            block: None,
            blocks_seen: 0,
            session: MysqlSession::default(),
            #[cfg(test)]
            captured: Vec::new(),
        }
    }

    /// Also records [`Mark`]s: where the output may be cut between
    /// statements, and where COPY data starts and ends.
    pub fn marking(mut self) -> Self {
        self.marks = Some(Vec::new());
        self
    }

    /// The marks of the output of the last [`Screen::feed`] / [`Screen::finish`]
    /// calls since the last take; offsets count from the start of that output.
    pub fn take_marks(&mut self) -> Vec<Mark> {
        self.marks.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn mark(&mut self, at: usize, kind: MarkKind) {
        if let Some(marks) = self.marks.as_mut() {
            marks.push(Mark { at, kind });
        }
    }

    /// The client is between statements (at a line's end).
    fn idle(&self) -> bool {
        self.lex == Lex::Normal
            && !self.stmt.started
            && self.command.is_none()
            && self.command_arg.is_none()
            && !self.copy_next_line
            && self.held_line.is_none()
            && !self.pending_backslash
            && self.delim_matched == 0
    }

    /// Roles the restore server has already. pg_dumpall writes `CREATE ROLE`
    /// for every role, its own superuser's too, and expects that one to fail,
    /// then `ALTER ROLE ... PASSWORD`, which would change restoredrill's own
    /// login. In its globals such lines become comments of the same length.
    pub fn server_roles(mut self, roles: Vec<String>) -> Self {
        self.server_roles = roles;
        self
    }

    fn in_cluster_globals(&self) -> bool {
        self.cluster
            && self.databases.is_empty()
            && self.dialect == Dialect::Postgres
            && self.at_line_start
            && self.lex == Lex::Normal
            && !self.stmt.started
            && self.command.is_none()
    }

    /// Passes a held line on, as a comment if it creates a role the server has.
    fn release_line(&mut self, mut line: Vec<u8>, out: &mut Vec<u8>) -> Result<(), Refusal> {
        let text = String::from_utf8_lossy(&line);
        let body = text.trim_end_matches(['\n', '\r']);
        // Its `ALTER ROLE ... PASSWORD` would lock restoredrill out of the
        // server as soon as psql reconnects (`\connect`).
        if self.server_roles.iter().any(|r| {
            [r.clone(), format!("\"{r}\"")].iter().any(|name| {
                body == format!("CREATE ROLE {name};")
                    || body.starts_with(&format!("ALTER ROLE {name} "))
            })
        }) {
            line[..2].copy_from_slice(b"--");
        }
        for b in line {
            self.step(b, out)?;
        }
        Ok(())
    }

    /// Bytes of dump read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Screens `input` and appends what the client should read to `out`.
    /// After a refusal nothing more is passed on; the caller drops `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Refusal> {
        if let Some(r) = &self.refusal {
            return Err(r.clone());
        }
        if !self.started_output {
            self.started_output = true;
            if let Some(key) = &self.restrict_key {
                out.extend_from_slice(format!("\\restrict {key}\n").as_bytes());
            }
        }
        for &b in input {
            self.bytes += 1;
            let stepped = if let Some(held) = self.held_line.as_mut() {
                held.push(b);
                if b == b'\n' || held.len() > MAX_HELD_LINE {
                    let line = self.held_line.take().unwrap_or_default();
                    self.release_line(line, out)
                } else {
                    Ok(())
                }
            } else if matches!(b, b'C' | b'A') && self.in_cluster_globals() {
                self.held_line = Some(vec![b]);
                Ok(())
            } else {
                self.step(b, out)
            };
            if let Err(r) = stepped {
                self.refusal = Some(r.clone());
                return Err(r);
            }
        }
        Ok(())
    }

    /// At the end of the stream: did the dump end the way its tool ends dumps?
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<Completion, Refusal> {
        if let Some(r) = &self.refusal {
            return Err(r.clone());
        }
        if let Some(line) = self.held_line.take()
            && let Err(r) = self.release_line(line, out)
        {
            self.refusal = Some(r.clone());
            return Err(r);
        }
        let bytes = self.bytes;
        let line = if self.at_line_start {
            self.line - 1
        } else {
            self.line
        };
        // A last line without its newline is still a line.
        if !self.at_line_start {
            self.feed(b"\n", out)?;
            self.bytes -= 1;
        }
        if self.marker_seen {
            return Ok(Completion::Complete);
        }
        Ok(Completion::Missing {
            bytes,
            line: line.max(1),
            expected: match (self.dialect, self.cluster) {
                (Dialect::Postgres, true) => "pg_dumpall's completion line",
                (Dialect::Postgres, false) => "pg_dump's completion line",
                (Dialect::Mysql, _) => "mysqldump's completion line",
            },
        })
    }

    fn refuse(&self, what: impl Into<String>) -> Refusal {
        Refusal {
            line: self.line,
            what: what.into(),
        }
    }

    fn step(&mut self, b: u8, out: &mut Vec<u8>) -> Result<(), Refusal> {
        let line_start = self.at_line_start;
        self.at_line_start = b == b'\n';
        if line_start {
            self.line_head.clear();
            if self.copy_next_line {
                self.copy_next_line = false;
                self.lex = Lex::CopyData;
                let unit = std::mem::take(&mut self.unit);
                self.mark(out.len(), MarkKind::CopyData(unit));
            }
        }
        if self.line_head.len() < 256 && b != b'\n' {
            self.line_head.push(b);
        }

        // A psql meta-command line is held back until it is whole.
        if let Some(cmd) = self.command.as_mut() {
            if b != b'\n' {
                if cmd.len() >= MAX_COMMAND_LINE {
                    return Err(self.refuse("a psql meta-command line longer than 64 KiB"));
                }
                cmd.push(b);
                return Ok(());
            }
            let cmd = self.command.take().unwrap_or_default();
            self.psql_command(&cmd, out)?;
            self.end_of_line(out.len())?;
            return Ok(());
        }

        if self.lex == Lex::CopyData {
            out.push(b);
            if b == b'\n' {
                if self.line_head == b"\\." || self.line_head == b"\\.\r" {
                    self.lex = Lex::Normal;
                    // The line may have begun in an earlier call's output.
                    let at = out.len().saturating_sub(self.line_head.len() + 1);
                    self.mark(at, MarkKind::CopyEnd);
                }
                self.end_of_line(out.len())?;
            }
            return Ok(());
        }

        if line_start && self.lex == Lex::Normal {
            match self.dialect {
                Dialect::Postgres if b == b'\\' => {
                    self.command = Some(vec![b]);
                    return Ok(());
                }
                // mysql reads named commands at the start of a statement only.
                Dialect::Mysql => self.line_first_word = !self.stmt.started,
                _ => {}
            }
        }

        out.push(b);
        if let Some((_, arg)) = self.command_arg.as_mut() {
            if b != b'\n' {
                if arg.len() < MAX_COMMAND_LINE {
                    arg.push(b);
                }
                return Ok(());
            }
            self.mysql_command_arg()?;
            self.end_of_line(out.len())?;
            return Ok(());
        }
        match self.dialect {
            Dialect::Postgres => self.step_postgres(b)?,
            Dialect::Mysql => self.step_mysql(b)?,
        }
        if b == b'\n' {
            self.end_of_line(out.len())?;
        }
        Ok(())
    }

    /// A line ended; the output so far is `out_len` bytes long.
    fn end_of_line(&mut self, out_len: usize) -> Result<(), Refusal> {
        let head = String::from_utf8_lossy(&self.line_head).into_owned();
        self.note_marker(head.trim());
        self.line += 1;
        self.line_first_word = false;
        // A line that began with `-` and was no `-- ` comment began a statement.
        self.stmt.started |= std::mem::take(&mut self.line_dash);
        if self.lex == Lex::LineComment {
            self.lex = Lex::Normal;
        }
        if self.marks.is_some() && self.idle() {
            let mut unit = std::mem::take(&mut self.unit);
            unit.plain_delimiter = self.delimiter == b";";
            unit.set_delimiter(&self.delimiter);
            self.mark(out_len, MarkKind::Idle(unit));
        }
        Ok(())
    }

    /// Tracks whether the completion line was the last thing of substance.
    fn note_marker(&mut self, t: &str) {
        if self.line <= 8 && t.starts_with("-- PostgreSQL database cluster dump") {
            self.cluster = true;
        }
        let marker = match self.dialect {
            Dialect::Postgres if self.cluster => {
                t.starts_with("-- PostgreSQL database cluster dump complete")
            }
            Dialect::Postgres => t.starts_with("-- PostgreSQL database dump complete"),
            Dialect::Mysql => t.starts_with("-- Dump completed"),
        };
        if marker && matches!(self.lex, Lex::Normal | Lex::LineComment) {
            self.marker_seen = true;
            return;
        }
        let trailing = t.is_empty()
            || t == "--"
            || (self.dialect == Dialect::Postgres && t.starts_with("\\unrestrict "));
        if !trailing {
            self.marker_seen = false;
        }
    }

    fn step_postgres(&mut self, b: u8) -> Result<(), Refusal> {
        let prev = self.prev;
        self.prev = b;
        match std::mem::replace(&mut self.lex, Lex::Normal) {
            Lex::Normal => self.normal_postgres(b, prev)?,
            Lex::Single { escapes } => {
                if escapes && prev == b'\\' {
                    // This byte is escaped; it escapes nothing itself.
                    self.prev = 0;
                    self.lex = Lex::Single { escapes };
                    self.stmt.capture.quoted_byte(b);
                } else if b != b'\'' {
                    self.lex = Lex::Single { escapes };
                    self.stmt.capture.quoted_byte(b);
                } else {
                    // A doubled '' closes and reopens: two strings to the capture.
                    self.close_quote(false);
                }
            }
            Lex::Double => {
                if b != b'"' {
                    self.lex = Lex::Double;
                    self.stmt.capture.quoted_byte(b);
                } else {
                    self.close_quote(true);
                }
            }
            Lex::DollarTag(mut tag) => {
                if b == b'$' {
                    self.lex = Lex::Dollar { tag, matched: 0 };
                } else if is_ident(b) && !(tag.is_empty() && b.is_ascii_digit()) && tag.len() < 64 {
                    tag.push(b);
                    self.lex = Lex::DollarTag(tag);
                } else {
                    // `$1`: a parameter, not a dollar quote.
                    self.normal_postgres(b, b'$')?;
                }
            }
            Lex::Dollar { tag, matched } => {
                // Looking for `$tag$`; the tag has no `$`, so a `$` restarts the match.
                let want = if matched == 0 || matched == tag.len() + 1 {
                    b'$'
                } else {
                    tag[matched - 1]
                };
                self.lex = if b == want && matched == tag.len() + 1 {
                    Lex::Normal
                } else if b == want {
                    Lex::Dollar {
                        tag,
                        matched: matched + 1,
                    }
                } else if b == b'$' {
                    Lex::Dollar { tag, matched: 1 }
                } else {
                    Lex::Dollar { tag, matched: 0 }
                };
            }
            Lex::LineComment => {
                if b != b'\n' {
                    self.lex = Lex::LineComment;
                }
            }
            Lex::Block { depth } => {
                let depth = if prev == b'*' && b == b'/' {
                    self.prev = 0;
                    depth - 1
                } else if prev == b'/' && b == b'*' {
                    self.prev = 0;
                    depth + 1
                } else {
                    depth
                };
                if depth > 0 {
                    self.lex = Lex::Block { depth };
                }
            }
            other => unreachable!("{other:?} is not a PostgreSQL state"),
        }
        Ok(())
    }

    fn normal_postgres(&mut self, b: u8, prev: u8) -> Result<(), Refusal> {
        if is_ident(b) || (b == b'$' && !self.word.is_empty()) {
            if self.word.len() < MAX_WORD {
                self.word.push(b.to_ascii_uppercase());
            }
            self.stmt.started = true;
            return Ok(());
        }
        let word = std::mem::take(&mut self.word);
        if !word.is_empty() {
            // `E'...'`, `B'...'`: a string's prefix, not an identifier to psql.
            if !(b == b'\'' && matches!(word.as_slice(), b"E" | b"B" | b"X" | b"N" | b"U")) {
                self.psql_identifier(&word);
            }
            self.on_word(&word, b)?;
        }
        match b {
            b'\'' => {
                self.lex = Lex::Single {
                    escapes: word == b"E",
                };
                self.open_quote();
                self.on_literal()?;
            }
            b'"' => {
                self.lex = Lex::Double;
                self.open_quote();
                self.stmt.started = true;
            }
            b'$' => {
                self.lex = Lex::DollarTag(Vec::new());
                // A dollar-quoted value is not kept: a `SET` with one is not read.
                self.stmt.capture.overflow = true;
            }
            b'-' if prev == b'-' => {
                self.lex = Lex::LineComment;
                self.stmt.capture.push(Tok::Space);
            }
            b'*' if prev == b'/' => {
                self.lex = Lex::Block { depth: 1 };
                self.prev = 0;
                self.stmt.capture.push(Tok::Space);
            }
            // psql ends a statement at `;` only outside parentheses and outside
            // the BEGIN ... END of a SQL-standard function body.
            b';' if self.stmt.paren_depth == 0 && self.stmt.begin_depth == 0 => {
                self.end_statement()
            }
            b'(' => {
                self.stmt.paren_depth += 1;
                self.stmt.started = true;
            }
            b')' => {
                self.stmt.paren_depth = self.stmt.paren_depth.saturating_sub(1);
                self.stmt.started = true;
            }
            b'\\' => {
                return Err(self.refuse(
                    "a psql meta-command after other text on its line (pg_dump never writes one)",
                ));
            }
            b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'-' => {}
            _ => self.stmt.started = true,
        }
        Ok(())
    }

    /// psql's own reckoning of `BEGIN ... END` in `CREATE [OR REPLACE]
    /// FUNCTION | PROCEDURE` (psqlscan.l), so the screen ends statements
    /// where psql does.
    fn psql_identifier(&mut self, word: &[u8]) {
        if word[0].is_ascii_digit() {
            return;
        }
        let st = &mut self.stmt;
        if st.ident_count < st.idents.len()
            && matches!(
                word,
                b"CREATE" | b"FUNCTION" | b"PROCEDURE" | b"OR" | b"REPLACE"
            )
        {
            st.idents[st.ident_count] = word[0].to_ascii_lowercase();
        }
        st.ident_count += 1;
        let i = st.idents;
        let routine = i[0] == b'c'
            && (i[1] == b'f'
                || i[1] == b'p'
                || (i[1] == b'o' && i[2] == b'r' && matches!(i[3], b'f' | b'p')));
        if routine && st.paren_depth == 0 {
            match word {
                b"BEGIN" => st.begin_depth += 1,
                b"CASE" if st.begin_depth >= 1 => st.begin_depth += 1,
                b"END" => st.begin_depth = st.begin_depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    fn open_quote(&mut self) {
        if !self.stmt.capture.off {
            self.stmt.capture.quoted = Some(Vec::new());
        }
    }

    /// A quoted string (`'...'`, mysql `"..."`) or identifier ends.
    fn close_quote(&mut self, identifier: bool) {
        if let Some(q) = self.stmt.capture.quoted.take() {
            let tok = if identifier {
                Tok::Ident(String::from_utf8_lossy(&q).to_uppercase())
            } else {
                Tok::Str(q)
            };
            self.stmt.capture.push(tok);
        }
    }

    fn step_mysql(&mut self, b: u8) -> Result<(), Refusal> {
        let prev = self.prev;
        self.prev = b;
        match std::mem::replace(&mut self.lex, Lex::Normal) {
            Lex::Normal => self.normal_mysql(b, prev)?,
            state @ (Lex::Single { .. } | Lex::Double) => {
                let close = if matches!(state, Lex::Double) {
                    b'"'
                } else {
                    b'\''
                };
                if prev == b'\\' {
                    self.prev = 0;
                    self.lex = state;
                    self.stmt.capture.quoted_byte(b);
                } else if b != close {
                    self.lex = state;
                    self.stmt.capture.quoted_byte(b);
                } else {
                    self.close_quote(false);
                }
            }
            Lex::Backtick => {
                if b != b'`' {
                    self.lex = Lex::Backtick;
                    self.stmt.capture.quoted_byte(b);
                } else {
                    self.close_quote(true);
                }
            }
            Lex::LineComment => {
                if b != b'\n' {
                    self.lex = Lex::LineComment;
                }
            }
            Lex::BlockOpen => match b {
                // `/*!50003 ...*/` and `/*M!100100 ...*/` are executed, not comments.
                b'!' => self.open_version_block(false),
                b'M' => self.lex = Lex::BlockOpenM,
                _ => self.lex = Lex::Block { depth: 1 },
            },
            Lex::BlockOpenM => {
                if b != b'!' {
                    self.lex = Lex::Block { depth: 1 };
                    self.prev = b;
                } else {
                    self.open_version_block(true);
                }
            }
            Lex::Block { depth } => {
                if !(prev == b'*' && b == b'/') {
                    self.lex = Lex::Block { depth };
                }
            }
            Lex::DashDash => {
                if b <= b' ' {
                    self.line_dash = false;
                    if b != b'\n' {
                        self.lex = Lex::LineComment;
                    }
                    for _ in 0..2 {
                        self.stmt.capture.toks.pop_if(|t| *t == Tok::Punct(b'-'));
                    }
                    self.stmt.capture.push(Tok::Space);
                } else {
                    // `1--1` is arithmetic.
                    self.stmt.started = true;
                    self.prev = b'-';
                    self.normal_mysql(b, b'-')?;
                }
            }
            other => unreachable!("{other:?} is not a mysql state"),
        }
        Ok(())
    }

    fn open_version_block(&mut self, mariadb: bool) {
        self.blocks_seen += 1;
        self.block = Some(VersionBlock {
            mariadb,
            cond: Cond::Unread,
            id: self.blocks_seen,
        });
    }

    /// The server never runs what the lexer is reading now.
    fn in_never_block(&self) -> bool {
        self.block.is_some_and(|b| b.cond == Cond::Never)
    }

    fn normal_mysql(&mut self, b: u8, prev: u8) -> Result<(), Refusal> {
        if std::mem::take(&mut self.pending_backslash) {
            return match b {
                b'-' => Ok(()),
                b'N' => {
                    // `\N` outside quotes is NULL.
                    self.stmt.traits.null_value = true;
                    Ok(())
                }
                _ => Err(self.refuse(format!(
                    "the mysql client command `\\{}` (mysqldump writes none)",
                    char::from(b).escape_default()
                ))),
            };
        }
        if b == self.delimiter[self.delim_matched] {
            self.delim_matched += 1;
            if self.delim_matched == self.delimiter.len() {
                self.delim_matched = 0;
                let word = std::mem::take(&mut self.word);
                if !word.is_empty() {
                    self.on_word(&word, b)?;
                }
                self.end_statement();
                return Ok(());
            }
        } else {
            self.delim_matched = usize::from(b == self.delimiter[0]);
        }
        if is_ident(b) || b == b'$' {
            if self.word.len() < MAX_WORD {
                self.word.push(b.to_ascii_uppercase());
            }
            if !self.line_first_word {
                self.stmt.started = true;
            }
            return Ok(());
        }
        let word = std::mem::take(&mut self.word);
        if self.line_first_word {
            // The client looks for a command name at the start of a line
            // while its buffer is empty: after white space, and on the line
            // after one that held only a comment (`-- `, `#`).
            if !(word.is_empty() && matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'#')) {
                self.line_first_word = false;
                if !word.is_empty() && self.mysql_command(&word)? {
                    return Ok(());
                }
                if word.is_empty() && b == b'-' {
                    // `-- ` begins a comment; anything else a statement.
                    self.line_dash = true;
                } else {
                    self.stmt.started = true;
                }
            }
        }
        let at = std::mem::take(&mut self.stmt.at);
        if !word.is_empty() {
            if at == At::User && !self.in_never_block() {
                self.user_variable(String::from_utf8_lossy(&word).into_owned());
            }
            self.on_word(&word, b)?;
        }
        if self.delim_matched == 0 && !self.in_never_block() {
            self.capture_mysql(b, prev);
        }
        match b {
            b'\'' | b'"' => {
                self.lex = if b == b'"' {
                    Lex::Double
                } else {
                    Lex::Single { escapes: true }
                };
                if at == At::User {
                    self.user_variable(String::new());
                }
                self.open_quote();
                self.on_literal()?;
            }
            b'`' => {
                self.lex = Lex::Backtick;
                if at == At::User {
                    self.user_variable(String::new());
                }
                self.open_quote();
                self.stmt.started = true;
            }
            b'#' => self.lex = Lex::LineComment,
            b'@' => {
                self.stmt.traits.variable = true;
                self.stmt.started = true;
                // `user`@`host` and `root@localhost` name accounts.
                self.stmt.at = if at == At::User && prev == b'@' {
                    At::System
                } else if matches!(prev, b'`' | b'\'' | b'"') || is_ident(prev) {
                    At::Nothing
                } else {
                    At::User
                };
            }
            b'-' if prev == b'-' => self.lex = Lex::DashDash,
            b'*' if prev == b'/' => self.lex = Lex::BlockOpen,
            b'/' if prev == b'*' && self.block.is_some() => self.block = None,
            b'(' => {
                self.stmt.started = true;
                self.stmt.traits.column_list |= !self.stmt.traits.values;
            }
            b';' if self.delimiter != b";" => {
                self.stmt.started = true;
                self.stmt.traits.semicolon();
            }
            b'\\' => {
                // Backslash commands are read anywhere outside quotes, even in `/*! */`.
                // mariadb-dump's first line `/*M!999999\- enable the sandbox mode */`
                // turns the sandbox on; `\N` is NULL.
                self.pending_backslash = true;
            }
            b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'-' => {}
            _ => self.stmt.started = true,
        }
        let traits = &mut self.stmt.traits;
        if traits.expect_literal && !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            // An introducer (`_binary`) is followed by a string or a number.
            traits.expect_literal = false;
            traits.nonliteral |= !matches!(b, b'\'' | b'"');
        }
        Ok(())
    }

    /// The tokens a `SET` is read from: `b` ends a word (already kept) and
    /// is not an identifier byte.
    fn capture_mysql(&mut self, b: u8, prev: u8) {
        let capture = &mut self.stmt.capture;
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | b'#' => capture.push(Tok::Space),
            // Quotes are kept whole when they close; `\` begins `\N`.
            b'\'' | b'"' | b'`' | b'\\' => {}
            // `/*` opens a comment and `*/` closes a version comment: space.
            b'*' if prev == b'/' => {
                capture.toks.pop_if(|t| *t == Tok::Punct(b'/'));
                capture.push(Tok::Space);
            }
            b'/' if prev == b'*' => {
                capture.toks.pop_if(|t| *t == Tok::Punct(b'*'));
                capture.push(Tok::Space);
            }
            _ => capture.push(Tok::Punct(b)),
        }
    }

    /// mysql: the statement names the user variable `name` (empty: quoted).
    fn user_variable(&mut self, name: String) {
        let st = &mut self.stmt;
        if name.is_empty() || name.len() >= MAX_WORD || st.user_vars.len() >= 64 {
            st.all_vars = true;
        } else if !st.user_vars.contains(&name) {
            st.user_vars.push(name);
        }
    }
}

impl Screen {
    /// A psql meta-command line at the top level: pass on what pg_dump writes, refuse the rest.
    fn psql_command(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), Refusal> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        let body = &text[1..];
        let name: String = body
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '\\')
            .collect();
        let args = body[name.len()..].trim();
        match name.as_str() {
            "connect" | "c" => {
                let Some(db) = connect_target(args) else {
                    return Err(self.refuse(format!(
                        "`\\{name} {args}` connects somewhere other than a database by name"
                    )));
                };
                if !self.databases.contains(&db) {
                    self.databases.push(db);
                }
                self.unit.add(StatementKind::Connect, None, false);
                match &self.restrict_key {
                    Some(key) => {
                        let key = key.clone();
                        out.extend_from_slice(format!("\\unrestrict {key}\n").as_bytes());
                        out.extend_from_slice(text.as_bytes());
                        out.extend_from_slice(format!("\n\\restrict {key}\n").as_bytes());
                    }
                    None => {
                        out.extend_from_slice(text.as_bytes());
                        out.push(b'\n');
                    }
                }
                Ok(())
            }
            // The dump's own restriction: restoredrill's (or this screen) stands in for it.
            "restrict" | "unrestrict" => Ok(()),
            _ => Err(self.refuse(format!(
                "the psql meta-command `\\{name}` (pg_dump writes only \\connect, \\restrict and \\unrestrict); \
                 a dump that runs client commands is refused"
            ))),
        }
    }

    /// The first word of a mysql statement: a client command? (true: handled)
    fn mysql_command(&mut self, word: &[u8]) -> Result<bool, Refusal> {
        let name = String::from_utf8_lossy(word).into_owned();
        if !MYSQL_COMMANDS.contains(&name.as_str()) {
            return Ok(false);
        }
        match name.as_str() {
            "DELIMITER" => self.command_arg = Some(("DELIMITER", Vec::new())),
            "USE" => self.command_arg = Some(("USE", Vec::new())),
            _ => {
                return Err(self.refuse(format!(
                    "the mysql client command `{}` (mysqldump writes only DELIMITER and USE); \
                     a dump that runs client commands is refused",
                    name.to_ascii_lowercase()
                )));
            }
        }
        Ok(true)
    }

    fn mysql_command_arg(&mut self) -> Result<(), Refusal> {
        let Some((name, arg)) = self.command_arg.take() else {
            return Ok(());
        };
        let arg = String::from_utf8_lossy(&arg).trim().to_string();
        match name {
            "DELIMITER" => {
                let d = arg.split_whitespace().next().unwrap_or_default();
                if d.is_empty() || d.contains('\\') {
                    return Err(self.refuse(format!("`DELIMITER {arg}` sets no usable delimiter")));
                }
                self.delimiter = d.as_bytes().to_vec();
                self.delim_matched = 0;
                self.unit.add(StatementKind::Other, None, false);
            }
            _ => {
                let db = arg
                    .trim_end_matches(';')
                    .trim()
                    .trim_matches('`')
                    .replace("``", "`");
                if !db.is_empty() && !self.databases.contains(&db) {
                    self.databases.push(db);
                }
                self.unit.add(StatementKind::Session, None, false);
            }
        }
        self.stmt = Statement::default();
        Ok(())
    }

    /// A word of the statement ended; `next` is the byte after it.
    fn on_word(&mut self, word: &[u8], next: u8) -> Result<(), Refusal> {
        let w = String::from_utf8_lossy(word).into_owned();
        let counts = self.version_word(&w);
        if counts {
            self.classification_word(&w, next);
        }
        // `/*!40101 SET ...*/`: the version is not a word of the statement.
        if self.stmt.words == 0 && w.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(());
        }
        if self.stmt.words < 3 {
            self.stmt.first[self.stmt.words] = w.clone();
        }
        self.stmt.words += 1;
        self.stmt.started = true;
        let [first, second] = [0, 1].map(|i| self.stmt.first[i].as_str());
        let prev = self.stmt.prev.as_str();

        if std::mem::take(&mut self.stmt.scs_value_next) {
            match w.as_str() {
                "TO" => self.stmt.scs_value_next = true,
                "ON" | "TRUE" | "YES" => {}
                _ => {
                    return Err(self.refuse(
                        "the dump turns standard_conforming_strings off (pg_dump always sets it on); \
                         its strings could not be read the way psql reads them",
                    ));
                }
            }
        }
        if self.dialect == Dialect::Postgres && w == "STANDARD_CONFORMING_STRINGS" {
            if first != "SET" {
                return Err(self.refuse(
                    "the dump changes standard_conforming_strings other than with `SET ... = on`",
                ));
            }
            self.stmt.scs_value_next = true;
        }

        if first == "COPY" {
            if w == "PROGRAM" && matches!(prev, "FROM" | "TO") {
                return Err(self.refuse(
                    "COPY ... PROGRAM runs a shell command on the database server; no dump tool writes it",
                ));
            }
            if w == "STDIN" && prev == "FROM" && self.dialect == Dialect::Postgres {
                self.stmt.copy_in = true;
            }
        }
        // pg_dumpall writes the cluster's roles, passwords included, before
        // its first `\connect`; restoredrill locks every login the dump made
        // once it is loaded.
        let cluster_globals = self.cluster && self.databases.is_empty();
        if let Some(why) = self.never_written(first, second, prev, &w) {
            return Err(self.refuse(why));
        }
        if !self.allow.logins && !cluster_globals && self.makes_login(&w) {
            return Err(self.refuse(format!(
                "`{}` makes or changes a login ({}); a single-database dump holds none. \
                 Set the job's `restore.allow_logins: true` if this dump is meant to",
                self.stmt.first[..self.stmt.words.min(3)].join(" "),
                if w == "SUPERUSER" || w == "PASSWORD" {
                    w.to_ascii_lowercase()
                } else {
                    "accounts".into()
                }
            )));
        }
        self.stmt.prev = w;
        Ok(())
    }

    /// mysql: reads the version a `/*!NNNNN` comment opens with. Whether
    /// `w` counts as a word of the statement for classifying it: not the
    /// version, nor anything in a comment no server runs (mariadb-dump's
    /// `/*M!999999\- enable the sandbox mode */`, which the client sends
    /// to the server with the statement after it).
    fn version_word(&mut self, w: &str) -> bool {
        let Some(block) = self.block.as_mut() else {
            return true;
        };
        let mut counts = true;
        if block.cond == Cond::Unread {
            let digits = w.bytes().take_while(u8::is_ascii_digit).count();
            block.cond = if digits == 0 {
                Cond::Always
            } else {
                version_cond(w, block.mariadb)
            };
            counts = digits < w.len();
        }
        counts && block.cond != Cond::Never
    }

    /// A word as the parallel loader's classification sees it.
    fn classification_word(&mut self, w: &str, next: u8) {
        let st = &mut self.stmt;
        if st.traits.words == 0 {
            st.capture.first_word(w);
        }
        if w.len() >= MAX_WORD {
            st.capture.overflow = true;
        }
        st.capture.push(Tok::Word(w.to_string()));
        st.traits.postgres = self.dialect == Dialect::Postgres;
        let block = self.block.map(|b| (b.id, b.cond));
        st.traits.word(w, block, next);
    }

    /// Whether the statement read so far, with `w` its latest word, makes
    /// or changes a login (a password, a superuser, an account, a grant).
    fn makes_login(&self, w: &str) -> bool {
        let [first, second, third] = [0, 1, 2].map(|i| self.stmt.first[i].as_str());
        match self.dialect {
            Dialect::Postgres => {
                matches!(first, "CREATE" | "ALTER")
                    && matches!(second, "ROLE" | "USER" | "GROUP")
                    && third != "MAPPING"
                    && matches!(w, "SUPERUSER" | "PASSWORD")
                    && self.stmt.words > 3
            }
            Dialect::Mysql => {
                (matches!(first, "CREATE" | "ALTER" | "RENAME" | "DROP")
                    && second == "USER"
                    && self.stmt.words == 2)
                    || (first == "GRANT" && self.stmt.words == 1)
                    || (first == "SET" && second == "PASSWORD" && self.stmt.words == 2)
            }
        }
    }

    /// Statements no dump tool writes that reach the server's files,
    /// programs or libraries: the refusal's text, if `w` completes one.
    fn never_written(&self, first: &str, second: &str, prev: &str, w: &str) -> Option<String> {
        let n = self.stmt.words;
        let what = match self.dialect {
            Dialect::Postgres => match (n, first, second) {
                (1, "DO", _) => "a `DO` block (code run at load time; pg_dump writes none)",
                (2, "ALTER", "SYSTEM") => "`ALTER SYSTEM` (changes the server's configuration)",
                (1, "LOAD", _) => "`LOAD` (loads a shared library into the server)",
                _ => return None,
            },
            // In a routine, trigger, view or event body (`CREATE ...`) these
            // words are the database's own code, which mysqldump writes as is.
            Dialect::Mysql => match (n, first, second) {
                _ if first != "CREATE" && prev == "INTO" && matches!(w, "OUTFILE" | "DUMPFILE") => {
                    "`SELECT ... INTO OUTFILE/DUMPFILE` (writes a file on the server)"
                }
                (2, "LOAD", "DATA" | "XML") => "`LOAD DATA/XML` (reads a file)",
                _ if first != "CREATE" && w == "LOAD_FILE" => {
                    "`LOAD_FILE()` (reads a file on the server)"
                }
                (1, "INSTALL" | "UNINSTALL", _) => "`INSTALL/UNINSTALL PLUGIN` (server plugins)",
                (1, "PREPARE" | "EXECUTE" | "CALL", _) => {
                    "`PREPARE`, `EXECUTE` or `CALL` (runs SQL or code the screen cannot see)"
                }
                (_, "CREATE", _) if w == "SONAME" => {
                    "`CREATE FUNCTION ... SONAME` (loads a shared library into the server)"
                }
                _ => return None,
            },
        };
        Some(format!("{what}; no dump tool writes it"))
    }

    /// A string literal starts at the top level.
    fn on_literal(&mut self) -> Result<(), Refusal> {
        self.stmt.started = true;
        if self.stmt.first[0] == "COPY" && matches!(self.stmt.prev.as_str(), "FROM" | "TO") {
            return Err(self.refuse(
                "COPY from or to a file on the database server; dumps copy from stdin only",
            ));
        }
        if self.stmt.scs_value_next {
            return Err(self.refuse(
                "the dump sets standard_conforming_strings to a quoted value (pg_dump writes `= on`)",
            ));
        }
        Ok(())
    }

    fn end_statement(&mut self) {
        if self.stmt.copy_in {
            self.copy_next_line = true;
        }
        if self.stmt.started {
            let st = &self.stmt;
            let postgres = self.dialect == Dialect::Postgres;
            let setting = matches!(st.traits.first[0].as_str(), "SET" | "RESET");
            let set = match (setting, postgres) {
                (false, false) => {
                    self.session.forget(&st.user_vars, st.all_vars);
                    None
                }
                (false, true) => None,
                (true, false) => Some(self.session.set(&st.capture.toks, st.capture.overflow)),
                (true, true) if st.capture.overflow => {
                    Some(Err("a SET too long for restoredrill to read"))
                }
                (true, true) => Some(session::postgres_set(&st.capture.toks)),
            };
            let semicolon_delimiter = self.delimiter.len() > 1 && self.delimiter[0] == b';';
            let (kind, why) =
                marks::classify(postgres, st.copy_in, &st.traits, set, semicolon_delimiter);
            #[cfg(test)]
            self.captured.push(st.capture.toks.clone());
            // mysql: an AUTO_INCREMENT column takes the next value for NULL,
            // for a column left out, and for 0 unless sql_mode says otherwise.
            let values_fixed =
                !st.traits.null_value && !st.traits.column_list && self.session.keeps_zero;
            self.unit.add(kind, why, values_fixed);
        }
        self.stmt = Statement::default();
        // The server reads each statement on its own: a version comment
        // left open ends with it.
        self.block = None;
    }

    /// The tokens a setting is read from, of the first statement of `text`.
    #[cfg(test)]
    fn capture_of(&mut self, text: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        for &b in text.as_bytes() {
            self.step(b, &mut out).expect("screened");
        }
        self.captured.first().cloned().unwrap_or_default()
    }
}

/// The database a pg_dump `\connect` line names: `\connect name`,
/// `\connect "Name"` or `\connect -reuse-previous=on "dbname='name'"`.
fn connect_target(args: &str) -> Option<String> {
    let simple = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
    };
    if let Some(rest) = args.strip_prefix("-reuse-previous=on ") {
        let inner = rest
            .trim()
            .strip_prefix("\"dbname='")?
            .strip_suffix("'\"")?;
        let name = inner.replace("\\'", "'").replace("\\\\", "\\");
        let plain = !name.contains(['"', '\'', '\\', '=', ' ']) || simple(&name);
        return (plain && !name.is_empty()).then_some(name);
    }
    if let Some(q) = args.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        let name = q.replace("\"\"", "\"");
        return (!name.is_empty() && !name.contains(['=', '\\'])).then_some(name);
    }
    simple(args).then(|| args.to_string())
}

/// An [`AsyncRead`](tokio::io::AsyncRead) that passes a dump through a [`Screen`].
/// A refusal ends the stream with an error; [`Screened::refusal`] says why.
pub struct Screened<R> {
    inner: R,
    screen: Screen,
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    pub refusal: Option<Refusal>,
    /// Set once the whole dump was read.
    pub completion: Option<Completion>,
}

impl<R> Screened<R> {
    pub fn new(inner: R, screen: Screen) -> Self {
        Self {
            inner,
            screen,
            input: vec![0; 64 * 1024],
            out: Vec::new(),
            pos: 0,
            done: false,
            refusal: None,
            completion: None,
        }
    }

    /// Decompressed bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.screen.bytes()
    }

    /// Databases the dump switches to.
    pub fn databases(&self) -> &[String] {
        &self.screen.databases
    }
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Screened<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let me = &mut *self;
        loop {
            if me.pos < me.out.len() {
                let n = buf.remaining().min(me.out.len() - me.pos);
                buf.put_slice(&me.out[me.pos..me.pos + n]);
                me.pos += n;
                return Poll::Ready(Ok(()));
            }
            if let Some(r) = &me.refusal {
                return Poll::Ready(Err(std::io::Error::other(r.to_string())));
            }
            if me.done {
                return Poll::Ready(Ok(()));
            }
            let mut read = tokio::io::ReadBuf::new(&mut me.input);
            match std::pin::Pin::new(&mut me.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            let n = read.filled().len();
            me.out.clear();
            me.pos = 0;
            let screened = if n == 0 {
                me.done = true;
                me.screen
                    .finish(&mut me.out)
                    .map(|c| me.completion = Some(c))
            } else {
                me.screen.feed(&me.input[..n], &mut me.out)
            };
            if let Err(r) = screened {
                me.out.clear();
                me.refusal = Some(r);
            }
        }
    }
}

#[cfg(test)]
mod tests;
