//! What a session setting does, as far as the parallel loader must know:
//! whether running its text again on another connection, later, leaves that
//! connection's session exactly as the one client's.
//!
//! The parallel loader repeats every `SET` of the dump on each data
//! connection, in the dump's order (see [`crate::restore::parallel`]). That
//! gives the same session only if each setting's value comes from its own
//! text and from the session itself: a literal, a session variable of the
//! kind dumps save and restore (`@@sql_mode`), or a user variable that only
//! such settings set. Anything else (an expression, a global, a user
//! variable something else set, a variable that acts on the next statement
//! only) is refused here with a reason, and the loader goes on serially.
//!
//! mysql settings are read from the screen's own tokens ([`Tok`]), never by
//! a second lexer, and the user variables they set are followed from one
//! statement to the next ([`MysqlSession`]). PostgreSQL's `SET` takes
//! literals only, so only its values are checked.

use std::collections::HashMap;

/// Tokens of a statement kept for reading a `SET` (at most [`MAX_TOKENS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// A word in upper case (numbers are words too).
    Word(String),
    /// A quoted string's bytes as written, escapes and all.
    Str(Vec<u8>),
    /// A `quoted` identifier, in upper case.
    Ident(String),
    Punct(u8),
    /// White space or a comment.
    Space,
}

/// Most tokens kept of one statement; a longer `SET` is not read.
pub(super) const MAX_TOKENS: usize = 128;
/// Most bytes kept of one quoted string in a `SET`.
pub(super) const MAX_STRING: usize = 512;

/// The tokens of the statement being read, while it may be a `SET`.
#[derive(Debug, Default)]
pub(super) struct Capture {
    pub toks: Vec<Tok>,
    /// Not a `SET`, or too long: nothing more is kept.
    pub off: bool,
    pub overflow: bool,
    /// The quoted string or identifier being read.
    pub quoted: Option<Vec<u8>>,
}

impl Capture {
    pub fn push(&mut self, tok: Tok) {
        if self.off {
            return;
        }
        if tok == Tok::Space && matches!(self.toks.last(), Some(Tok::Space) | None) {
            return;
        }
        if self.toks.len() >= MAX_TOKENS {
            self.overflow = true;
            self.off = true;
            self.toks.clear();
            return;
        }
        self.toks.push(tok);
    }

    /// The first word came: only a `SET` is kept.
    pub fn first_word(&mut self, w: &str) {
        if w != "SET" {
            self.off = true;
            self.toks.clear();
        }
    }

    pub fn quoted_byte(&mut self, b: u8) {
        if let Some(q) = self.quoted.as_mut() {
            if q.len() < MAX_STRING {
                q.push(b);
            } else {
                self.overflow = true;
            }
        }
    }
}

/// What a user variable is known to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    /// A literal (upper case) and whether it was a number.
    Literal(String, bool),
    /// `@@sql_mode` as it was: whether NO_AUTO_VALUE_ON_ZERO was in it.
    SqlMode(bool),
    /// Another session variable's value.
    Session,
    Default,
}

enum Target {
    User(String),
    Session(String),
    /// `NAMES` or `CHARACTER SET`.
    Charset,
}

enum Value {
    Literal(String, bool),
    Session(String),
    User(String),
    Default,
}

/// Session variables a setting may read: those dumps save and restore.
/// Others (`@@timestamp`, `@@pseudo_thread_id`, `@@last_insert_id`...)
/// differ from one connection to the next.
const READABLE: &[&str] = &[
    "AUTOCOMMIT",
    "CHARACTER_SET_CLIENT",
    "CHARACTER_SET_CONNECTION",
    "CHARACTER_SET_RESULTS",
    "CHECK_CONSTRAINT_CHECKS",
    "COLLATION_CONNECTION",
    "FOREIGN_KEY_CHECKS",
    "NOTE_VERBOSITY",
    "SQL_LOG_BIN",
    "SQL_MODE",
    "SQL_NOTES",
    "SQL_QUOTE_SHOW_CREATE",
    "SQL_WARNINGS",
    "TIME_ZONE",
    "UNIQUE_CHECKS",
];

/// Variables that act on the next statement only: repeated on every
/// connection they would act on each one's next statement.
const ONE_SHOT: &[&str] = &[
    "IDENTITY",
    "INSERT_ID",
    "LAST_INSERT_ID",
    "RAND_SEED1",
    "RAND_SEED2",
];

