//! Where a screened dump may be cut: the places the client would be between
//! statements, and where COPY data starts and ends, with what kind of
//! statements came since the last such place.
//!
//! The parallel loader (see [`crate::restore::parallel`]) cuts the dump only
//! at these marks, so every piece it hands to another connection is whole
//! statements (or whole COPY rows) exactly as the one client would have read
//! them. The marks come from the screen's own lexer: there is no second
//! reading of the dump that could disagree with it.

use super::Cond;

/// What a finished statement is, as far as loading it on several
/// connections is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// Changes only this session's settings (`SET`, `RESET`,
    /// `SELECT pg_catalog.set_config(...)`, mysql's `USE`).
    Session,
    /// Ends loading on several connections for the rest of the dump: it
    /// begins, ends or shapes a transaction, or locks tables inside one
    /// (`BEGIN`, `COMMIT`, `SET autocommit`, PostgreSQL's `LOCK`), or sets
    /// the session from a query, which other connections could not repeat.
    Serial,
    /// `COPY ... FROM stdin` (its data follows).
    Copy,
    /// PostgreSQL: `CREATE [UNIQUE] INDEX`, or `ALTER TABLE ... ADD
    /// CONSTRAINT ... PRIMARY KEY | UNIQUE (...)`: builds an index from the
    /// table's rows and needs no other object made after the tables.
    IndexBuild,
    /// mysql: `INSERT INTO t [(cols)] VALUES (...)` and nothing more: no
    /// `SELECT`, no `ON DUPLICATE KEY`, no user variable.
    PlainInsert,
    /// mysql: `LOCK TABLES ...`.
    LockTables,
    /// mysql: `UNLOCK TABLES`.
    UnlockTables,
    /// mysql: `ALTER TABLE t DISABLE KEYS` / `ENABLE KEYS`.
    Keys,
    /// Creates a trigger or a rule: later rows of its table run code.
    Trigger,
    /// psql's `\connect`: the session moves to another database.
    Connect,
    /// Anything else.
    Other,
}

/// The statements since the last mark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unit {
    pub statements: u32,
    /// The kind of the first statement.
    pub first: Option<StatementKind>,
    /// Every statement was of the first one's kind.
    pub uniform: bool,
    /// Why some statement was a [`StatementKind::Serial`].
    pub serial: Option<&'static str>,
    /// Some statement was a [`StatementKind::Session`].
    pub session: bool,
    /// Some statement was a [`StatementKind::Trigger`].
    pub trigger: bool,
    /// Some statement was a [`StatementKind::Connect`].
    pub connect: bool,
    /// mysql: the statement delimiter is `;` at the mark.
    pub plain_delimiter: bool,
    /// mysql: the delimiter at the mark, when it is short enough to keep
    /// (`delimiter_len` 0: longer than [`Unit::DELIMITER_MAX`]).
    pub delimiter: [u8; Unit::DELIMITER_MAX],
    pub delimiter_len: u8,
    /// mysql: every INSERT gives every column a value of its own: no NULL,
    /// no column list, and 0 stays 0 (NO_AUTO_VALUE_ON_ZERO), so an
    /// AUTO_INCREMENT column takes no value from the order rows arrive in.
    pub values_fixed: bool,
}

impl Unit {
    pub const DELIMITER_MAX: usize = 16;

    pub(super) fn add(&mut self, kind: StatementKind, why: Option<&'static str>, fixed: bool) {
        match self.first {
            None => {
                self.first = Some(kind);
                self.uniform = true;
                self.values_fixed = fixed;
            }
            Some(first) => {
                self.uniform &= first == kind;
                self.values_fixed &= fixed;
            }
        }
        self.statements += 1;
        if kind == StatementKind::Serial {
            self.serial = self
                .serial
                .or(why)
                .or(Some("a statement restoredrill cannot repeat"));
        }
        self.session |= kind == StatementKind::Session;
        self.trigger |= kind == StatementKind::Trigger;
        self.connect |= kind == StatementKind::Connect;
    }

    pub(super) fn set_delimiter(&mut self, delimiter: &[u8]) {
        let n = delimiter.len();
        if n <= Self::DELIMITER_MAX {
            self.delimiter[..n].copy_from_slice(delimiter);
            self.delimiter_len = n as u8;
        }
    }

