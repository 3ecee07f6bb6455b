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
    /// The line `\.` that ends COPY data starts here.
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
        return Other;
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
