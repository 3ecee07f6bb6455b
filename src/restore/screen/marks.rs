//! Where a screened dump may be cut: the places the client would be between
//! statements, and where COPY data starts and ends, with what kind of
//! statements came since the last such place.
//!
//! The parallel loader (see [`crate::restore::parallel`]) cuts the dump only
//! at these marks, so every piece it hands to another connection is whole
//! statements (or whole COPY rows) exactly as the one client would have read
//! them. The marks come from the screen's own lexer: there is no second
//! reading of the dump that could disagree with it.

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
    /// Some statement was a [`StatementKind::Serial`].
    pub serial: bool,
    /// Some statement was a [`StatementKind::Trigger`].
    pub trigger: bool,
    /// Some statement was a [`StatementKind::Connect`].
    pub connect: bool,
    /// mysql: the statement delimiter is `;` at the mark.
    pub plain_delimiter: bool,
}

impl Unit {
    pub(super) fn add(&mut self, kind: StatementKind) {
        match self.first {
            None => {
                self.first = Some(kind);
                self.uniform = true;
            }
            Some(first) => self.uniform &= first == kind,
        }
        self.statements += 1;
        self.serial |= kind == StatementKind::Serial;
        self.trigger |= kind == StatementKind::Trigger;
        self.connect |= kind == StatementKind::Connect;
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

/// What the screen noticed of a statement while reading it.
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
    /// The last two words.
    pub last: [String; 2],
    /// Words before this one.
    pub words: usize,
    pub postgres: bool,
}

impl Traits {
    pub fn word(&mut self, w: &str) {
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
            _ => {}
        }
        self.last[0] = std::mem::replace(&mut self.last[1], w.to_string());
        self.words += 1;
    }
}

/// The kind of a finished statement from its first words and traits.
pub(super) fn classify(
    postgres: bool,
    first: &[String; 3],
    words: usize,
    copy_in: bool,
    t: &Traits,
) -> StatementKind {
    use StatementKind::*;
    let [a, b, c] = [0, 1, 2].map(|i| first[i].as_str());
    if copy_in {
        return Copy;
    }
    if a == "CREATE" && t.trigger {
        return Trigger;
    }
    match a {
        "BEGIN" | "START" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "END" | "ABORT"
        | "XA" => return Serial,
        "LOCK" if postgres => return Serial,
        "PREPARE" if b == "TRANSACTION" => return Serial,
        "SET" | "RESET" if t.transaction_word || t.select => return Serial,
        "SET" | "RESET" => return Session,
        // pg_dump's `SELECT pg_catalog.set_config('search_path', '', false);`
        "SELECT"
            if postgres
                && b == "PG_CATALOG"
                && c == "SET_CONFIG"
                && words == 4
                && t.last[1] == "FALSE" =>
        {
            return Session;
        }
        _ => {}
    }
    if postgres {
        let index = a == "CREATE" && (b == "INDEX" || (b == "UNIQUE" && c == "INDEX"));
        let key = a == "ALTER" && b == "TABLE" && t.key && !t.depends;
        return if (index || key) && !t.select {
            IndexBuild
        } else {
            Other
        };
    }
    match (a, b) {
        ("INSERT", "INTO") if t.values && !t.select && !t.duplicate && !t.variable => PlainInsert,
        ("LOCK", "TABLES" | "TABLE") => LockTables,
        ("UNLOCK", "TABLES" | "TABLE") if words == 2 => UnlockTables,
        ("ALTER", "TABLE")
            if words <= 5
                && t.last[1] == "KEYS"
                && matches!(t.last[0].as_str(), "DISABLE" | "ENABLE") =>
        {
            Keys
        }
        _ => Other,
    }
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
            assert!(idle(of(&found, "BEGIN;")).serial);
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
            assert!(idle(of(&found, "autocommit")).serial);
        }
    }
}
