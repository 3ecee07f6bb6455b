//! restoredrill proves that database backups restore.
//!
//! One run, in the order the data flows (`pipeline::run_once` tells it top to bottom):
//!
//! - [`config`]: reads the YAML config into checked jobs; every problem as `FILE:LINE:COL`.
//! - [`schedule`]: when each job runs (crontab expressions, time zones).
//! - [`source`]: finds the newest dump, tells its compression and format, streams it.
//! - [`restore`]: loads the dump into a throwaway Docker container with the engine's own tools.
//! - [`assert`]: checks the restored data against the job's assertions.
//! - [`promote`]: makes a passing restore the job's kept restore.
//! - [`report`]: the run's record, rendered for people and machines, and the alerts about it.
//!
//! Beside them: [`store`] keeps run history, kept restores and alert
//! deliveries in SQLite; [`daemon`] runs jobs on their schedules, serves kept
//! restores on stable endpoints and watches freshness; [`http`] is the
//! daemon's status pages, JSON API and metrics.

pub mod alert;
pub mod assert;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod http;
pub mod pipeline;
pub mod promote;
pub mod report;
pub mod restore;
pub mod schedule;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod units;
pub mod vocab;
