//! Telegram Bot API `sendMessage`, plain text (no parse mode, so nothing in
//! a dump name or an SQL error can break the message).

use crate::vocab::Secret;
use async_trait::async_trait;

use crate::alert::{Deliver, Failure, Message, http_outcome};

pub struct Telegram {
    pub api_url: String,
    pub bot_token: Secret,
    pub chat_id: String,
}

#[async_trait]
impl Deliver for Telegram {
    async fn deliver(
        &self,
        http: &reqwest::Client,
        _id: i64,
        msg: &Message,
    ) -> Result<(), Failure> {
        let url = format!(
            "{}/bot{}/sendMessage",
            self.api_url,
            self.bot_token.expose()
        );
        let body = serde_json::json!({
            "chat_id": self.chat_id,
            "text": format!("{}\n{}", msg.title, msg.text),
            "disable_web_page_preview": true,
        });
        http_outcome(http.post(url).json(&body).send().await).await
    }
}
