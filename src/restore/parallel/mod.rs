//! Loads a plain SQL dump on several connections: the statements on one main
//! client, in order, and table data spread over `restore.parallel` more.
//!
//! The dump is read once, as a stream, through the same [`Screen`] as a
//! serial load; the screen marks where the client would stand between
//! statements (it ends statements where psql and mysql do: not at a `;`
//! inside parentheses or a `BEGIN ATOMIC` body, and it follows `DELIMITER`
//! as the client does), and the dump is cut only there. What goes where:
//!
//! - **pg_dump:** the rows of each `COPY ... FROM stdin` go in chunks of
//!   whole lines to the data connections in turn, each with its own
//!   `COPY` of the same table (rows of PostgreSQL's text format are lines).
//!   Index builds with a name of their own (`CREATE INDEX name`, `ADD
//!   CONSTRAINT name PRIMARY KEY/UNIQUE`, no `IF NOT EXISTS`) go out the
//!   same way once every row is in. Every other statement runs on the main
//!   client.
//! - **mysqldump / mariadb-dump:** each `INSERT INTO t VALUES ...` of
//!   literals only goes to the data connection of its table (each table
//!   gets one, in turn, so one table's rows never load on two connections
//!   at once: that can deadlock in InnoDB), where `t` was created in
//!   the dump (in the database `USE` names) with no unique key but its
//!   primary key (concurrent inserts into an InnoDB unique index can
//!   deadlock) and has no trigger; into a table with an AUTO_INCREMENT
//!   column only rows that give every column a value of their own (no NULL,
//!   no column list, 0 kept by NO_AUTO_VALUE_ON_ZERO), since a generated id
//!   would follow the order rows arrive in. `LOCK TABLES t WRITE` and
//!   `ALTER TABLE t DISABLE/ENABLE KEYS` around them are left out (they only
//!   speed up a single client), and taken up again, in order, if anything
//!   else turns up while they would hold.
//!
//! Order is kept where it matters: before table data goes out, the main
//! client is synced (its `CREATE TABLE` has run and committed); before any
//! other statement runs on it, every data connection is synced (all rows
//! are in). Session settings run on every connection, in the dump's order
//! (under the `DELIMITER` they were read under), but only those whose effect
//! another connection repeating them later is sure to reproduce: a value
//! that is a literal, a session variable of the kind dumps save and restore
//! (`@@sql_mode`), or a user variable set only by such settings (see
//! `screen::session`). So the loaded database is the one the single client
//! makes; only the physical order of rows within a table may differ.
//!
//! Whatever this does not fully understand goes on one connection from
//! there on, with a log line and the reason in the run report
//! (`load.serial_reason`): a dump not written by pg_dump or mysqldump,
//! `\connect`, transactions; a setting it cannot repeat exactly (from an
//! expression, a query, a global, a user variable set otherwise, a variable
//! for the next statement only, a time limit, an encoding or sql_mode under
//! which the client reads the dump differently from the screen) or one on a
//! line with other statements; a temporary table; `set_config` other than
//! pg_dump's own, a `SELECT`, `DISCARD` or anything else the dump tools do
//! not write; `ALTER ROLE/DATABASE ... SET`; a statement that starts in a
//! version comment some servers skip; several statements in one under
//! `DELIMITER`; a trigger on a table still to be loaded (MySQL) or any
//! trigger before table data (PostgreSQL); table locks it cannot leave out;
//! statements too long to hold. Every rule of the serial load holds: the
//! screen refuses the same things, every connection stops at its first
//! error, and the dump must reach its completion line.
//!
//! What it does not look into: code the dump defines and that runs while
//! rows load (a function called from a CHECK constraint, a column default
//! or an index expression) runs on whichever connection loads the rows.

mod data;
mod names;
mod pool;

use std::collections::HashMap;

use bollard::Docker;
use tokio::io::{AsyncRead, AsyncReadExt};

use self::pool::{Gone, Worker};
use super::RestoreError;
use super::client::Client;
use super::exec::ExecOutcome;
use super::screen::{Completion, Dialect, Mark, MarkKind, Refusal, Screen, StatementKind, Unit};

