//! healthchecks.io-style ping URLs: `/start` when a run starts, the bare URL
//! when it passes (or finds the dump unchanged), `/fail` when it fails or
//! errs and when the job's backups go stale; a skipped run pings nothing.
//! A ping tells the job's state, not one run's: a run that passes on a dump
//! older than the job's `freshness.max_age` (or of an age the source does
//! not tell) pings `/fail`, saying why, since the job is still stale;
//! otherwise a `trigger` after the freshness watch's `/fail` would turn the
//! check green on the same old dump.
//! The body is the run's summary. A run's start and finish pings carry the
//! same `rid` (a UUID derived from the run id), so the service pairs them
//! even when runs overlap or a ping is lost. `alert-test` uses `/log`, which
//! records an event without changing the check's state. The daemon's
//! heartbeat is pinged the same way. Pings are not messages: they go to the
//! job's own URL, not to channels.
//!
//! The suffix goes into the URL's path, before any query string, and `rid`
//! joins the query: a slug URL `.../ping/KEY/shop?create=1` gets
//! `.../ping/KEY/shop/fail?create=1&rid=...`.

use sha2::{Digest, Sha256};

use crate::alert::{Failure, http_outcome};
use crate::vocab::{RunId, Secret, Verdict};

/// Which ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    Fail,
    /// An event that changes nothing (`alert-test`).
    Log,
}

impl Ping {
    /// The ping a finished run calls for, given whether its dump is too old
    /// for the job's `freshness.max_age` (`stale`): a pass or an unchanged
    /// dump pings success only while the job is fresh. `None` for a skipped
    /// run, which verified nothing either way.
    pub fn for_run(verdict: Verdict, stale: bool) -> Option<Self> {
        match verdict {
            Verdict::Pass | Verdict::Unchanged if stale => Some(Self::Fail),
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
            Self::Log => "log",
        }
    }

    /// The job's URL with this ping's suffix as a last path segment (before
    /// any query string or fragment, and without doubling a trailing `/`),
    /// and the run's `rid` added to the query if the ping is about a run.
    pub fn url(self, base: &Secret, run: Option<&RunId>) -> String {
        let suffix = match self {
            Self::Start => Some("start"),
            Self::Success => None,
            Self::Fail => Some("fail"),
            Self::Log => Some("log"),
        };
        let Some(mut url) = reqwest::Url::parse(base.expose())
            .ok()
            .filter(|u| !u.cannot_be_a_base())
        else {
            // The config accepts only http(s) URLs that parse. Anything else
            // cannot be requested at all: each attempt records why.
            return base.expose().to_string();
        };
        if let Some(suffix) = suffix
            && let Ok(mut path) = url.path_segments_mut()
        {
            path.pop_if_empty().push(suffix);
        }
        if let Some(run) = run {
            url.query_pairs_mut().append_pair("rid", &rid(run));
        }
        url.into()
    }
}

/// A finished run's ping and its body, the run's `summary`; `stale` is why
/// its dump leaves the job stale, if it does. A pass or an unchanged dump
/// that is stale pings `/fail` with that reason first; a failure says its
/// own reason.
pub fn finish(verdict: Verdict, stale: Option<String>, summary: String) -> Option<(Ping, String)> {
    let ping = Ping::for_run(verdict, stale.is_some())?;
    let body = match stale {
        Some(why) if matches!(verdict, Verdict::Pass | Verdict::Unchanged) => format!(
            "stale: {why}. This run's verdict is {verdict}, but a dump this old is no current \
             backup: the job stays stale until a newer dump passes.\n\n{summary}"
        ),
        _ => summary,
    };
    Some((ping, body))
}

