//! Any URL: the message and the full run report as a JSON body. With a
//! `secret`, the `X-Restoredrill-Signature: sha256=HEX` header is the
//! HMAC-SHA256 of the body, so receivers can check it came from us.
//! `X-Restoredrill-Delivery` stays the same across retries of one alert, so
//! receivers can drop a duplicate.

use crate::vocab::Secret;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::alert::{Deliver, Failure, Message, http_outcome};

pub struct Webhook {
    pub url: Secret,
    pub secret: Option<Secret>,
}

pub const SIGNATURE_HEADER: &str = "X-Restoredrill-Signature";
pub const DELIVERY_HEADER: &str = "X-Restoredrill-Delivery";

/// `sha256=HEX` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl Deliver for Webhook {
    async fn deliver(&self, http: &reqwest::Client, id: i64, msg: &Message) -> Result<(), Failure> {
        let mut body = msg.payload.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("title".into(), msg.title.clone().into());
            o.insert("text".into(), msg.text.clone().into());
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut req = http
            .post(self.url.expose())
            .header("Content-Type", "application/json")
            .header(DELIVERY_HEADER, id.to_string());
        if let Some(secret) = &self.secret {
            req = req.header(SIGNATURE_HEADER, signature(secret.expose(), &bytes));
        }
        http_outcome(req.body(bytes).send().await).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
