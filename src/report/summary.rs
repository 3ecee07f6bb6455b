//! The human-readable summary of a run: verdict first, then each assertion
//! with expected vs observed, then where the kept restore can be reached.

use crate::assert::AssertionResult;
use crate::units::human_bytes;
use crate::vocab::Verdict;
use std::fmt::Write;

use chrono::Utc;

use super::{DumpReport, RunReport};

pub fn render(r: &RunReport) -> String {
    let mut out = String::new();
    headline(&mut out, r);
    match &r.dump {
        Some(d) => dump(&mut out, d),
        None => {
            let _ = writeln!(out, "  source   {}", r.source);
        }
    }
    if let Some(rec) = &r.recovery {
        recovery(&mut out, rec);
    }
    restore(&mut out, r);
    assertions(&mut out, &r.assertions);
    tool_output(&mut out, r);
    kept(&mut out, r);
    out
}

/// The job, the verdict in words, the run and how long it took; then why.
fn headline(out: &mut String, r: &RunReport) {
    // An empty f64 sum is -0.0, which would print as `-0.0s`.
    let total: f64 = r.phases.iter().map(|p| p.seconds()).sum::<f64>() + 0.0;
    let verdict = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR (the checker could not run; this says nothing about the backup)",
        Verdict::Unchanged => "UNCHANGED (this dump was verified before; not restored again)",
        Verdict::Skipped => "SKIPPED (the previous run was still going)",
    };
    let _ = writeln!(out, "{}: {verdict}   run {} ({total:.1}s)", r.job, r.run_id);
    if let Some(reason) = &r.reason {
        let _ = writeln!(out, "  reason   {reason}");
    }
}