    /// The delimiter at the mark, if kept.
    pub fn delimiter(&self) -> Option<&[u8]> {
        (self.delimiter_len > 0).then(|| &self.delimiter[..usize::from(self.delimiter_len)])
    }

    /// Exactly one statement, of this kind.
    pub fn is_one(&self, kind: StatementKind) -> bool {
        self.statements == 1 && self.first == Some(kind)
    }

    /// Only statements of this kind (at least one).
    pub fn is_all(&self, kind: StatementKind) -> bool {
        self.statements > 0 && self.uniform && self.first == Some(kind)
    }
}

/// A place in the screened output (an offset into the `out` of the
/// [`super::Screen::feed`] call that made it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub at: usize,
    pub kind: MarkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A line ended with the client between statements: `unit` ended here.
    Idle(Unit),
    /// COPY data starts here; `unit` holds the COPY statement (and what
    /// else came since the last mark).
    CopyData(Unit),
    /// The line `\.` that ends COPY data starts here; or, when that line
    /// began in the output of an earlier call, at 0 (the rows before it
    /// ended with a newline, so what came of the line since is not a row).
    CopyEnd,
}

/// What the screen noticed of a statement while reading it, for
/// classifying it. Its words leave out what the server skips: the version
/// of a `/*!NNNNN ... */` comment, and mysql comments no server runs.
#[derive(Debug, Default)]
pub(super) struct Traits {
    pub select: bool,
    pub duplicate: bool,
    pub variable: bool,
    pub values: bool,
    pub trigger: bool,
    pub transaction_word: bool,
    /// `PRIMARY` or `UNIQUE`.
    pub key: bool,
    /// A word that makes a constraint depend on more than its table's rows
    /// (`FOREIGN`, `REFERENCES`, `CHECK`, `EXCLUDE`, `USING INDEX`).
    pub depends: bool,
    /// `CONSTRAINT` (a constraint with a name of its own).
    pub constraint: bool,
    /// `IF` (`IF NOT EXISTS`: what it does depends on what exists already).
    pub if_word: bool,
    /// `SET` or `RESET` after the second word (`ALTER ROLE ... SET`).
    pub set_word: bool,
    /// `SET_CONFIG` named anywhere.
    pub set_config: bool,
    /// The first four words.
    pub first: [String; 4],
    /// The last two words.
    pub last: [String; 2],
    /// Words before this one.
    pub words: usize,
    /// Index of the last word that is not a number, TRUE or FALSE.
    pub last_nonnumeric: usize,
    pub postgres: bool,
    /// mysql, after VALUES: a word that is not a literal (a function, a
    /// column, DEFAULT, a clause such as RETURNING).
    pub nonliteral: bool,
    /// mysql: an introducer (`_binary`) waits for its literal.
    pub expect_literal: bool,
    /// mysql: NULL (or `\N`) among the values.
    pub null_value: bool,
    /// mysql: a parenthesis before VALUES (a column list, a partition).
    pub column_list: bool,
    /// mysql: the first word lies in a version comment that some servers
    /// skip, and more words follow outside it: which statement runs is not
    /// known.
    pub uncertain_head: bool,
    /// mysql: the version comment of the first word (its id), if the
    /// server may skip it.
    head_block: Option<u32>,
    /// mysql, under a DELIMITER other than `;`: a `;` inside the statement,
    /// and up to three words after the last one.
    pub semicolons: bool,
    pub after_semicolon: Vec<String>,
    /// The words after the `;` before the last one.
    before_last_semicolon: Vec<String>,
}

