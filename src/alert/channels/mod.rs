//! One file per alert channel: each turns a [`Message`](super::Message) into
//! its service's request and reports what the service answered. `healthchecks`
//! is the odd one: a job's own ping URL, told of runs, not sent messages.

pub mod email;
pub mod healthchecks;
pub mod slack;
pub mod telegram;
pub mod webhook;

use std::sync::Arc;

use crate::alert::Deliver;
use crate::config::Channel;

/// The sender for a configured channel.
pub(super) fn channel(c: &Channel) -> Arc<dyn Deliver> {
    match c {
        Channel::Slack { webhook_url } => Arc::new(slack::Slack {
            webhook_url: webhook_url.clone(),
        }),
        Channel::Telegram {
            api_url,
            bot_token,
            chat_id,
        } => Arc::new(telegram::Telegram {
            api_url: api_url.clone(),
            bot_token: bot_token.clone(),
            chat_id: chat_id.clone(),
        }),
        Channel::Webhook { url, secret } => Arc::new(webhook::Webhook {
            url: url.clone(),
            secret: secret.clone(),
        }),
        Channel::Email(e) => Arc::new(email::Email::new(e.clone())),
    }
}