/// The run's id as the UUID healthchecks.io pairs a start and a finish ping
/// by: the first 16 bytes of its SHA-256, marked as a version 8 (custom)
/// UUID. Derived, not stored, so any process that knows the run id agrees.
pub fn rid(run: &RunId) -> String {
    let mut b: [u8; 16] = Sha256::digest(run.as_str().as_bytes())[..16]
        .try_into()
        .expect("a SHA-256 is 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
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
        assert_eq!(Ping::for_run(Pass, false), Some(Ping::Success));
        assert_eq!(Ping::for_run(Unchanged, false), Some(Ping::Success));
        assert_eq!(Ping::for_run(Fail, false), Some(Ping::Fail));
        assert_eq!(Ping::for_run(Error, false), Some(Ping::Fail));
        assert_eq!(Ping::for_run(Skipped, false), None);
    }

    #[test]
    fn a_pass_on_a_dump_too_old_for_max_age_pings_fail_the_job_is_still_stale() {
        use Verdict::*;
        assert_eq!(Ping::for_run(Pass, true), Some(Ping::Fail));
        assert_eq!(Ping::for_run(Unchanged, true), Some(Ping::Fail));
        assert_eq!(Ping::for_run(Fail, true), Some(Ping::Fail));
        assert_eq!(Ping::for_run(Error, true), Some(Ping::Fail));
        assert_eq!(Ping::for_run(Skipped, true), None);
    }

    #[test]
    fn success_pings_the_bare_url_the_others_add_their_suffix() {
        let base = Secret::new("https://hc-ping.com/5f1c");
        assert_eq!(Ping::Success.url(&base, None), "https://hc-ping.com/5f1c");
        assert_eq!(
            Ping::Start.url(&base, None),
            "https://hc-ping.com/5f1c/start"
        );
        assert_eq!(Ping::Fail.url(&base, None), "https://hc-ping.com/5f1c/fail");
        assert_eq!(Ping::Log.url(&base, None), "https://hc-ping.com/5f1c/log");
    }

    #[test]
    fn a_stale_pass_tells_why_first_a_failure_its_own_reason() {
        let why = "the newest dump /d/a.sql is 3days old, more than freshness.max_age (1h)";
        let (ping, body) =
            finish(Verdict::Pass, Some(why.to_string()), "PASS shop".into()).unwrap();
        assert_eq!(ping, Ping::Fail);
        assert!(body.starts_with(&format!("stale: {why}. ")), "{body}");
        assert!(body.contains("verdict is pass"), "{body}");
        assert!(body.ends_with("\n\nPASS shop"), "{body}");
        let (ping, body) = finish(
            Verdict::Unchanged,
            Some(why.to_string()),
            "UNCHANGED".into(),
        )
        .unwrap();
        assert_eq!(ping, Ping::Fail);
        assert!(body.starts_with("stale: "), "{body}");
        let (ping, body) =
            finish(Verdict::Fail, Some(why.to_string()), "FAIL shop".into()).unwrap();
        assert_eq!((ping, body.as_str()), (Ping::Fail, "FAIL shop"));
        let (ping, body) = finish(Verdict::Pass, None, "PASS shop".into()).unwrap();
        assert_eq!((ping, body.as_str()), (Ping::Success, "PASS shop"));
        assert!(finish(Verdict::Skipped, Some(why.to_string()), String::new()).is_none());
    }

    #[test]
    fn the_suffix_goes_into_the_path_before_a_slug_urls_query() {
        let base = Secret::new("https://hc.example/ping/KEY/shop?create=1");
        assert_eq!(
            Ping::Start.url(&base, None),
            "https://hc.example/ping/KEY/shop/start?create=1"
        );
        assert_eq!(
            Ping::Fail.url(&base, None),
            "https://hc.example/ping/KEY/shop/fail?create=1"
        );
        assert_eq!(
            Ping::Log.url(&base, None),
            "https://hc.example/ping/KEY/shop/log?create=1"
        );
        assert_eq!(
            Ping::Success.url(&base, None),
            "https://hc.example/ping/KEY/shop?create=1"
        );
    }

    #[test]
    fn a_runs_rid_joins_an_existing_query_and_a_fragment_stays_last() {
        let run = RunId::from("20261124T031500Z-1a2b");
        let id = rid(&run);
        let base = Secret::new("https://hc.example/ping/KEY/shop?create=1");
        assert_eq!(
            Ping::Fail.url(&base, Some(&run)),
            format!("https://hc.example/ping/KEY/shop/fail?create=1&rid={id}")
        );
        assert_eq!(
            Ping::Success.url(&base, Some(&run)),
            format!("https://hc.example/ping/KEY/shop?create=1&rid={id}")
        );
        let base = Secret::new("https://hc.example/ping/KEY/shop?create=1#note");
        assert_eq!(
            Ping::Start.url(&base, Some(&run)),
            format!("https://hc.example/ping/KEY/shop/start?create=1&rid={id}#note")
        );
    }

    #[test]
    fn a_url_ending_in_a_slash_gets_no_double_slash() {
        let base = Secret::new("https://hc-ping.com/5f1c/");
        assert_eq!(
            Ping::Start.url(&base, None),
            "https://hc-ping.com/5f1c/start"
        );
        assert_eq!(Ping::Fail.url(&base, None), "https://hc-ping.com/5f1c/fail");
        let base = Secret::new("https://hc.example/ping/KEY/shop/?create=1");
        assert_eq!(
            Ping::Fail.url(&base, None),
            "https://hc.example/ping/KEY/shop/fail?create=1"
        );
        let base = Secret::new("https://hc.example");
        assert_eq!(Ping::Fail.url(&base, None), "https://hc.example/fail");
    }

    #[test]
    fn a_runs_pings_carry_its_rid_a_uuid_of_its_own() {
        let base = Secret::new("https://hc-ping.com/5f1c");
        let run = RunId::from("20261124T031500Z-1a2b");
        let id = rid(&run);
        assert_eq!(
            Ping::Start.url(&base, Some(&run)),
            format!("https://hc-ping.com/5f1c/start?rid={id}")
        );
        assert_eq!(
            Ping::Success.url(&base, Some(&run)),
            format!("https://hc-ping.com/5f1c?rid={id}")
        );
        // 8-4-4-4-12 lowercase hex, version 8, RFC variant.
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(
            id.chars()
                .all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f'))
        );
        assert_eq!(&id[14..15], "8", "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id, rid(&run), "the same run, the same rid");
        assert_ne!(id, rid(&RunId::from("20261124T031500Z-1a2c")));
    }

    #[test]
    fn each_ping_is_recorded_under_its_name() {
        assert_eq!(Ping::Success.as_str(), "success");
        assert_eq!(Ping::Start.as_str(), "start");
        assert_eq!(Ping::Fail.as_str(), "fail");
        assert_eq!(Ping::Log.as_str(), "log");
    }
}