impl Traits {
    /// A word of the statement; `block` is the version comment it is in
    /// (id, whether servers run it), `next` the byte after it.
    pub fn word(&mut self, w: &str, block: Option<(u32, Cond)>, next: u8) {
        let number = w.starts_with(|c: char| c.is_ascii_digit()) || matches!(w, "TRUE" | "FALSE");
        if self.values && !self.postgres && w != "VALUES" && w != "VALUE" {
            self.value_word(w, next);
        }
        match w {
            "SELECT" => self.select = true,
            "DUPLICATE" => self.duplicate = true,
            "VALUES" | "VALUE" => self.values = true,
            // `CREATE [OR REPLACE | CONSTRAINT] TRIGGER`, `CREATE RULE`;
            // mysqldump's `/*!50003 CREATE*/ /*!50017 DEFINER=...*/ /*!50003 TRIGGER`
            // puts it later, which the mysql side allows.
            "TRIGGER" | "RULE" if self.words < 4 || !self.postgres => self.trigger = true,
            "AUTOCOMMIT" | "TRANSACTION" | "CONSTRAINTS" | "CHARACTERISTICS" => {
                self.transaction_word = true
            }
            "PRIMARY" | "UNIQUE" => self.key = true,
            "FOREIGN" | "REFERENCES" | "CHECK" | "EXCLUDE" | "USING" | "NOT" | "DEFERRABLE" => {
                self.depends = true
            }
            "CONSTRAINT" => self.constraint = true,
            "IF" => self.if_word = true,
            "SET" | "RESET" if self.words >= 2 => self.set_word = true,
            "SET_CONFIG" => self.set_config = true,
            _ => {}
        }
        match block {
            _ if self.words == 0 => {
                self.head_block = block.filter(|(_, c)| *c == Cond::Maybe).map(|(id, _)| id);
            }
            Some((id, _)) if self.head_block == Some(id) => {}
            _ => self.uncertain_head |= self.head_block.is_some(),
        }
        if self.semicolons && self.after_semicolon.len() < 3 {
            self.after_semicolon.push(w.to_string());
        }
        if self.words < 4 {
            self.first[self.words] = w.to_string();
        }
        if !number {
            self.last_nonnumeric = self.words;
        }
        self.last[0] = std::mem::replace(&mut self.last[1], w.to_string());
        self.words += 1;
    }

    /// mysql: a word among an INSERT's values.
    fn value_word(&mut self, w: &str, next: u8) {
        let literal = match w {
            _ if w.starts_with(|c: char| c.is_ascii_digit()) => true,
            "TRUE" | "FALSE" => true,
            "NULL" => {
                self.null_value = true;
                true
            }
            // `X'..'`, `B'..'`, `N'..'`
            "X" | "B" | "N" => next == b'\'',
            // `_binary '..'`: a literal must follow.
            _ if w.starts_with('_') && w.len() > 1 => {
                self.expect_literal = true;
                return;
            }
            _ => false,
        };
        if std::mem::take(&mut self.expect_literal) && !w.starts_with(|c: char| c.is_ascii_digit())
        {
            self.nonliteral = true;
        }
        self.nonliteral |= !literal;
    }

    /// mysql: a `;` that does not end the statement (DELIMITER is not `;`).
    pub fn semicolon(&mut self) {
        self.semicolons = true;
        self.before_last_semicolon = std::mem::take(&mut self.after_semicolon);
    }

    /// Under a DELIMITER other than `;`, `;` belongs in a routine, trigger
    /// or event body (`BEGIN ...; ...; END`); after the last one comes only
    /// `END` (and its label). Anything else is another statement the client
    /// sends with this one, which the screen would not classify. With a
    /// delimiter that begins with `;` (`;;`), the last `;` was the
    /// delimiter's own.
    fn hides_statements(&self, semicolon_delimiter: bool) -> bool {
        let after = if semicolon_delimiter {
            &self.before_last_semicolon
        } else {
            &self.after_semicolon
        };
        self.semicolons && !after.is_empty() && !(after[0] == "END" && after.len() <= 2)
    }

    /// `CREATE TEMP[ORARY] ...`, `CREATE OR REPLACE TEMPORARY ...`, PostgreSQL's
    /// `CREATE LOCAL|GLOBAL TEMP ...`: seen by its own connection only.
    fn temporary(&self) -> bool {
        let temp = |w: &str| matches!(w, "TEMP" | "TEMPORARY");
        let [a, b, _, d] = self.first.each_ref().map(String::as_str);
        a == "CREATE" && (temp(b) || matches!(b, "LOCAL" | "GLOBAL") || (b == "OR" && temp(d)))
    }
}

