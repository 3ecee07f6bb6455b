//! healthchecks.io-style ping URLs: `/start` when a run starts, the bare URL
//! when it passes (or finds the dump unchanged), `/fail` when it fails or
//! errs and when the job's backups go stale; a skipped run pings nothing.
//! The body is the run's summary. The daemon's heartbeat is pinged the same
//! way. Pings are not messages: they go to the job's own URL, not to channels.

use crate::alert::{Failure, http_outcome};
use crate::vocab::{Secret, Verdict};

/// Which ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    Fail,
}

impl Ping {
    /// The ping a finished run calls for; `None` for a skipped run, which
    /// verified nothing either way.
    pub fn for_verdict(verdict: Verdict) -> Option<Self> {
        match verdict {
            Verdict::Pass | Verdict::Unchanged => Some(Self::Success),
            Verdict::Fail | Verdict::Error => Some(Self::Fail),
            Verdict::Skipped => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Success => "success",
            Self::Fail => "fail",
        }
    }

    /// The job's URL with this ping's suffix.
    pub fn url(self, base: &Secret) -> String {
        let suffix = match self {
            Self::Start => "/start",
            Self::Success => "",
            Self::Fail => "/fail",
        };
        format!("{}{suffix}", base.expose())
    }
}

/// POSTs `body` to `url`, once.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> Result<(), Failure> {
    http_outcome(http.post(url).body(body).send().await).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_or_an_unchanged_dump_pings_success_a_failure_or_error_fail_a_skip_nothing() {
        use Verdict::*;
        assert_eq!(Ping::for_verdict(Pass), Some(Ping::Success));
        assert_eq!(Ping::for_verdict(Unchanged), Some(Ping::Success));
        assert_eq!(Ping::for_verdict(Fail), Some(Ping::Fail));
        assert_eq!(Ping::for_verdict(Error), Some(Ping::Fail));
        assert_eq!(Ping::for_verdict(Skipped), None);
    }

    #[test]
    fn success_pings_the_bare_url_the_others_add_their_suffix() {
        let base = Secret::new("https://hc-ping.com/5f1c");
        assert_eq!(Ping::Success.url(&base), "https://hc-ping.com/5f1c");
        assert_eq!(Ping::Start.url(&base), "https://hc-ping.com/5f1c/start");
        assert_eq!(Ping::Fail.url(&base), "https://hc-ping.com/5f1c/fail");
    }

    #[test]
    fn each_ping_is_recorded_under_its_name() {
        assert_eq!(Ping::Success.as_str(), "success");
        assert_eq!(Ping::Start.as_str(), "start");
        assert_eq!(Ping::Fail.as_str(), "fail");
    }
}
