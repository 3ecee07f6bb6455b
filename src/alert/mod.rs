//! Who hears about what, and delivery. [`decide`] applies a job's `notify`
//! policy to a run; [`Alerter`] renders the message, sends it to each of the
//! job's channels with a timeout and retries with backoff, pings the job's
//! healthchecks URL, and records every attempt in the history.
//!
//! Deliveries run in the background after the verdict is stored: a channel
//! that is down never blocks, delays or changes a run.
//!
//! `policy` decides who hears about what, `message` renders what they read,
//! `delivery` sends it and records each attempt, and `channels` holds one
//! file per service.

pub mod channels;
mod delivery;
mod message;
mod policy;

pub(crate) use delivery::http_outcome;
pub use delivery::{Alerter, Deliver, Failure, Retry};
pub use message::{Message, run_message};
pub use policy::{AlertKind, decide, too_old};
