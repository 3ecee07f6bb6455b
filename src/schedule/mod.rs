//! When each job runs: the [`scheduler`] starts each job's run at the next
//! time its [`Schedule`] (a crontab expression in a time zone, checked with
//! the config) gives, or when a new dump arrives in the source of an
//! `on-arrival` job ([`arrival`]), queues manual triggers, and never runs one
//! job twice at once. It is tested on tokio's paused clock through its `Clock` and
//! `Runner` seams.

pub mod arrival;
pub mod scheduler;