/// Time limits: connections that wait while others work (or work beside
/// them, more slowly) would hit them where one client does not.
const TIMEOUTS: &[&str] = &[
    "IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
    "IDLE_SESSION_TIMEOUT",
    "INNODB_LOCK_WAIT_TIMEOUT",
    "INTERACTIVE_TIMEOUT",
    "LOCK_TIMEOUT",
    "LOCK_WAIT_TIMEOUT",
    "MAX_STATEMENT_TIME",
    "NET_READ_TIMEOUT",
    "NET_WRITE_TIMEOUT",
    "STATEMENT_TIMEOUT",
    "WAIT_TIMEOUT",
];

/// Niladic functions a bare word may name: not a literal.
const NILADIC: &[&str] = &[
    "CURRENT_DATE",
    "CURRENT_ROLE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "UTC_DATE",
    "UTC_TIME",
    "UTC_TIMESTAMP",
];

/// Client encodings in which a byte of a multi-byte character can be a
/// quote or a backslash: psql then reads the dump differently from the
/// screen, which reads bytes.
const UNSAFE_ENCODINGS: &[&str] = &[
    "BIG5",
    "GB18030",
    "GBK",
    "JOHAB",
    "SHIFT_JIS_2004",
    "SJIS",
    "UHC",
    "WIN936",
    "WIN950",
    "WINDOWS936",
    "WINDOWS950",
];

const NOT_A_LITERAL: &str = "a SET whose value is not a literal, a session variable dumps save \
     (such as @@sql_mode) or a user variable set that way";

/// mysql: what the session settings read so far have left in the session,
/// as far as the loader needs it.
#[derive(Debug, Default)]
pub(super) struct MysqlSession {
    /// User variables set only by settings every connection repeats.
    vars: HashMap<String, Known>,
    /// `sql_mode` is known to hold NO_AUTO_VALUE_ON_ZERO: a 0 inserted into
    /// an AUTO_INCREMENT column stays 0 instead of taking the next value.
    pub keeps_zero: bool,
}

impl MysqlSession {
    /// Reads a `SET` (its tokens) and follows what it sets; `Err` when
    /// another connection running it later could end up elsewhere.
    pub fn set(&mut self, toks: &[Tok], overflow: bool) -> Result<(), &'static str> {
        if overflow {
            return Err("a SET too long for restoredrill to read");
        }
        for (target, value) in parse_mysql_set(toks)? {
            let known = match value {
                Value::Literal(text, number) => Known::Literal(text, number),
                Value::Default => Known::Default,
                Value::Session(name) => {
                    if !READABLE.contains(&name.as_str()) {
                        return Err("a SET that reads a session variable that differs from one \
                             connection to the next");
                    }
                    if name == "SQL_MODE" {
                        Known::SqlMode(self.keeps_zero)
                    } else {
                        Known::Session
                    }
                }
                Value::User(name) => match self.vars.get(&name) {
                    Some(known) => known.clone(),
                    None => {
                        return Err("a SET that reads a user variable not set by a setting \
                             every connection repeats");
                    }
                },
            };
            match target {
                Target::User(name) => {
                    if known == Known::Default {
                        return Err(NOT_A_LITERAL);
                    }
                    self.vars.insert(name, known);
                }
                Target::Session(name) => self.session_variable(&name, &known)?,
                Target::Charset => {}
            }
        }
        Ok(())
    }

    fn session_variable(&mut self, name: &str, value: &Known) -> Result<(), &'static str> {
        if ONE_SHOT.contains(&name) {
            return Err("a SET of a variable that acts on the next statement only \
                 (insert_id, last_insert_id, rand_seed)");
        }
        if TIMEOUTS.contains(&name) && !is_zero_or_default(value) {
            return Err(
                "a time limit on statements or idle connections, which several \
                 connections would meet where one does not",
            );
        }
        if name == "SQL_MODE" {
            self.keeps_zero = match value {
                Known::Literal(_, true) => {
                    return Err("sql_mode set by number");
                }
                Known::Literal(text, false) => {
                    if text.contains("NO_BACKSLASH_ESCAPES") {
                        return Err("sql_mode NO_BACKSLASH_ESCAPES, under which the client \
                             reads strings differently from restoredrill's screen");
                    }
                    text.contains("NO_AUTO_VALUE_ON_ZERO")
                }
                Known::SqlMode(keeps_zero) => *keeps_zero,
                Known::Default => false,
                Known::Session => return Err("sql_mode set from another variable"),
            };
        }
        Ok(())
    }

    /// A statement that is not a setting names these user variables (it may
    /// set them, or the code it creates may): they are not known any more.
    pub fn forget(&mut self, names: &[String], all: bool) {
        if all {
            self.vars.clear();
        }
        for n in names {
            self.vars.remove(n);
        }
    }
}

