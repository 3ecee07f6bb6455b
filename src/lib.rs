//! restoredrill proves that database backups restore.
//!
//! One run, in the order the data flows (`pipeline::run_once` tells it top to bottom):
//!
//! - [`config`]: reads the YAML config into checked jobs; every problem as `FILE:LINE:COL`.
//! - `schedule`: when each job runs (crontab expressions, time zones).
//! - [`source`]: finds the newest dump, tells its compression and format, streams it.
//! - `restore`: loads the dump into a throwaway Docker container with the engine's own tools,
//!   and makes a passing one the job's kept restore; `restore::Runtime` is the
//!   container engine's face, the only way to it.
//! - [`assert`](mod@assert): checks the restored data against the job's assertions and the baseline.
//! - [`report`]: the run's record, rendered for people, machines and auditors.
//! - [`alert`]: who hears about a run, and delivery through one file per channel.
//!
//! `pipeline` is one run through those stages, and the drill (`pipeline::drill`), which
//! verifies broken copies of a good dump the same way to measure the checks. Beside them: [`store`]
//! keeps run history, kept restores and alert deliveries in SQLite;
//! `daemon` runs jobs on their schedules, serves kept restores on stable
//! endpoints, watches freshness and keeps kept restores running; `http`
//! is the daemon's status pages, JSON API and metrics. Two leaves
//! everything may use: [`vocab`], the run's words as types (verdict, phase,
//! state...), and [`units`], durations and sizes. [`cli`] holds the
//! commands' bodies, which `main.rs` only dispatches to.
//! `docs/architecture.md` draws who may import whom.

pub mod alert;
pub mod assert;
pub mod cli;
pub mod config;
pub(crate) mod daemon;
pub(crate) mod http;
pub(crate) mod pipeline;
pub mod report;
pub(crate) mod restore;
pub(crate) mod schedule;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod units;
pub mod vocab;