/// The kind of a finished statement, and why it ends parallel loading if
/// it does. `set`: what reading a `SET` found (see [`super::session`]).
pub(super) fn classify(
    postgres: bool,
    copy_in: bool,
    t: &Traits,
    set: Option<Result<(), &'static str>>,
    semicolon_delimiter: bool,
) -> (StatementKind, Option<&'static str>) {
    use StatementKind::*;
    let serial = |why: &'static str| (Serial, Some(why));
    let [a, b, ..] = t.first.each_ref().map(String::as_str);
    if copy_in {
        return (Copy, None);
    }
    if t.uncertain_head {
        return serial(
            "a statement that begins inside a version comment (`/*!NNNNN`, `/*M!NNNNNN`) \
             some servers skip, so which statement runs is not known",
        );
    }
    if t.hides_statements(semicolon_delimiter) {
        return serial("several statements in one under DELIMITER");
    }
    if a == "CREATE" && t.trigger {
        return (Trigger, None);
    }
    match a {
        "BEGIN" | "START" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "END" | "ABORT"
        | "XA" => {
            return serial(
                "a transaction (BEGIN, COMMIT, ...), which other connections cannot share",
            );
        }
        "LOCK" if postgres => return serial("LOCK TABLE, which holds only in its transaction"),
        "PREPARE" if b == "TRANSACTION" => return serial("PREPARE TRANSACTION"),
        // mysql's RESET (QUERY CACHE, MASTER, ...) is no session setting.
        "RESET" if !postgres => return serial("a statement mysqldump does not write"),
        "SET" | "RESET" if t.transaction_word => {
            return serial("a transaction setting (SET TRANSACTION, SET autocommit)");
        }
        "SET" | "RESET" if t.select => return serial("a setting taken from a query"),
        "SET" | "RESET" => {
            return match set {
                Some(Err(why)) => serial(why),
                _ => (Session, None),
            };
        }
        _ => {}
    }
    if t.temporary() {
        return serial("a temporary table, which other connections do not see");
    }
    if postgres {
        classify_postgres(t)
    } else {
        classify_mysql(t)
    }
}

fn classify_postgres(t: &Traits) -> (StatementKind, Option<&'static str>) {
    use StatementKind::*;
    let [a, b, c, d] = t.first.each_ref().map(String::as_str);
    // pg_dump's `SELECT pg_catalog.f(literals)`: no word after the
    // function's name but numbers, TRUE and FALSE.
    let catalog_call = a == "SELECT" && b == "PG_CATALOG" && t.last_nonnumeric == 2;
    if catalog_call && c == "SET_CONFIG" && t.last[1] == "FALSE" {
        return (Session, None);
    }
    if t.set_config {
        return (
            Serial,
            Some("set_config() other than pg_dump's own `SELECT pg_catalog.set_config(...)`"),
        );
    }
    match a {
        "SELECT"
            if catalog_call
                && matches!(
                    c,
                    "SETVAL" | "LO_CREATE" | "LO_OPEN" | "LOWRITE" | "LO_CLOSE" | "LO_UNLINK"
                ) =>
        {
            return (Other, None);
        }
        "SELECT" => {
            return (
                Serial,
                Some(
                    "a SELECT other than pg_dump's setval and large object calls, which could change the session",
                ),
            );
        }
        "ALTER" if matches!(b, "ROLE" | "USER" | "DATABASE") && t.set_word => {
            return (
                Serial,
                Some(
                    "ALTER ROLE/DATABASE ... SET, which connections started later would start with",
                ),
            );
        }
        "" | "CREATE" | "ALTER" | "DROP" | "COMMENT" | "GRANT" | "REVOKE" | "INSERT" | "UPDATE"
        | "DELETE" | "TRUNCATE" | "REFRESH" | "SECURITY" | "VACUUM" | "ANALYZE" | "CLUSTER"
        | "REINDEX" | "IMPORT" | "COPY" => {}
        _ => return (Serial, Some("a statement pg_dump does not write")),
    }
    // Named, so two built at once cannot take the same name; no IF NOT
    // EXISTS, whose outcome depends on which one runs first.
    let named = |w: &str| !matches!(w, "ON" | "IF" | "CONCURRENTLY" | "");
    let index = a == "CREATE"
        && ((b == "INDEX" && named(c)) || (b == "UNIQUE" && c == "INDEX" && named(d)));
    let key = a == "ALTER" && b == "TABLE" && t.key && t.constraint && !t.depends;
    if (index || key) && !t.select && !t.if_word {
        (IndexBuild, None)
    } else {
        (Other, None)
    }
}