fn is_zero_or_default(value: &Known) -> bool {
    match value {
        Known::Default => true,
        Known::Literal(text, _) => text.trim_matches('0').is_empty() || text == "DEFAULT",
        _ => false,
    }
}

/// A cursor over tokens that skips white space where it does not matter.
struct Reader<'a> {
    toks: &'a [Tok],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The next token, skipping white space.
    fn next(&mut self) -> Option<&'a Tok> {
        while self.toks.get(self.at) == Some(&Tok::Space) {
            self.at += 1;
        }
        let t = self.toks.get(self.at);
        self.at += 1;
        t
    }

    /// The next token if it follows with no space between.
    fn adjacent(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.at).filter(|t| **t != Tok::Space);
        if t.is_some() {
            self.at += 1;
        }
        t
    }

    fn peek(&mut self) -> Option<&'a Tok> {
        let at = self.at;
        let t = self.next();
        self.at = at;
        t
    }

    fn word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(x)) if x == w) {
            self.next();
            return true;
        }
        false
    }

    fn punct(&mut self, p: u8) -> bool {
        if self.peek() == Some(&Tok::Punct(p)) {
            self.next();
            return true;
        }
        false
    }
}

fn name(t: Option<&Tok>) -> Option<String> {
    match t? {
        Tok::Word(w) if !w.starts_with(|c: char| c.is_ascii_digit()) => Some(w.clone()),
        Tok::Ident(w) => Some(w.clone()),
        _ => None,
    }
}

/// `@@name`, `@@session.name`, `@@local.name` after the first `@`.
fn session_name(r: &mut Reader<'_>) -> Result<String, &'static str> {
    let first = name(r.adjacent()).ok_or(NOT_A_LITERAL)?;
    if r.toks.get(r.at) == Some(&Tok::Punct(b'.')) {
        r.at += 1;
        let second = name(r.adjacent()).ok_or(NOT_A_LITERAL)?;
        return match first.as_str() {
            "SESSION" | "LOCAL" => Ok(second),
            "GLOBAL" => Err(GLOBAL),
            _ => Err(NOT_A_LITERAL),
        };
    }
    Ok(first)
}

const GLOBAL: &str = "a global setting (SET GLOBAL, @@global.x), which connections started \
     later would start with and the first did not";

/// `SET a = v [, b = w ...]` as mysql reads it.
fn parse_mysql_set(toks: &[Tok]) -> Result<Vec<(Target, Value)>, &'static str> {
    let mut r = Reader { toks, at: 0 };
    if !r.word("SET") {
        return Err(NOT_A_LITERAL);
    }
    let mut out = Vec::new();
    loop {
        let target = match r.next() {
            Some(Tok::Punct(b'@')) => match r.adjacent() {
                Some(Tok::Punct(b'@')) => Target::Session(session_name(&mut r)?),
                Some(Tok::Word(w) | Tok::Ident(w)) => Target::User(w.clone()),
                Some(Tok::Str(s)) => Target::User(String::from_utf8_lossy(s).to_uppercase()),
                _ => return Err(NOT_A_LITERAL),
            },
            Some(Tok::Word(w)) => match w.as_str() {
                "GLOBAL" | "PERSIST" | "PERSIST_ONLY" => return Err(GLOBAL),
                "SESSION" | "LOCAL" => Target::Session(name(r.next()).ok_or(NOT_A_LITERAL)?),
                "NAMES" => {
                    charset_value(&mut r)?;
                    if r.word("COLLATE") {
                        charset_value(&mut r)?;
                    }
                    out.push((Target::Charset, Value::Default));
                    if next_assignment(&mut r)? {
                        continue;
                    }
                    return Ok(out);
                }
                "CHARACTER" | "CHARSET" => {
                    if w == "CHARACTER" && !r.word("SET") {
                        return Err(NOT_A_LITERAL);
                    }
                    charset_value(&mut r)?;
                    out.push((Target::Charset, Value::Default));
                    if next_assignment(&mut r)? {
                        continue;
                    }
                    return Ok(out);
                }
                "PASSWORD" | "ROLE" | "DEFAULT" | "STATEMENT" | "TRANSACTION" => {
                    return Err(
                        "SET PASSWORD, ROLE, DEFAULT ROLE, STATEMENT or TRANSACTION, \
                         which is not a session setting restoredrill repeats",
                    );
                }
                _ if w.starts_with(|c: char| c.is_ascii_digit()) => return Err(NOT_A_LITERAL),
                _ => Target::Session(w.clone()),
            },
            Some(Tok::Ident(w)) => Target::Session(w.clone()),
            _ => return Err(NOT_A_LITERAL),
        };
        if r.punct(b':') {
            if r.adjacent() != Some(&Tok::Punct(b'=')) {
                return Err(NOT_A_LITERAL);
            }
        } else if !r.punct(b'=') {
            return Err(NOT_A_LITERAL);
        }
        out.push((target, value(&mut r)?));
        if !next_assignment(&mut r)? {
            return Ok(out);
        }
    }
}

