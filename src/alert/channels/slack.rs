//! Slack incoming webhooks (Mattermost and Rocket.Chat accept the same payload):
//! `{"text": ...}`, the title in bold on the first line.

use crate::vocab::Secret;
use async_trait::async_trait;

use crate::alert::{Deliver, Failure, Message, http_outcome};

pub struct Slack {
    pub webhook_url: Secret,
}

#[async_trait]
impl Deliver for Slack {
    async fn deliver(
        &self,
        http: &reqwest::Client,
        _id: i64,
        msg: &Message,
    ) -> Result<(), Failure> {
        let body = serde_json::json!({ "text": format!("*{}*\n{}", msg.title, msg.text) });
        http_outcome(
            http.post(self.webhook_url.expose())
                .json(&body)
                .send()
                .await,
        )
        .await
    }
}