fn classify_mysql(t: &Traits) -> (StatementKind, Option<&'static str>) {
    use StatementKind::*;
    let [a, b, ..] = t.first.each_ref().map(String::as_str);
    let kind = match (a, b) {
        // `USE db` sent to the server (not as the client's command).
        ("USE", _) => Session,
        ("INSERT", "INTO")
            if t.values && !t.select && !t.duplicate && !t.variable && !t.nonliteral =>
        {
            PlainInsert
        }
        ("LOCK", "TABLES" | "TABLE") => LockTables,
        ("UNLOCK", "TABLES" | "TABLE") if t.words == 2 => UnlockTables,
        ("ALTER", "TABLE")
            if t.words <= 5
                && t.last[1] == "KEYS"
                && matches!(t.last[0].as_str(), "DISABLE" | "ENABLE") =>
        {
            Keys
        }
        // mariadb-dump's `DO SETVAL(`seq`, 1001, 0)` for a sequence.
        ("DO" | "SELECT", "SETVAL") if t.last_nonnumeric == 1 => Other,
        ("FLUSH", "PRIVILEGES") if t.words == 2 => Other,
        (
            "" | "CREATE" | "DROP" | "ALTER" | "INSERT" | "REPLACE" | "UPDATE" | "DELETE"
            | "TRUNCATE" | "RENAME" | "LOCK" | "UNLOCK" | "GRANT" | "REVOKE" | "CHANGE",
            _,
        ) => Other,
        _ => return (Serial, Some("a statement mysqldump does not write")),
    };
    (kind, None)
}

#[cfg(test)]
mod tests {
    use super::super::{Allowances, Dialect, Screen};
    use super::*;

    /// The units of `dump` fed in `piece`-byte pieces: each mark's kind and
    /// the text since the mark before.
    fn units(dialect: Dialect, dump: &str, piece: usize) -> Vec<(MarkKind, String)> {
        let mut screen = Screen::new(dialect, Allowances::default(), None).marking();
        let (mut all, mut found, mut last) = (Vec::new(), Vec::new(), 0);
        for part in dump.as_bytes().chunks(piece) {
            let mut out = Vec::new();
            screen.feed(part, &mut out).unwrap();
            let base = all.len();
            all.extend_from_slice(&out);
            for m in screen.take_marks() {
                let at = base + m.at;
                found.push((m.kind, String::from_utf8_lossy(&all[last..at]).into_owned()));
                last = at;
            }
        }
        found
    }

    fn of(found: &[(MarkKind, String)], text: &str) -> MarkKind {
        found
            .iter()
            .find(|(_, t)| t.contains(text))
            .unwrap_or_else(|| panic!("no unit holds {text:?}: {found:#?}"))
            .0
    }

    fn idle(kind: MarkKind) -> Unit {
        match kind {
            MarkKind::Idle(u) => u,
            other => panic!("{other:?} is not a statement boundary"),
        }
    }

    const PG: &str = "--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\
SELECT pg_catalog.set_config('search_path', '', false);\n\
CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\nCOPY x FROM stdin;\nEND $$;\n\
CREATE TABLE public.t (\n    a integer\n);\n\n\
COPY public.t (a) FROM stdin;\n1\n2\n\\.\n\
ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (a);\n\
CREATE INDEX t_a ON public.t USING btree (a);\n\
ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_fk FOREIGN KEY (a) REFERENCES public.t(a);\n\
CREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();\n\
BEGIN;\nSET LOCAL x = 1; SET y = 2;\n\\connect other\n\
-- PostgreSQL database dump complete\n";

    #[test]
    fn pg_dump_is_cut_between_statements_and_around_copy_rows_only() {
        for piece in [1, 7, 4096] {
            let found = units(Dialect::Postgres, PG, piece);
            assert!(idle(of(&found, "client_encoding")).is_all(StatementKind::Session));
            assert!(idle(of(&found, "set_config")).is_all(StatementKind::Session));
            // A COPY line inside a function body is the body, not COPY.
            let body = idle(of(&found, "CREATE FUNCTION"));
            assert!(body.is_one(StatementKind::Other), "{body:?}");
            let MarkKind::CopyData(copy) = of(&found, "COPY public.t (a) FROM stdin;") else {
                panic!("no COPY data mark: {found:#?}")
            };
            assert!(copy.is_one(StatementKind::Copy));
            // The rows lie between the COPY's marks, and the `\.` line after,
            // unless it began in an earlier piece (then its start is before).
            assert!(
                found.iter().any(|(k, t)| *k == MarkKind::CopyEnd
                    && t.starts_with("1\n2\n")
                    && "1\n2\n\\.".starts_with(t.as_str())),
                "{found:#?}"
            );
            assert!(idle(of(&found, "CREATE TRIGGER")).trigger);
            assert!(idle(of(&found, "BEGIN;")).serial.is_some());
            assert!(idle(of(&found, "CREATE INDEX")).is_one(StatementKind::IndexBuild));
            assert!(idle(of(&found, "PRIMARY KEY (a)")).is_one(StatementKind::IndexBuild));
            let fk = idle(of(&found, "FOREIGN KEY"));
            assert!(fk.is_one(StatementKind::Other), "{fk:?}");
            let mixed = idle(of(&found, "SET LOCAL"));
            assert_eq!(mixed.statements, 2);
            assert!(mixed.is_all(StatementKind::Session));
            assert!(idle(of(&found, "\\connect other")).connect);
        }
    }