/// Rows handed to a connection at a time (PostgreSQL COPY data).
const CHUNK: usize = 256 * 1024;
/// The longest statement held back while it is decided where it goes.
const HOLD_POSTGRES: usize = 1 << 20;
const HOLD_MYSQL: usize = 8 << 20;
/// Most session settings repeated on each connection.
const SESSION_LOG: usize = 1 << 20;
/// How long the other connections may take to stop once one has failed.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Where and how the connections run.
pub(super) struct Setup<'a> {
    pub docker: &'a Docker,
    pub container: &'a str,
    pub dialect: Dialect,
    /// The client command, for the main client and every data connection.
    pub command: Vec<String>,
    pub env: Vec<String>,
    /// Connections for table data.
    pub connections: u32,
    /// psql's `\restrict` line for each data connection, when psql has it.
    pub prologue: Vec<u8>,
}

/// How the load went: the tools' combined outcome and what the screen saw.
pub(super) struct Done {
    pub outcome: ExecOutcome,
    pub refusal: Option<Refusal>,
    pub completion: Option<Completion>,
    pub bytes: u64,
    pub databases: Vec<String>,
    /// Connections used: the main client and each data connection that got
    /// table data (1: all on the main client).
    pub connections: u32,
    pub serial_reason: Option<String>,
}

/// Loads `stream` through `screen` (made with [`Screen::marking`]).
pub(super) async fn load(
    setup: Setup<'_>,
    mut screen: Screen,
    stream: &mut (dyn AsyncRead + Send + Unpin),
) -> Result<Done, RestoreError> {
    let token = format!("rdsync-{}", random_key());
    let main = Client::start(
        setup.docker,
        setup.container,
        setup.command.clone(),
        setup.env.clone(),
        &token,
    )
    .await?;
    let mut router = Router::new(&setup, main, token);
    let mut input = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(128 * 1024);
    let mut input_error = None;
    let mut refusal = None;
    let mut completion = None;
    let mut stopped = false;
    loop {
        let n = match stream.read(&mut input).await {
            Ok(n) => n,
            Err(e) => {
                input_error = Some(e);
                break;
            }
        };
        out.clear();
        let screened = if n == 0 {
            screen.finish(&mut out).map(Some)
        } else {
            screen.feed(&input[..n], &mut out).map(|()| None)
        };
        match screened {
            Ok(c) => completion = c,
            Err(r) => {
                refusal = Some(r);
                break;
            }
        }
        let marks = screen.take_marks();
        if router.route(&out, &marks).await.is_err() {
            stopped = true;
            break;
        }
        if n == 0 {
            break;
        }
    }
    let failed = stopped || refusal.is_some();
    let (mut outcome, connections, serial_reason) = router.finish(failed).await?;
    outcome.input_error = input_error;
    Ok(Done {
        outcome,
        refusal,
        completion,
        bytes: screen.bytes(),
        databases: screen.databases.clone(),
        connections,
        serial_reason,
    })
}

fn random_key() -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Rows of the COPY being spread over the data connections.
struct Copy {
    /// The `COPY ... FROM stdin;` line each connection runs.
    header: Vec<u8>,
    /// Whole lines not yet handed out.
    chunk: Vec<u8>,
    /// The start of a line whose end has not come yet.
    partial: Vec<u8>,
}

/// mysqldump's `LOCK TABLES t WRITE` (and `DISABLE KEYS`), held back while
/// only rows of `t` follow.
struct LockBlock {
    table: String,
    held: Vec<Vec<u8>>,
}

/// Where the bytes between marks go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Held in `pending` until the mark that ends them says where they go.
    Hold,
    /// To the main client as they come (a statement too long to hold, COPY
    /// data loaded on the main client, or everything once serial).
    Main,
    /// COPY rows to the data connections.
    Rows,
    /// Dropped (the `\.` that ends COPY rows, sent to each connection instead).
    Drop,
}

struct Router<'a> {
    docker: &'a Docker,
    container: &'a str,
    dialect: Dialect,
    command: Vec<String>,
    env: Vec<String>,
    prologue: Vec<u8>,
    token: String,
    want: usize,
    main: Client,
    workers: Vec<Worker>,
    next: usize,
    flow: Flow,
    pending: Vec<u8>,
    copy: Option<Copy>,
    lock: Option<LockBlock>,
    /// Settings every connection runs before its work, in order.
    session: Vec<Vec<u8>>,
    session_bytes: usize,
    /// The main client ran statements since it was last synced.
    main_dirty: bool,
    /// Data went out since the connections were last synced.
    workers_dirty: bool,
    /// COPY rows went out since the last index build.
    rows_out: bool,
    /// The main client holds table locks (`LOCK TABLES` it ran).
    main_locked: bool,
    /// mysql: tables whose INSERTs may be spread, by database and name
    /// (see `note_table`), and whether each has an AUTO_INCREMENT column.
    spread_tables: HashMap<(String, String), bool>,
    /// mysql: the data connection each table's INSERTs go to. One table's
    /// rows never load on two connections at once: concurrent inserts into
    /// one InnoDB table can deadlock (seen: `ERROR 1213` on an
    /// AUTO_INCREMENT table given its own ids), which a single client
    /// never meets.
    table_worker: HashMap<(String, String), usize>,
    /// mysql: the database unqualified names are in (`USE`; "" until one),
    /// `None` after a `USE` restoredrill could not read.
    current_db: Option<String>,
    /// Everything goes to the main client from here on, for this reason.
    serial: Option<String>,
    /// Table data was loaded on the main client because of `serial`.
    serial_data: bool,
    /// PostgreSQL: a trigger or rule exists already; COPY would fire it.
    trigger_seen: bool,
    /// The first failure: which connection, when one stopped.
    gone: Option<&'static str>,
}

