//! One file per alert channel: each turns a [`Message`](super::Message) into
//! its service's request and reports what the service answered.

pub mod email;
pub mod slack;
pub mod telegram;
pub mod webhook;
