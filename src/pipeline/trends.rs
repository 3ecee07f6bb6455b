//! Drift that warns without failing a passing run: a restore much slower
//! than the median of the last passing runs, or a dump much smaller than
//! the previous one. The decisions are plain functions of the numbers.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Job;
use crate::report::{DumpReport, RunReport, Warning};
use crate::source::Dump;
use crate::store::{DumpSize, Store};
use crate::vocab::{Phase, WarningKind};

/// A restore must be at least this much slower than the median for a warning.
const TREND_MIN_SLOWDOWN_SECS: f64 = 2.0;

/// The trend warnings of a passing run, from the history before it.
pub(super) async fn warnings(store: &Store, job: &Job, r: &RunReport) -> Vec<Warning> {
    let mut out = Vec::new();
    if let Some(load) = r.phases.iter().find(|p| p.name == Phase::Load) {
        let prior = store
            .recent_load_seconds(&job.name, r.started_at, 10)
            .await
            .unwrap_or_default();
        out.extend(slow_restore(
            load.seconds(),
            prior,
            job.trend.duration_factor,
        ));
    }
    if let Some(d) = &r.dump
        && let Ok(Some(previous)) = store.previous_dump_size(&job.name, r.started_at).await
    {
        out.extend(dump_shrunk(d, &previous, job.trend.size_shrink_percent));
    }
    out
}

/// Warnings about dump times ahead of this host's clock (at `now`): the
/// picked dump's, whose age cannot be judged, and those passed over for it.
pub(super) fn future_dated(dump: &Dump, now: DateTime<Utc>) -> Vec<Warning> {
    let ahead = |t: DateTime<Utc>| {
        let secs = (t - now).num_seconds().max(0) as u64;
        humantime::format_duration(Duration::from_secs(secs / 60 * 60)).to_string()
    };
    let mut out = Vec::new();
    if dump.ahead_of(now).is_some() {
        out.push(Warning {
            kind: WarningKind::FutureDated,
            message: format!(
                "the dump {} is dated {}, {} ahead of this host's clock: its age cannot be judged, \
                 and the freshness watch does not count it as fresh. Is the backup host's clock wrong, \
                 or was the file touched?",
                dump.location,
                dump.modified.format("%Y-%m-%d %H:%M:%S UTC"),
                ahead(dump.modified)
            ),
        });
    }
    if let Some(f) = &dump.future_passed_over {
        let others = match f.count {
            1 => String::new(),
            n => format!(" (and {} more dated ahead)", n - 1),
        };
        out.push(Warning {
            kind: WarningKind::FutureDated,
            message: format!(
                "{} is dated {}, {} ahead of this host's clock{others}: a time in the future is not \
                 taken on trust, so it was passed over for the newest dump with a believable time",
                f.name,
                f.modified.format("%Y-%m-%d %H:%M:%S UTC"),
                ahead(f.modified)
            ),
        });
    }
    out
}

/// A warning when a load of `now` seconds took more than `factor` times the
/// median of `prior` (and whole seconds more: sub-second loads jitter by
/// more than any factor).
fn slow_restore(now: f64, mut prior: Vec<f64>, factor: f64) -> Option<Warning> {
    if prior.is_empty() {
        return None;
    }
    prior.sort_by(f64::total_cmp);
    let median = prior[prior.len() / 2];
    (now > median * factor && now - median >= TREND_MIN_SLOWDOWN_SECS).then(|| Warning {
        kind: WarningKind::SlowRestore,
        message: format!(
            "the restore took {now:.1}s, more than {factor}x the median of the last {} passing runs ({median:.1}s)",
            prior.len()
        ),
    })
}

/// A warning when the dump shrank by more than `percent` against the previous one.
fn dump_shrunk(now: &DumpReport, previous: &DumpSize, percent: f64) -> Option<Warning> {
    let (now, was, what) = comparable_sizes(now, previous)?;
    if was == 0 {
        return None;
    }
    let shrink = 100.0 * (was as f64 - now as f64) / was as f64;
    (shrink > percent).then(|| Warning {
        kind: WarningKind::DumpShrunk,
        message: format!(
            "the dump is {shrink:.0}% smaller than the previous one ({now} bytes {what}, was {was}); trend.size_shrink_percent is {percent}"
        ),
    })
}

/// The sizes of this dump and the previous one that mean the same thing:
/// decompressed where both were read as a stream, else as stored when both
/// are stored alike (a change of compression alone is no shrink).
fn comparable_sizes(now: &DumpReport, was: &DumpSize) -> Option<(u64, u64, &'static str)> {
    if let (Some(n), Some(w)) = (now.uncompressed_size, was.uncompressed) {
        return Some((n, w, "decompressed"));
    }
    let same_compression = now.compression.map(|c| c.to_string()) == was.compression;
    let same_format = now
        .format
        .and_then(|f| serde_json::to_value(f).ok())
        .and_then(|v| v.as_str().map(String::from))
        == was.format;
    (same_compression && same_format).then_some((now.size, was.stored, "as stored"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Compression, DumpFormat};

    fn dump(size: u64, uncompressed: Option<u64>, compression: Compression) -> DumpReport {
        DumpReport {
            path: "/backups/shop.sql".into(),
            size,
            modified_at: chrono::Utc::now(),
            modified_known: true,
            sha256: None,
            compression: Some(compression),
            format: Some(DumpFormat::PostgresPlain),
            dumped_by: None,
            uncompressed_size: uncompressed,
            databases: Vec::new(),
            version: None,
            encryption: None,
        }
    }

    fn was(stored: u64, uncompressed: Option<u64>, compression: Compression) -> DumpSize {
        let d = dump(stored, uncompressed, compression);
        DumpSize {
            stored,
            uncompressed,
            compression: d.compression.map(|c| c.to_string()),
            format: d
                .format
                .and_then(|f| serde_json::to_value(f).ok())
                .and_then(|v| v.as_str().map(String::from)),
        }
    }

    #[test]
    fn a_restore_three_times_the_median_and_seconds_slower_warns() {
        let w = slow_restore(9.0, vec![3.0, 2.5, 3.5], 2.0).unwrap();
        assert_eq!(w.kind, WarningKind::SlowRestore);
        assert!(
            w.message
                .contains("median of the last 3 passing runs (3.0s)")
        );
        assert!(
            slow_restore(5.0, vec![3.0], 2.0).is_none(),
            "under the factor"
        );
        assert!(
            slow_restore(0.9, vec![0.2], 2.0).is_none(),
            "sub-second jitter"
        );
        assert!(slow_restore(100.0, vec![], 2.0).is_none(), "no history");
    }

    #[test]
    fn a_change_of_compression_alone_is_no_shrink() {
        let gz = dump(100, None, Compression::Gzip);
        assert!(dump_shrunk(&gz, &was(1000, None, Compression::None), 5.0).is_none());
        let w = dump_shrunk(&gz, &was(1000, None, Compression::Gzip), 5.0).unwrap();
        assert_eq!(w.kind, WarningKind::DumpShrunk);
        assert!(w.message.contains("90% smaller"));
    }

    #[test]
    fn decompressed_sizes_compare_across_compressions() {
        let gz = dump(100, Some(950), Compression::Gzip);
        assert!(dump_shrunk(&gz, &was(1000, Some(1000), Compression::None), 10.0).is_none());
        let w = dump_shrunk(&gz, &was(1000, Some(2000), Compression::None), 10.0).unwrap();
        assert!(w.message.contains("decompressed"));
    }
}