impl<'a> Router<'a> {
    fn new(setup: &Setup<'a>, main: Client, token: String) -> Self {
        Self {
            docker: setup.docker,
            container: setup.container,
            dialect: setup.dialect,
            command: setup.command.clone(),
            env: setup.env.clone(),
            prologue: setup.prologue.clone(),
            token,
            want: setup.connections.max(1) as usize,
            main,
            workers: Vec::new(),
            next: 0,
            flow: Flow::Hold,
            pending: Vec::new(),
            copy: None,
            lock: None,
            session: Vec::new(),
            session_bytes: 0,
            main_dirty: true,
            workers_dirty: false,
            rows_out: false,
            main_locked: false,
            spread_tables: HashMap::new(),
            table_worker: HashMap::new(),
            current_db: Some(String::new()),
            serial: None,
            serial_data: false,
            trigger_seen: false,
            gone: None,
        }
    }

    /// Routes one screened piece of the dump and its marks.
    async fn route(&mut self, out: &[u8], marks: &[Mark]) -> Result<(), Gone> {
        let mut pos = 0;
        for mark in marks {
            self.bytes(&out[pos..mark.at]).await?;
            pos = mark.at;
            match mark.kind {
                MarkKind::Idle(unit) => self.on_idle(unit).await?,
                MarkKind::CopyData(unit) => self.on_copy_data(unit).await?,
                MarkKind::CopyEnd => self.on_copy_end().await?,
            }
        }
        self.bytes(&out[pos..]).await
    }

    async fn bytes(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self.flow {
            Flow::Main => self.send_main(bytes).await,
            Flow::Drop => Ok(()),
            Flow::Rows => self.rows(bytes).await,
            Flow::Hold => {
                self.pending.extend_from_slice(bytes);
                let hold = match self.dialect {
                    Dialect::Postgres => HOLD_POSTGRES,
                    Dialect::Mysql => HOLD_MYSQL,
                };
                if self.pending.len() > hold {
                    // Too long to be held: it runs on the main client, in order.
                    self.unlock_held().await?;
                    self.barrier().await?;
                    let pending = std::mem::take(&mut self.pending);
                    self.send_main(&pending).await?;
                    self.main_dirty = true;
                    self.flow = Flow::Main;
                    // What it was is known only at its end: were it a session
                    // setting, the other connections would have missed it.
                    self.go_serial(format!("a statement longer than {} KiB", hold >> 10));
                }
                Ok(())
            }
        }
    }

    /// A statement boundary: `unit` is complete (held in `pending`, unless
    /// it already went to the main client).
    async fn on_idle(&mut self, unit: Unit) -> Result<(), Gone> {
        let rest = self.rest_flow();
        let flow = std::mem::replace(&mut self.flow, rest);
        match flow {
            Flow::Drop | Flow::Rows => return Ok(()),
            Flow::Main => {
                // It ran on the main client already; what it was still counts.
                if let Some(why) = self.serial_reason(&unit) {
                    self.go_serial(why);
                }
                self.serial_data |=
                    self.serial.is_some() && unit.is_one(StatementKind::PlainInsert);
                self.flow = self.rest_flow();
                return Ok(());
            }
            Flow::Hold => {}
        }
        // A copy of exactly its length: `pending` grew by doubling and may
        // hold twice that, and it stays allocated for the next statement.
        let text = self.pending.clone();
        self.pending.clear();
        self.place(unit, text).await
    }

    /// Where bytes go after a boundary.
    fn rest_flow(&self) -> Flow {
        if self.serial.is_some() {
            Flow::Main
        } else {
            Flow::Hold
        }
    }