/// After an assignment: `true` at a comma, `false` at the end.
fn next_assignment(r: &mut Reader<'_>) -> Result<bool, &'static str> {
    match r.next() {
        None => Ok(false),
        Some(Tok::Punct(b',')) => Ok(true),
        Some(_) => Err(NOT_A_LITERAL),
    }
}

/// A character set or collation: a name, a string or DEFAULT.
fn charset_value(r: &mut Reader<'_>) -> Result<(), &'static str> {
    match r.next() {
        Some(Tok::Word(_) | Tok::Str(_) | Tok::Ident(_)) => Ok(()),
        _ => Err(NOT_A_LITERAL),
    }
}

fn value(r: &mut Reader<'_>) -> Result<Value, &'static str> {
    let v = match r.next().ok_or(NOT_A_LITERAL)? {
        Tok::Punct(b'@') => match r.adjacent() {
            Some(Tok::Punct(b'@')) => Value::Session(session_name(r)?),
            Some(Tok::Word(w) | Tok::Ident(w)) => Value::User(w.clone()),
            Some(Tok::Str(s)) => Value::User(String::from_utf8_lossy(s).to_uppercase()),
            _ => return Err(NOT_A_LITERAL),
        },
        Tok::Punct(b'-' | b'+') => match r.adjacent() {
            Some(Tok::Word(w)) if w.starts_with(|c: char| c.is_ascii_digit()) => {
                Value::Literal(number(w, r)?, true)
            }
            _ => return Err(NOT_A_LITERAL),
        },
        Tok::Word(w) if w.starts_with(|c: char| c.is_ascii_digit()) => {
            Value::Literal(number(w, r)?, true)
        }
        Tok::Word(w) if w == "DEFAULT" => Value::Default,
        Tok::Word(w) if NILADIC.contains(&w.as_str()) => return Err(NOT_A_LITERAL),
        Tok::Word(w) => Value::Literal(w.clone(), false),
        Tok::Str(s) => Value::Literal(String::from_utf8_lossy(s).to_uppercase(), false),
        _ => return Err(NOT_A_LITERAL),
    };
    // A value is one token: `'a' 'b'`, `f(x)`, `1 + 1` are expressions.
    match r.peek() {
        None | Some(Tok::Punct(b',')) => Ok(v),
        Some(_) => Err(NOT_A_LITERAL),
    }
}

/// A number's text: `12`, `1.5` (digits, a dot, digits, as the lexer splits them).
fn number(first: &str, r: &mut Reader<'_>) -> Result<String, &'static str> {
    if r.toks.get(r.at) == Some(&Tok::Punct(b'.')) {
        r.at += 1;
        return match r.adjacent() {
            Some(Tok::Word(w)) if w.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Ok(format!("{first}.{w}"))
            }
            _ => Err(NOT_A_LITERAL),
        };
    }
    Ok(first.to_string())
}

/// PostgreSQL: `SET [SESSION | LOCAL] name {TO | =} value` takes literals
/// only; what is checked is the value of a few of them.
pub(super) fn postgres_set(toks: &[Tok]) -> Result<(), &'static str> {
    let words: Vec<String> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w.clone()),
            Tok::Str(s) => Some(String::from_utf8_lossy(s).to_uppercase()),
            _ => None,
        })
        .collect();
    let mut w = words.iter().map(String::as_str).skip(1).peekable();
    if matches!(w.peek(), Some(&("SESSION" | "LOCAL"))) {
        w.next();
    }
    let Some(name) = w.next() else {
        return Ok(());
    };
    let value: Vec<&str> = w.filter(|v| *v != "TO").collect();
    if matches!(name, "CLIENT_ENCODING" | "NAMES")
        && value
            .iter()
            .any(|v| UNSAFE_ENCODINGS.contains(&v.replace('-', "_").as_str()))
    {
        return Err(
            "a client encoding in which psql reads the dump differently from \
             restoredrill's screen",
        );
    }
    if TIMEOUTS.contains(&name)
        && !value
            .iter()
            .all(|v| *v == "DEFAULT" || v.trim_matches('0').is_empty())
    {
        return Err(
            "a time limit on statements or idle connections, which several \
             connections would meet where one does not",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of `text` as the screen captures them.
    fn toks(dialect: crate::restore::screen::Dialect, text: &str) -> Vec<Tok> {
        let mut s = crate::restore::screen::Screen::new(dialect, Default::default(), None);
        s.capture_of(text)
    }

    fn my(session: &mut MysqlSession, text: &str) -> Result<(), &'static str> {
        let t = toks(crate::restore::screen::Dialect::Mysql, text);
        session.set(&t, false)
    }

    #[test]
    fn mysqldump_settings_are_repeatable() {
        let mut s = MysqlSession::default();
        for set in [
            "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;",
            "/*!40101 SET NAMES utf8mb4 */;",
            "/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;",
            "/*!40103 SET TIME_ZONE='+00:00' */;",
            "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;",
            "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
            "/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;",
            "/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;",
            "/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION' */ ;",
            "/*!50003 SET character_set_client  = utf8mb3 */ ;",
            "/*!50003 SET collation_connection  = utf8mb3_general_ci */ ;",
            "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci';",
            "SET @@SESSION.SQL_LOG_BIN= 0;",
            "SET SESSION time_zone := '+01:00', @x = -1.5;",
        ] {
            my(&mut s, set).unwrap_or_else(|e| panic!("{set}: {e}"));
        }
        assert!(
            !s.keeps_zero,
            "the trigger's sql_mode has no NO_AUTO_VALUE_ON_ZERO"
        );
        my(&mut s, "/*!50003 SET sql_mode = @saved_sql_mode */ ;").unwrap();
        assert!(s.keeps_zero, "restored from the saved value");
        my(&mut s, "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;").unwrap();
        assert!(!s.keeps_zero);
        my(
            &mut s,
            "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;",
        )
        .unwrap();
    }

    #[test]
    fn settings_other_connections_cannot_repeat_are_refused() {
        let mut s = MysqlSession::default();
        my(&mut s, "SET @saved = @@time_zone;").unwrap();
        for set in [
            "SET time_zone = @never_set;",
            "SET time_zone = CONCAT('+0', '9:00');",
            "SET @x = NOW();",
            "SET @x = CURRENT_TIMESTAMP;",
            "SET @x = @@timestamp;",
            "SET @x = @@pseudo_thread_id;",
            "SET @x = @@global.time_zone;",
            "SET GLOBAL sql_mode = '';",
            "SET @@global.time_zone = '+01:00';",
            "SET insert_id = 5;",
            "SET STATEMENT max_statement_time=1 FOR INSERT INTO t VALUES (1);",
            "SET ROLE admin;",
            "SET sql_mode = 'NO_BACKSLASH_ESCAPES';",
            "SET sql_mode = 2097152;",
            "SET wait_timeout = 1;",
            "SET time_zone = 'a' 'b';",
            "SET @x = 1 + 1;",
            "SET @x = DEFAULT;",
        ] {
            assert!(my(&mut s, set).is_err(), "{set} was taken as repeatable");
        }
        my(&mut s, "SET time_zone = @saved;").unwrap();
        s.forget(&["SAVED".to_string()], false);
        assert!(my(&mut s, "SET time_zone = @saved;").is_err());
        my(&mut s, "SET @a = 1, @b = @a, wait_timeout = DEFAULT;").unwrap();
        s.forget(&[], true);
        assert!(my(&mut s, "SET @c = @b;").is_err());
    }

    #[test]
    fn postgres_settings_are_checked_for_encoding_and_time_limits() {
        let pg = |text: &str| postgres_set(&toks(crate::restore::screen::Dialect::Postgres, text));
        for ok in [
            "SET client_encoding = 'UTF8';",
            "SET statement_timeout = 0;",
            "SET idle_in_transaction_session_timeout = 0;",
            "SET search_path = public, pg_catalog;",
            "SET TIME ZONE 'UTC';",
        ] {
            pg(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "SET client_encoding = 'SJIS';",
            "SET client_encoding TO big5;",
            "SET NAMES 'GBK';",
            "SET statement_timeout = '1s';",
            "SET lock_timeout = 100;",
        ] {
            assert!(pg(bad).is_err(), "{bad}");
        }
    }
}
