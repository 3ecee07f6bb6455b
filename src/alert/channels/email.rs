//! E-mail over SMTP with lettre: STARTTLS (default), TLS, or plain for a
//! relay on this host; login when configured.

use async_trait::async_trait;
use lettre::message::Body;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::alert::{Deliver, Failure, Message};
use crate::config::{EmailChannel, SmtpSecurity};

pub struct Email {
    config: EmailChannel,
}

impl Email {
    pub fn new(config: EmailChannel) -> Self {
        Self { config }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
        let c = &self.config;
        let builder = match c.security {
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host),
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host),
            SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &c.host,
            )),
        }
        .map_err(|e| Failure {
            retry: false,
            detail: format!("SMTP setup: {e}"),
            retry_after: None,
        })?;
        let mut builder = builder
            .port(c.port)
            .timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(ca) = &c.ca_file
            && c.security != SmtpSecurity::None
        {
            let setup = |e: String| Failure {
                retry: false,
                detail: format!("SMTP TLS setup with ca_file {}: {e}", ca.display()),
                retry_after: None,
            };
            let pem = std::fs::read(ca).map_err(|e| setup(e.to_string()))?;
            let cert = Certificate::from_pem(&pem).map_err(|e| setup(e.to_string()))?;
            let params = TlsParameters::builder(c.host.clone())
                .add_root_certificate(cert)
                .build()
                .map_err(|e| setup(e.to_string()))?;
            builder = builder.tls(match c.security {
                SmtpSecurity::Tls => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(builder.build())
    }
}

#[async_trait]
impl Deliver for Email {
    async fn deliver(
        &self,
        _http: &reqwest::Client,
        _id: i64,
        msg: &Message,
    ) -> Result<(), Failure> {
        let bad = |e: String| Failure {
            retry: false,
            detail: e,
            retry_after: None,
        };
        let mut builder = lettre::Message::builder()
            .from(
                self.config
                    .from
                    .parse()
                    .map_err(|e| bad(format!("from: {e}")))?,
            )
            .subject(format!("[restoredrill] {}", msg.title))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.config.to {
            builder = builder.to(to.parse().map_err(|e| bad(format!("to: {e}")))?);
        }
        // 8bit rather than quoted-printable: readable as sent, in any mail client.
        let text = format!("{}\n\n{}\n", msg.title, msg.text);
        let body = Body::new_with_encoding(text, ContentTransferEncoding::EightBit)
            .unwrap_or_else(Body::new);
        let email = builder.body(body).map_err(|e| bad(e.to_string()))?;
        match self.transport()?.send(email).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Failure {
                // A refused certificate or a 5xx answer will not change on a retry.
                retry: !e.is_permanent() && !e.is_tls() && !certificate_refused(&e),
                detail: format!("SMTP: {e}"),
                retry_after: None,
            }),
        }
    }
}

/// Whether the TLS handshake failed on the server's certificate; lettre
/// reports that as a connection error, with rustls's error among the causes.
fn certificate_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        let tls = c.downcast_ref::<rustls::Error>().or_else(|| {
            c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if matches!(tls, Some(rustls::Error::InvalidCertificate(_))) {
            return true;
        }
        cause = c.source();
    }
    false
}
