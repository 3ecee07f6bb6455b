//! Table data out to the data connections: PostgreSQL COPY rows in chunks,
//! mysqldump INSERT statements whole; and the end of the load.

use super::names;
use super::pool::{Gone, Worker};
use super::{CHUNK, Copy, Flow, LockBlock, Router, STOP_GRACE};
use crate::restore::RestoreError;
use crate::restore::client::Client;
use crate::restore::exec::ExecOutcome;
use crate::restore::screen::{StatementKind, Unit};

/// pg_dump's `COPY name (columns) FROM stdin;` line, the last of `unit`:
/// rows in text format, one per line.
fn copy_header(unit: &[u8]) -> Option<Vec<u8>> {
    let body = unit.strip_suffix(b"\n")?;
    let line = match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => &body[i + 1..],
        None => body,
    };
    let text = std::str::from_utf8(line).ok()?;
    let ok = text.starts_with("COPY ") && text.ends_with(") FROM stdin;") && text.contains(" (");
    ok.then(|| [line, b"\n"].concat())
}

impl Router<'_> {
    /// COPY data starts: spread over the data connections if it is pg_dump's
    /// plain COPY, else on the main client like the statement before it.
    pub(super) async fn on_copy_data(&mut self, unit: Unit) -> Result<(), Gone> {
        let flow = std::mem::replace(&mut self.flow, Flow::Main);
        if let Some(why) = self.serial_reason(&unit) {
            self.go_serial(why);
        }
        if self.trigger_seen {
            self.go_serial("the dump creates a trigger or rule before table data".into());
        }
        self.serial_data |= self.serial.is_some();
        if flow == Flow::Main {
            // The COPY statement ran on the main client; so do its rows.
            return Ok(());
        }
        let text = std::mem::take(&mut self.pending);
        let header = copy_header(&text).filter(|_| unit.is_one(StatementKind::Copy));
        match header {
            Some(header) if self.serial.is_none() => {
                self.unlock_held().await?;
                self.sync_main().await?;
                self.copy = Some(Copy {
                    header,
                    chunk: Vec::with_capacity(CHUNK),
                    partial: Vec::new(),
                });
                self.flow = Flow::Rows;
                Ok(())
            }
            _ => self.run_on_main(&text).await,
        }
    }

    /// COPY rows: whole lines, a chunk at a time, to the next connection.
    pub(super) async fn rows(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        let Some(copy) = self.copy.as_mut() else {
            return Ok(());
        };
        let whole = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => {
                copy.partial.extend_from_slice(bytes);
                return Ok(());
            }
        };
        copy.chunk.append(&mut copy.partial);
        copy.chunk.extend_from_slice(&bytes[..whole]);
        copy.partial.extend_from_slice(&bytes[whole..]);
        if copy.chunk.len() >= CHUNK {
            let chunk = std::mem::replace(&mut copy.chunk, Vec::with_capacity(CHUNK));
            self.send_rows(chunk).await?;
        }
        Ok(())
    }

    /// Opens the COPY on the next connection (if not open there) and sends rows.
    async fn send_rows(&mut self, chunk: Vec<u8>) -> Result<(), Gone> {
        self.rows_out = true;
        let i = self.pick().await?;
        if !self.workers[i].copy_open {
            let header = self
                .copy
                .as_ref()
                .map(|c| c.header.clone())
                .unwrap_or_default();
            self.catch_up(i).await?;
            self.send_to(i, header).await?;
            self.workers[i].copy_open = true;
        }
        self.send_to(i, chunk).await
    }

    /// The `\.` line: the last rows go out and each connection's COPY ends.
    /// A COPY without rows still runs once, so a missing table still fails.
    pub(super) async fn on_copy_end(&mut self) -> Result<(), Gone> {
        if self.flow != Flow::Rows {
            return Ok(());
        }
        self.flow = Flow::Drop;
        let Some(mut copy) = self.copy.take() else {
            return Ok(());
        };
        // A line not yet ended here can only be the start of the `\.` line
        // itself, begun in an earlier piece of the dump.
        copy.partial.clear();
        let last = std::mem::take(&mut copy.chunk);
        self.copy = Some(copy);
        let opened = self.workers.iter().any(|w| w.copy_open);
        if !last.is_empty() || !opened {
            self.send_rows(last).await?;
        }
        self.copy = None;
        for i in 0..self.workers.len() {
            if std::mem::take(&mut self.workers[i].copy_open) {
                self.send_to(i, b"\\.\n".to_vec()).await?;
            }
        }
        Ok(())
    }

    /// mysqldump: INSERTs out to the data connections; their table's lock
    /// and key statements left out while nothing else comes between.
    pub(super) async fn place_mysql(&mut self, unit: Unit, text: Vec<u8>) -> Result<(), Gone> {
        if unit.trigger {
            match names::trigger_table(&text) {
                Some(t) => self.not_spread(&t),
                None => self.go_serial("a trigger whose table restoredrill cannot tell".into()),
            }
            return self.run_on_main(&text).await;
        }
        let in_block = |r: &Self, t: &Option<String>| {
            r.lock
                .as_ref()
                .is_some_and(|b| Some(&b.table) == t.as_ref())
        };
        if unit.is_one(StatementKind::PlainInsert) && unit.plain_delimiter && !self.main_locked {
            let table = names::insert_table(&text);
            // A table with an AUTO_INCREMENT column: only rows that give
            // it a value of their own, else ids follow the order rows come in.
            let free = table
                .as_ref()
                .and_then(|t| self.spread_key(t))
                .and_then(|key| self.spread_tables.get(&key))
                .is_some_and(|auto_increment| !auto_increment || unit.values_fixed);
            if free && (self.lock.is_none() || in_block(self, &table)) {
                let key = table.as_ref().and_then(|t| self.spread_key(t));
                return self.send_statement_of(key, text).await;
            }
        }
        if unit.is_one(StatementKind::LockTables)
            && self.lock.is_none()
            && !self.main_locked
            && let Some(table) = names::lock_table(&text)
        {
            self.lock = Some(LockBlock {
                table,
                held: vec![text],
            });
            return Ok(());
        }
        if unit.is_one(StatementKind::Keys) && in_block(self, &names::keys_table(&text)) {
            if let Some(block) = self.lock.as_mut() {
                block.held.push(text);
            }
            return Ok(());
        }
        if unit.is_one(StatementKind::UnlockTables) && self.lock.is_some() {
            // Only its own rows came while the lock was held back: nothing to undo.
            self.lock = None;
            return Ok(());
        }
        self.mysql_on_main(unit, text).await
    }

    /// A mysql statement for the main client; it may lock tables there.
    async fn mysql_on_main(&mut self, unit: Unit, text: Vec<u8>) -> Result<(), Gone> {
        let locks = unit.first == Some(StatementKind::LockTables) && unit.uniform;
        let unlocks = unit.is_all(StatementKind::UnlockTables);
        if !unit.uniform
            && matches!(
                unit.first,
                Some(StatementKind::LockTables | StatementKind::UnlockTables)
            )
        {
            self.go_serial("table locks among other statements on one line".into());
        }
        self.note_table(unit, &text);
        self.run_on_main(&text).await?;
        if locks {
            self.main_locked = true;
        }
        if unlocks {
            self.main_locked = false;
        }
        Ok(())
    }

    /// Which tables may take INSERTs on several connections at once: those
    /// created in this dump with no unique key but the primary key and no
    /// full-text or spatial index. Concurrent inserts into an InnoDB unique
    /// index can deadlock (seen: one-row INSERTs on 3 connections), which
    /// would fail a good backup. A later statement naming such an index
    /// takes every table off the list, and so does anything else that
    /// could change a table the list holds (`ALTER TABLE`, `RENAME`, a
    /// `CREATE TABLE` restoredrill does not read as a new table).
    fn note_table(&mut self, unit: Unit, text: &[u8]) {
        let rows_or_locks = [
            StatementKind::PlainInsert,
            StatementKind::Keys,
            StatementKind::LockTables,
            StatementKind::UnlockTables,
        ];
        if rows_or_locks.iter().any(|k| unit.is_all(*k)) {
            return;
        }
        let upper = String::from_utf8_lossy(text).to_ascii_uppercase();
        let risky = ["UNIQUE", "FULLTEXT", "SPATIAL"]
            .iter()
            .any(|w| upper.contains(w));
        let single = unit.statements == 1 && unit.first == Some(StatementKind::Other);
        match names::create_table(text).filter(|_| single) {
            Some(t) if !risky && !names::if_not_exists(text) => {
                let auto_increment = names::has_auto_increment_column(text);
                match self.spread_key(&t) {
                    Some(key) => {
                        self.not_spread(&t);
                        self.spread_tables.insert(key, auto_increment);
                    }
                    None => self.not_spread(&t),
                }
            }
            Some(t) => self.not_spread(&t),
            None if risky || names::changes_tables(text) => self.spread_tables.clear(),
            None => {}
        }
    }

    /// The key of table `t` (`name` or `db.name`) in `spread_tables`.
    pub(super) fn spread_key(&self, t: &str) -> Option<(String, String)> {
        match t.split_once('.') {
            Some((db, name)) => Some((db.to_string(), name.to_string())),
            None => Some((self.current_db.clone()?, t.to_string())),
        }
    }

    /// `t` (in any database, in any case) takes no more spread INSERTs.
    fn not_spread(&mut self, t: &str) {
        let bare = names::bare(t);
        self.spread_tables
            .retain(|(_, name), _| !name.eq_ignore_ascii_case(bare));
    }

    /// A session setting ran: follows `USE`, which moves unqualified names.
    pub(super) fn note_use(&mut self, text: &[u8]) {
        match names::use_db(text) {
            Some(Some(db)) => self.current_db = Some(db),
            Some(None) => self.current_db = None,
            None => {}
        }
    }

    /// Something else came while a table's lock was held back: the held
    /// statements run on the main client now, in order, and hold from here.
    pub(super) async fn unlock_held(&mut self) -> Result<(), Gone> {
        let Some(block) = self.lock.take() else {
            return Ok(());
        };
        self.barrier().await?;
        for text in block.held {
            self.send_main(&text).await?;
        }
        self.main_dirty = true;
        self.main_locked = true;
        Ok(())
    }

    /// One whole statement to the next connection.
    pub(super) async fn send_statement(&mut self, text: Vec<u8>) -> Result<(), Gone> {
        let i = self.pick().await?;
        self.catch_up(i).await?;
        self.send_to(i, text).await
    }

    /// An INSERT to the data connection of its table (`key`), which the
    /// table's first INSERT picks in turn.
    async fn send_statement_of(
        &mut self,
        key: Option<(String, String)>,
        text: Vec<u8>,
    ) -> Result<(), Gone> {
        let Some(key) = key else {
            return self.send_statement(text).await;
        };
        let i = match self.table_worker.get(&key) {
            Some(&i) => {
                self.sync_main().await?;
                i
            }
            None => {
                let i = self.pick().await?;
                self.table_worker.insert(key, i);
                i
            }
        };
        self.catch_up(i).await?;
        self.send_to(i, text).await
    }

    /// Session settings a connection has not run yet.
    async fn catch_up(&mut self, i: usize) -> Result<(), Gone> {
        while self.workers[i].replayed < self.session.len() {
            let setting = self.session[self.workers[i].replayed].clone();
            self.send_to(i, setting).await?;
            self.workers[i].replayed += 1;
        }
        Ok(())
    }

    async fn send_to(&mut self, i: usize, bytes: Vec<u8>) -> Result<(), Gone> {
        self.workers_dirty = true;
        if self.workers[i].send(bytes).await.is_err() {
            self.gone.get_or_insert("data");
            return Err(Gone);
        }
        Ok(())
    }

    /// The next data connection in turn, started when it is not yet. Turns
    /// rather than "whichever has room": a connection's queue drains into
    /// socket buffers at once, so room says nothing of how busy it is.
    async fn pick(&mut self) -> Result<usize, Gone> {
        self.sync_main().await?;
        let i = self.next % self.want;
        self.next = self.next.wrapping_add(1);
        if i < self.workers.len() {
            return Ok(i);
        }
        let client = Client::start(
            self.docker,
            self.container,
            self.command.clone(),
            self.env.clone(),
            &self.token,
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot start a loading connection");
            Gone
        })?;
        let worker = Worker::spawn(client);
        tracing::debug!(
            connection = self.workers.len() + 1,
            "loading connection started"
        );
        if !self.prologue.is_empty() {
            worker.send(self.prologue.clone()).await?;
        }
        self.workers.push(worker);
        Ok(self.workers.len() - 1)
    }

    /// Ends every connection. After a failure the others get
    /// [`STOP_GRACE`] to stop; the first that failed is the outcome.
    pub(super) async fn finish(
        self,
        failed: bool,
    ) -> Result<(ExecOutcome, u32, Option<String>), RestoreError> {
        let docker = self.docker;
        // The main client and every data connection that got table data.
        let used = match self.workers.len() as u32 {
            0 => 1,
            n => n + 1,
        };
        let mut finished = vec![within_grace(failed, self.main.finish(docker)).await];
        for w in self.workers {
            finished.push(within_grace(failed, w.finish(docker)).await);
        }
        let mut outcomes = Vec::new();
        for o in finished.into_iter().flatten() {
            outcomes.push(o?);
        }
        let failing = outcomes.iter().position(|o| o.exit_code != 0).unwrap_or(0);
        let outcome = outcomes.into_iter().nth(failing).unwrap_or(ExecOutcome {
            exit_code: 1,
            output_tail: vec!["the loading connections did not stop".into()],
            input_error: None,
        });
        let reason = self.serial.filter(|_| self.serial_data);
        Ok((outcome, used, reason))
    }
}

/// `f` in full, or after a failure within [`STOP_GRACE`].
async fn within_grace<F: std::future::Future>(failed: bool, f: F) -> Option<F::Output> {
    if failed {
        tokio::time::timeout(STOP_GRACE, f).await.ok()
    } else {
        Some(f.await)
    }
}

#[cfg(test)]
mod tests {
    use super::copy_header;

    #[test]
    fn only_pg_dump_s_plain_copy_is_spread_by_lines() {
        let unit = b"\n--\n-- Data for Name: t\n--\n\nCOPY public.t (a, b) FROM stdin;\n";
        assert_eq!(
            copy_header(unit).as_deref(),
            Some(&b"COPY public.t (a, b) FROM stdin;\n"[..])
        );
        assert_eq!(copy_header(b"COPY public.t FROM stdin;\n"), None);
        assert_eq!(
            copy_header(b"COPY public.t (a) FROM stdin WITH (FORMAT csv);\n"),
            None
        );
        assert_eq!(copy_header(b"COPY public.t (a) FROM stdin;"), None);
    }
}