/// Which dump: path and size, what it is, how old, its sha256.
fn dump(out: &mut String, d: &DumpReport) {
    let age = Utc::now().signed_duration_since(d.modified_at);
    let mut what = Vec::new();
    if let Some(f) = d.format {
        what.push(f.to_string());
    }
    if let Some(c) = d.compression {
        what.push(format!("compression {c}"));
    }
    if let Some(by) = &d.dumped_by {
        what.push(format!("by {by}"));
    }
    let _ = writeln!(out, "  dump     {} ({})", d.path, human_bytes(d.size));
    if !what.is_empty() {
        let _ = writeln!(out, "           {}", what.join(", "));
    }
    let when = if age
        < -chrono::Duration::from_std(crate::source::newest::FUTURE_TOLERANCE).unwrap_or_default()
    {
        format!("{} ahead of this host's clock", human_age(-age))
    } else {
        format!("{} ago", human_age(age))
    };
    let _ = writeln!(
        out,
        "           modified {} ({when})",
        d.modified_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    if let Some(sha) = &d.sha256 {
        let _ = writeln!(out, "  sha256   {sha}");
    }
}

/// A physical backup's recovery: the base backup, the WAL, how far it got.
fn recovery(out: &mut String, rec: &super::RecoveryReport) {
    let started = rec.backup_started.as_deref().unwrap_or("?");
    let _ = writeln!(
        out,
        "  backup   {} base backup started {started}, recovered to {}",
        rec.kind, rec.target
    );
    if let (Some(first), Some(newest)) = (&rec.wal_first, &rec.wal_newest) {
        let _ = writeln!(
            out,
            "  wal      {first} .. {newest} ({} segments, no gap)",
            rec.wal_segments
        );
    }
    if let Some(seg) = &rec.last_segment_replayed {
        let lsn = rec.reached_lsn.as_deref().unwrap_or("?");
        let _ = writeln!(out, "           replayed to {lsn}, last segment {seg}");
    }
    if let Some(point) = rec.recovery_point {
        let age = rec
            .recovery_point_age_seconds
            .map(|s| {
                format!(
                    " ({} before the run)",
                    human_age(chrono::Duration::seconds(s))
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  recovery point {}{age}",
            point.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    for said in [&rec.manifest, &rec.amcheck].into_iter().flatten() {
        let _ = writeln!(out, "  check    {said}");
    }
}

/// The image, the time of each phase and what was restored.
fn restore(out: &mut String, r: &RunReport) {
    let _ = writeln!(out, "  image    {}", r.image);
    if !r.phases.is_empty() {
        let phases: Vec<String> = r
            .phases
            .iter()
            .map(|p| format!("{} {:.1}s", p.name, p.seconds()))
            .collect();
        let _ = writeln!(out, "  phases   {}", phases.join(", "));
    }
    if !r.tables.is_empty() {
        let _ = writeln!(
            out,
            "  tables   {} restored, {} rows",
            r.tables.len(),
            r.tables.values().sum::<i64>()
        );
    }
}

/// One line per assertion, expected vs observed, with its note below.
fn assertions(out: &mut String, assertions: &[AssertionResult]) {
    for a in assertions {
        let mark = if a.passed { "ok  " } else { "FAIL" };
        let _ = writeln!(
            out,
            "  {mark} {} {}: expected {}, observed {}",
            a.kind, a.subject, a.expected, a.observed
        );
        if let Some(note) = &a.note {
            let _ = writeln!(out, "       ({note})");
        }
    }
}

/// The restore tool's last lines, on any run that did not pass.
fn tool_output(out: &mut String, r: &RunReport) {
    if r.verdict != Verdict::Pass && !r.tool_output.is_empty() {
        let _ = writeln!(out, "  tool output (last lines):");
        for l in &r.tool_output {
            let _ = writeln!(out, "    | {l}");
        }
    }
}

/// Where the kept restore can be reached: this run's, or the earlier one still serving.
fn kept(out: &mut String, r: &RunReport) {
    match &r.kept {
        Some(k) if k.run_id == r.run_id => {
            let _ = writeln!(
                out,
                "  kept     {}  (container {}; password: `restoredrill connect JOB --show-password`)",
                k.url(),
                k.container
            );
        }
        Some(k) => {
            let _ = writeln!(
                out,
                "  kept     unchanged: {} from run {} still serves at {}",
                k.container,
                k.run_id,
                k.url()
            );
        }
        None => {}
    }
}

fn human_age(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0) as u64;
    humantime::format_duration(std::time::Duration::from_secs(if secs > 3600 {
        secs / 60 * 60
    } else {
        secs
    }))
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PhaseTime, Warning};
    use crate::source::{Compression, DumpFormat};
    use crate::vocab::{EngineKind, KeptRestore, Phase, Secret, WarningKind};
    use chrono::{DateTime, Duration};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn report(verdict: Verdict) -> RunReport {
        RunReport {
            verdict,
            finished_at: at("2026-11-24T12:05:00Z"),
            ..RunReport::begun(
                "20261124T120000Z-3f2a".into(),
                "shop",
                EngineKind::Postgres,
                "postgres:16",
                "/dumps".into(),
                at("2026-11-24T12:00:00Z"),
            )
        }
    }

    fn phase(name: Phase, from: &str, to: &str) -> PhaseTime {
        PhaseTime {
            name,
            started_at: at(from),
            finished_at: at(to),
        }
    }

    fn assertion(kind: &str, subject: &str, passed: bool, note: Option<&str>) -> AssertionResult {
        AssertionResult {
            kind: kind.into(),
            subject: subject.into(),
            passed,
            expected: "at least 100 rows".into(),
            observed: "120 rows".into(),
            note: note.map(String::from),
        }
    }

    fn kept(run_id: &str) -> KeptRestore {
        KeptRestore {
            job: "shop".into(),
            run_id: run_id.into(),
            container: "restoredrill-shop".into(),
            volume: None,
            host: "127.0.0.1".into(),
            port: 49153,
            user: "postgres".into(),
            database: "shop".into(),
            password: Secret::new("hunter2"),
            promoted_at: at("2026-11-24T12:05:00Z"),
            engine: EngineKind::Postgres,
        }
    }

    /// A dump modified three days ago, and how the summary shows that time.
    fn dump() -> (DumpReport, String) {
        let modified_at = Utc::now() - Duration::days(3);
        let shown = modified_at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        let d = DumpReport {
            path: "/dumps/shop-2026-11-24.dump".into(),
            size: 5 * 1024 * 1024,
            modified_at,
            modified_known: true,
            sha256: Some("ab12cd34".into()),
            compression: Some(Compression::Gzip),
            format: Some(DumpFormat::PostgresCustom),
            dumped_by: Some("pg_dump 16.4".into()),
            uncompressed_size: None,
            databases: Vec::new(),
            version: None,
            encryption: None,
        };
        (d, shown)
    }

    #[test]
    fn a_passing_run_with_a_kept_restore_and_warnings() {
        let (d, modified) = dump();
        let mut r = report(Verdict::Pass);
        r.dump = Some(d);
        r.phases = vec![
            phase(
                Phase::Find,
                "2026-11-24T12:00:00Z",
                "2026-11-24T12:00:01.500Z",
            ),
            phase(
                Phase::Load,
                "2026-11-24T12:00:01.500Z",
                "2026-11-24T12:01:00Z",
            ),
        ];
        r.tables = [
            ("public.orders".to_string(), 120),
            ("public.users".to_string(), 30),
        ]
        .into_iter()
        .collect();
        r.assertions = vec![
            assertion("row_count", "public.orders", true, None),
            assertion("baseline", "run R1", true, Some("baseline accepted")),
        ];
        r.tool_output = vec!["not shown on a pass".into()];
        r.kept = Some(kept("20261124T120000Z-3f2a"));
        r.warnings = vec![Warning {
            kind: WarningKind::TableShrunk,
            message: "table `public.users` shrank".into(),
        }];
        assert_eq!(
            render(&r),
            format!(
                "shop: PASS   run 20261124T120000Z-3f2a (60.0s)\n\
                 \x20 dump     /dumps/shop-2026-11-24.dump (5.0 MiB)\n\
                 \x20          PostgreSQL custom-format dump, compression gzip, by pg_dump 16.4\n\
                 \x20          modified {modified} (3days ago)\n\
                 \x20 sha256   ab12cd34\n\
                 \x20 image    postgres:16\n\
                 \x20 phases   find 1.5s, load 58.5s\n\
                 \x20 tables   2 restored, 150 rows\n\
                 \x20 ok   row_count public.orders: expected at least 100 rows, observed 120 rows\n\
                 \x20 ok   baseline run R1: expected at least 100 rows, observed 120 rows\n\
                 \x20      (baseline accepted)\n\
                 \x20 kept     postgresql://postgres@127.0.0.1:49153/shop  (container restoredrill-shop; password: `restoredrill connect JOB --show-password`)\n"
            )
        );
    }

    #[test]
    fn a_failing_run_shows_failed_assertions_and_tool_output() {
        let (mut d, modified) = dump();
        d.sha256 = None;
        d.format = None;
        d.compression = None;
        d.dumped_by = None;
        let mut r = report(Verdict::Fail);
        r.reason = Some("row_count public.orders: expected at least 100 rows".into());
        r.dump = Some(d);
        r.assertions = vec![
            assertion("row_count", "public.orders", false, None),
            assertion("tables_exist", "public.users", true, None),
        ];
        r.tool_output = vec![
            "pg_restore: error: could not execute query".into(),
            "pg_restore: warning: errors ignored on restore: 1".into(),
        ];
        r.kept = Some(kept("20261123T120000Z-0001"));
        assert_eq!(
            render(&r),
            format!(
                "shop: FAIL   run 20261124T120000Z-3f2a (0.0s)\n\
                 \x20 reason   row_count public.orders: expected at least 100 rows\n\
                 \x20 dump     /dumps/shop-2026-11-24.dump (5.0 MiB)\n\
                 \x20          modified {modified} (3days ago)\n\
                 \x20 image    postgres:16\n\
                 \x20 FAIL row_count public.orders: expected at least 100 rows, observed 120 rows\n\
                 \x20 ok   tables_exist public.users: expected at least 100 rows, observed 120 rows\n\
                 \x20 tool output (last lines):\n\
                 \x20   | pg_restore: error: could not execute query\n\
                 \x20   | pg_restore: warning: errors ignored on restore: 1\n\
                 \x20 kept     unchanged: restoredrill-shop from run 20261123T120000Z-0001 still serves at postgresql://postgres@127.0.0.1:49153/shop\n"
            )
        );
    }

    #[test]
    fn an_unchanged_run() {
        let (d, modified) = dump();
        let mut r = report(Verdict::Unchanged);
        r.reason = Some("same sha256 as run 20261123T120000Z-0001".into());
        r.dump = Some(d);
        r.phases = vec![phase(
            Phase::Hash,
            "2026-11-24T12:00:00Z",
            "2026-11-24T12:00:02Z",
        )];
        r.kept = Some(kept("20261123T120000Z-0001"));
        assert_eq!(
            render(&r),
            format!(
                "shop: UNCHANGED (this dump was verified before; not restored again)   run 20261124T120000Z-3f2a (2.0s)\n\
                 \x20 reason   same sha256 as run 20261123T120000Z-0001\n\
                 \x20 dump     /dumps/shop-2026-11-24.dump (5.0 MiB)\n\
                 \x20          PostgreSQL custom-format dump, compression gzip, by pg_dump 16.4\n\
                 \x20          modified {modified} (3days ago)\n\
                 \x20 sha256   ab12cd34\n\
                 \x20 image    postgres:16\n\
                 \x20 phases   hash 2.0s\n\
                 \x20 kept     unchanged: restoredrill-shop from run 20261123T120000Z-0001 still serves at postgresql://postgres@127.0.0.1:49153/shop\n"
            )
        );
    }

    #[test]
    fn a_run_without_a_dump_names_the_source() {
        let mut r = report(Verdict::Error);
        r.reason = Some("no dump found in /dumps".into());
        r.tool_output = vec!["docker: image not found".into()];
        assert_eq!(
            render(&r),
            "shop: ERROR (the checker could not run; this says nothing about the backup)   run 20261124T120000Z-3f2a (0.0s)\n\
             \x20 reason   no dump found in /dumps\n\
             \x20 source   /dumps\n\
             \x20 image    postgres:16\n\
             \x20 tool output (last lines):\n\
             \x20   | docker: image not found\n"
        );
        assert!(render(&report(Verdict::Skipped)).starts_with(
            "shop: SKIPPED (the previous run was still going)   run 20261124T120000Z-3f2a (0.0s)\n"
        ));
    }

    #[test]
    fn ages_over_an_hour_drop_the_seconds() {
        assert_eq!(human_age(Duration::seconds(3599)), "59m 59s");
        assert_eq!(human_age(Duration::seconds(3725)), "1h 2m");
        assert_eq!(human_age(Duration::seconds(-5)), "0s");
    }
}