    const MY: &str = "-- MariaDB dump 10.19\n\
/*!40101 SET NAMES utf8mb4 */;\n\
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n\
USE `shop`;\n\
LOCK TABLES `t` WRITE;\n\
/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n\
INSERT INTO `t` VALUES\n(1,'a;b'),\n(2,'SELECT');\n\
INSERT INTO `t` SELECT * FROM u;\n\
INSERT INTO `t` VALUES (3,'c') ON DUPLICATE KEY UPDATE b = 'd';\n\
INSERT INTO `t` VALUES (@x, 'e');\n\
/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n\
UNLOCK TABLES;\n\
DELIMITER ;;\n\
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.b = 'x' */;;\n\
DELIMITER ;\n\
SET autocommit=0;\n\
-- Dump completed on 2026-11-24\n";

    #[test]
    fn mysqldump_statements_are_told_apart_for_parallel_loading() {
        for piece in [1, 5, 4096] {
            let found = units(Dialect::Mysql, MY, piece);
            assert!(idle(of(&found, "SET NAMES")).is_all(StatementKind::Session));
            assert!(idle(of(&found, "UNIQUE_CHECKS=0")).is_all(StatementKind::Session));
            assert!(idle(of(&found, "USE `shop`")).is_all(StatementKind::Session));
            assert!(idle(of(&found, "LOCK TABLES")).is_one(StatementKind::LockTables));
            assert!(idle(of(&found, "DISABLE KEYS")).is_one(StatementKind::Keys));
            let insert = idle(of(&found, "(2,'SELECT')"));
            assert!(insert.is_one(StatementKind::PlainInsert) && insert.plain_delimiter);
            for not_plain in ["SELECT * FROM u", "ON DUPLICATE", "@x"] {
                let u = idle(of(&found, not_plain));
                assert!(u.is_one(StatementKind::Other), "{not_plain}: {u:?}");
            }
            assert!(idle(of(&found, "UNLOCK TABLES")).is_one(StatementKind::UnlockTables));
            let trigger = idle(of(&found, "TRIGGER `tr`"));
            assert!(trigger.trigger && !trigger.plain_delimiter);
            assert!(idle(of(&found, "autocommit")).serial.is_some());
        }
    }

    /// The unit holding `text`, read in pieces of 1 and 4096 bytes (both
    /// must agree).
    fn unit_of(dialect: Dialect, dump: &str, text: &str) -> Unit {
        let one = idle(of(&units(dialect, dump, 1), text));
        assert_eq!(one, idle(of(&units(dialect, dump, 4096), text)), "{text}");
        one
    }

    #[test]
    fn mariadb_dump_s_sandbox_line_leaves_the_first_setting_a_setting() {
        // The client sends the line with the statement after it; no server
        // runs `/*M!999999 ... */`, so what runs is the SET.
        let dump = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n--\n\n\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n\
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n\
/*M!120000 a MariaDB 12 comment */ SET time_zone = '+09:00';\n\
/*!40101 SET NAMES utf8mb4 */ /*M!100616 SET NOTE_VERBOSITY=0 */;\n\
-- Dump completed\n";
        let first = unit_of(Dialect::Mysql, dump, "OLD_CHARACTER_SET_CLIENT=@@");
        assert!(first.is_all(StatementKind::Session), "{first:?}");
        let restore = unit_of(Dialect::Mysql, dump, "=@OLD_CHARACTER_SET_CLIENT");
        assert!(restore.is_all(StatementKind::Session), "{restore:?}");
        // MariaDB 10.11 skips the comment and runs the SET; 12 would not.
        let maybe = unit_of(Dialect::Mysql, dump, "MariaDB 12");
        assert!(
            maybe.serial.is_some_and(|w| w.contains("version comment")),
            "{maybe:?}"
        );
        let both = unit_of(Dialect::Mysql, dump, "NOTE_VERBOSITY=0");
        assert!(both.serial.is_some(), "{both:?}");
    }