    fn go_serial(&mut self, why: String) {
        if self.serial.is_none() {
            tracing::info!(
                reason = %why,
                "loading the rest of the dump on one connection"
            );
            self.serial = Some(why);
        }
    }

    /// Why a unit ends loading on several connections, if it does.
    fn serial_reason(&self, unit: &Unit) -> Option<String> {
        if unit.connect {
            return Some("the dump switches databases (\\connect)".into());
        }
        if let Some(why) = unit.serial {
            return Some(why.into());
        }
        if unit.session && !unit.is_all(StatementKind::Session) {
            // The unit runs on the main client only: its setting would be
            // missing on the data connections.
            return Some("a session setting on one line with other statements".into());
        }
        None
    }

    /// Sends a complete unit where it belongs.
    async fn place(&mut self, unit: Unit, text: Vec<u8>) -> Result<(), Gone> {
        if unit.statements == 0 {
            // Comments (and psql's `\restrict` line): nothing runs.
            return self.send_main(&text).await;
        }
        if let Some(why) = self.serial_reason(&unit) {
            self.go_serial(why);
        }
        if self.dialect == Dialect::Postgres && unit.trigger {
            self.trigger_seen = true;
        }
        if self.serial.is_some() {
            self.serial_data |= unit.is_one(StatementKind::PlainInsert);
            return self.run_on_main(&text).await;
        }
        if unit.is_all(StatementKind::Session) {
            return self.session_setting(&unit, text).await;
        }
        if self.dialect == Dialect::Mysql {
            return self.place_mysql(unit, text).await;
        }
        if unit.is_one(StatementKind::IndexBuild) {
            // Built from all of its table's rows, beside other index builds.
            if std::mem::take(&mut self.rows_out) {
                self.barrier().await?;
            }
            return self.send_statement(text).await;
        }
        self.run_on_main(&text).await
    }

    async fn session_setting(&mut self, unit: &Unit, text: Vec<u8>) -> Result<(), Gone> {
        self.session_bytes += text.len();
        if self.session_bytes > SESSION_LOG {
            self.go_serial("more session settings than restoredrill repeats".into());
            return self.run_on_main(&text).await;
        }
        // A data connection reads with `;` between the pieces it is sent;
        // a setting read under another DELIMITER is repeated under it.
        let wrapped = match (self.dialect, unit.delimiter()) {
            (Dialect::Postgres, _) => None,
            (Dialect::Mysql, _) if unit.plain_delimiter => None,
            (Dialect::Mysql, Some(delimiter)) => {
                let mut wrapped = b"DELIMITER ".to_vec();
                wrapped.extend_from_slice(delimiter);
                wrapped.push(b'\n');
                wrapped.extend_from_slice(&text);
                wrapped.extend_from_slice(b"DELIMITER ;\n");
                Some(wrapped)
            }
            (Dialect::Mysql, None) => {
                self.go_serial("a session setting under a DELIMITER too long to repeat".into());
                return self.run_on_main(&text).await;
            }
        };
        if self.dialect == Dialect::Mysql {
            self.note_use(&text);
        }
        // The main client needs it too; it changes no data, so no sync.
        self.send_main(&text).await?;
        self.session.push(wrapped.unwrap_or(text));
        Ok(())
    }

    /// Runs statements on the main client, after every row sent out is in.
    async fn run_on_main(&mut self, text: &[u8]) -> Result<(), Gone> {
        self.unlock_held().await?;
        self.barrier().await?;
        self.send_main(text).await?;
        self.main_dirty = true;
        Ok(())
    }

    async fn send_main(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        if self.main.write(bytes).await.is_err() {
            self.gone.get_or_insert("main");
            return Err(Gone);
        }
        Ok(())
    }

    /// Waits until every data connection has run what it was sent.
    async fn barrier(&mut self) -> Result<(), Gone> {
        if !self.workers_dirty {
            return Ok(());
        }
        let syncs = self.workers.iter().map(|w| w.sync());
        let results = futures_util::future::join_all(syncs).await;
        if results.iter().any(Result::is_err) {
            self.gone.get_or_insert("data");
            return Err(Gone);
        }
        self.workers_dirty = false;
        Ok(())
    }

    /// Waits until the main client has run what it was sent.
    async fn sync_main(&mut self) -> Result<(), Gone> {
        if !self.main_dirty {
            return Ok(());
        }
        if self.main.sync().await.is_err() {
            self.gone.get_or_insert("main");
            return Err(Gone);
        }
        self.main_dirty = false;
        Ok(())
    }
}