    #[test]
    fn mysql_statements_the_data_connections_cannot_repeat_are_serial() {
        let dump = "SET time_zone = @never_set;\n\
SELECT '+09:00' INTO @tz;\n\
DO SETVAL(`seq`, 1001, 0);\n\
FLUSH TABLES WITH READ LOCK;\n\
RESET QUERY CACHE;\n\
CREATE TEMPORARY TABLE t (a int);\n\
CREATE OR REPLACE TEMPORARY TABLE u (a int);\n\
SET GLOBAL sql_mode = '';\n\
SET STATEMENT max_statement_time=1 FOR INSERT INTO t VALUES (1);\n\
SET time_zone = '+09:00'; DROP TABLE IF EXISTS x;\n\
-- a comment line, after which the client still reads DELIMITER\n\
DELIMITER ;;\n\
/*!50003 SET @saved_sql_mode = @@sql_mode */ ;;\n\
CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;;\n\
INSERT INTO t VALUES (1); SET time_zone = '+09:00';;\n\
  DELIMITER //\n\
CREATE PROCEDURE q() BEGIN SELECT 1; END//\n\
INSERT INTO t VALUES (1); SET NAMES latin1//\n\
DELIMITER ;\n\
-- Dump completed\n";
        for (text, why) in [
            ("@never_set", "user variable"),
            ("INTO @tz", "does not write"),
            ("FLUSH TABLES", "does not write"),
            ("RESET QUERY", "does not write"),
            ("TEMPORARY TABLE t", "temporary"),
            ("TEMPORARY TABLE u", "temporary"),
            ("GLOBAL", "global"),
            ("SET STATEMENT", "STATEMENT"),
            ("'+09:00';;", "several statements"),
            ("SET NAMES latin1//", "several statements"),
        ] {
            let u = unit_of(Dialect::Mysql, dump, text);
            assert!(u.serial.is_some_and(|w| w.contains(why)), "{text}: {u:?}");
        }
        assert!(unit_of(Dialect::Mysql, dump, "SETVAL").is_one(StatementKind::Other));
        // A setting with another statement on its line: the loader goes serial.
        let mixed = unit_of(Dialect::Mysql, dump, "DROP TABLE IF EXISTS x");
        assert!(
            mixed.session && !mixed.is_all(StatementKind::Session),
            "{mixed:?}"
        );
        // Settings and bodies under `;;` are what mariadb-dump writes.
        let saved = unit_of(Dialect::Mysql, dump, "@saved_sql_mode");
        assert!(saved.is_all(StatementKind::Session) && !saved.plain_delimiter);
        assert_eq!(saved.delimiter(), Some(&b";;"[..]));
        let body = unit_of(Dialect::Mysql, dump, "PROCEDURE p()");
        assert!(body.is_one(StatementKind::Other), "{body:?}");
        let body = unit_of(Dialect::Mysql, dump, "PROCEDURE q()");
        assert!(body.is_one(StatementKind::Other), "{body:?}");
    }

    #[test]
    fn only_inserts_of_literals_go_to_other_connections() {
        let dump = "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n\
INSERT INTO `t` VALUES (1,-2.5e-3,'a',_binary 'b\\0',X'00ff',0x1F,b'101',TRUE);\n\
INSERT INTO `t` VALUES (2,NULL,'a');\n\
INSERT INTO `t` (`a`, `b`) VALUES (3,'a');\n\
INSERT INTO `t` VALUES (4,LAST_INSERT_ID());\n\
INSERT INTO `t` VALUES (5,CONNECTION_ID());\n\
INSERT INTO `t` VALUES (6,DEFAULT);\n\
INSERT INTO `t` VALUES (7,_utf8mb4(1));\n\
INSERT INTO `t` VALUES (8,'a') RETURNING a;\n\
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\
INSERT INTO `t` VALUES (9,'a');\n\
-- Dump completed\n";
        let literal = unit_of(Dialect::Mysql, dump, "(1,");
        assert!(
            literal.is_one(StatementKind::PlainInsert) && literal.values_fixed,
            "{literal:?}"
        );
        for text in ["(2,", "(3,"] {
            let u = unit_of(Dialect::Mysql, dump, text);
            assert!(
                u.is_one(StatementKind::PlainInsert) && !u.values_fixed,
                "{text}: {u:?}"
            );
        }
        for text in ["(4,", "(5,", "(6,", "(7,", "(8,"] {
            let u = unit_of(Dialect::Mysql, dump, text);
            assert!(u.is_one(StatementKind::Other), "{text}: {u:?}");
        }
        // Without NO_AUTO_VALUE_ON_ZERO a 0 would take the next id.
        let after = unit_of(Dialect::Mysql, dump, "(9,");
        assert!(
            after.is_one(StatementKind::PlainInsert) && !after.values_fixed,
            "{after:?}"
        );
    }

    #[test]
    fn psql_statements_end_where_psql_ends_them() {
        // pg_dump 15's own output: `;` inside parentheses and inside a
        // SQL-standard body does not end the statement for psql.
        let dump = "CREATE FUNCTION public.two(i integer) RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT\n         CASE\n             WHEN (i > 0) THEN 1\n             ELSE 2\n         END AS \"case\";\n SELECT 3;\nEND;\n\
CREATE RULE r AS\n    ON INSERT TO public.rt DO ( SELECT 1 AS \"?column?\";\n SELECT pg_catalog.set_config('TimeZone', 'Asia/Tokyo', false);\n);\n\
BEGIN;\n";
        let function = unit_of(Dialect::Postgres, dump, "SELECT 3;");
        assert!(function.is_one(StatementKind::Other), "{function:?}");
        assert!(unit_of(Dialect::Postgres, dump, "CREATE FUNCTION").is_one(StatementKind::Other));
        let rule = unit_of(Dialect::Postgres, dump, "set_config");
        assert!(rule.is_one(StatementKind::Trigger), "{rule:?}");
        assert!(unit_of(Dialect::Postgres, dump, "BEGIN;").serial.is_some());
    }

    #[test]
    fn pg_statements_the_data_connections_cannot_repeat_are_serial() {
        let dump = "SELECT set_config('TimeZone', 'Asia/Tokyo', false);\n\
SELECT pg_catalog.set_config('TimeZone', 'Asia/Tokyo'::text, false);\n\
SELECT public.f();\n\
DISCARD ALL;\n\
CREATE TEMP TABLE t (a int);\n\
CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1;\n\
ALTER ROLE CURRENT_USER SET TimeZone = 'Asia/Tokyo';\n\
ALTER DATABASE d SET search_path = x;\n\
SET client_encoding = 'SJIS';\n\
SET statement_timeout = '1s';\n\
SELECT pg_catalog.setval('public.s', 42, true);\n\
SELECT pg_catalog.lo_open('16476', 131072);\n\
ALTER DATABASE d RENAME TO e;\n\
CREATE INDEX i ON public.t USING btree (a);\n\
CREATE UNIQUE INDEX u ON public.t USING btree (a);\n\
CREATE INDEX ON public.t (a);\n\
CREATE INDEX IF NOT EXISTS j ON public.t (a);\n\
ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (a);\n\
ALTER TABLE ONLY public.t ADD UNIQUE (a);\n\
-- PostgreSQL database dump complete\n";
        for (text, why) in [
            ("set_config('TimeZone', 'Asia/Tokyo', false)", "set_config"),
            ("::text", "set_config"),
            ("public.f()", "SELECT"),
            ("DISCARD", "does not write"),
            ("TEMP TABLE", "temporary"),
            ("TEMPORARY VIEW", "temporary"),
            ("CURRENT_USER", "ALTER ROLE"),
            ("search_path = x", "ALTER ROLE"),
            ("SJIS", "encoding"),
            ("'1s'", "time limit"),
        ] {
            let u = unit_of(Dialect::Postgres, dump, text);
            assert!(u.serial.is_some_and(|w| w.contains(why)), "{text}: {u:?}");
        }
        for text in [
            "setval",
            "lo_open",
            "RENAME TO",
            "ON public.t (a)",
            "IF NOT EXISTS",
            "ADD UNIQUE",
        ] {
            let u = unit_of(Dialect::Postgres, dump, text);
            assert!(u.is_one(StatementKind::Other), "{text}: {u:?}");
        }
        for text in ["INDEX i", "INDEX u", "t_pkey"] {
            let u = unit_of(Dialect::Postgres, dump, text);
            assert!(u.is_one(StatementKind::IndexBuild), "{text}: {u:?}");
        }
    }
}
