//! The evidence report of one run, for auditors: which dump (name, size,
//! sha256, where it came from), which image, when each phase started and
//! ended, every assertion with expected and observed values, and the verdict.
//! Built from history, so it can be produced any time after the run.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::assert::AssertionResult;
use crate::report::PhaseTime;
use crate::report::stored::{Acknowledgement, StoredDump, StoredRun};
use crate::vocab::{RunId, RunState, Trigger};

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// [`SCHEMA_VERSION`]: changes when a field changes meaning or goes away.
    pub schema_version: u32,
    pub run_id: RunId,
    pub job: String,
    pub verdict: RunState,
    pub reason: Option<String>,
    pub trigger: Option<Trigger>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub image: Option<String>,
    pub dump: Option<StoredDump>,
    pub phases: Vec<PhaseTime>,
    pub assertions: Vec<AssertionResult>,
    /// Row count of every restored table.
    pub tables: std::collections::BTreeMap<String, i64>,
    /// How a physical backup was recovered; `None` for a dump.
    pub recovery: Option<crate::report::RecoveryReport>,
    /// Who acknowledged this failing run, and until which run it held.
    pub acknowledgement: Option<Acknowledgement>,
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
}

/// The version of the `Evidence` schema in `docs/openapi.yaml` the JSON
/// follows (`report --json`, `GET /api/runs/{id}/report`); new fields may
/// appear without it.
pub const SCHEMA_VERSION: u32 = 1;

impl Evidence {
    pub fn of(run: &StoredRun) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            run_id: run.run_id.clone(),
            job: run.job.clone(),
            verdict: run.verdict,
            reason: run.reason.clone(),
            trigger: run.trigger,
            started_at: run.started_at,
            finished_at: run.finished_at,
            source: run.source.clone(),
            image: run.image.clone(),
            dump: run.dump.clone(),
            phases: run.phases.clone(),
            assertions: run.assertions.clone(),
            tables: run.tables.clone(),
            recovery: run.recovery.clone(),
            acknowledgement: run.acknowledgement.clone(),
            generated_at: Utc::now(),
            generated_by: format!("restoredrill {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Plain text, as `restoredrill report RUN_ID` prints it.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        self.write_run(&mut o);
        if let Some(d) = &self.dump {
            write_dump(&mut o, d);
        }
        if let Some(r) = &self.recovery {
            write_recovery(&mut o, r);
        }
        self.write_phases(&mut o);
        self.write_assertions(&mut o);
        self.write_tables(&mut o);
        if let Some(a) = &self.acknowledgement {
            write_acknowledgement(&mut o, a);
        }
        let _ = writeln!(
            o,
            "\nGenerated {} by {}",
            self.generated_at.to_rfc3339(),
            self.generated_by
        );
        o
    }

    /// Which run, its verdict and why, when it ran, from where, with which image.
    fn write_run(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "Restore evidence: run {} of job {}",
            self.run_id, self.job
        );
        let _ = writeln!(o, "Verdict:   {}", self.verdict.as_str().to_uppercase());
        if let Some(r) = &self.reason {
            let _ = writeln!(o, "Reason:    {r}");
        }
        let _ = writeln!(o, "Started:   {}", self.started_at.to_rfc3339());
        if let Some(f) = self.finished_at {
            let _ = writeln!(o, "Finished:  {}", f.to_rfc3339());
        }
        if let Some(s) = &self.source {
            let _ = writeln!(o, "Source:    {s}");
        }
        if let Some(i) = &self.image {
            let _ = writeln!(o, "Image:     {i}");
        }
    }

    fn write_phases(&self, o: &mut String) {
        let _ = writeln!(o, "\nPhases:");
        for p in &self.phases {
            let _ = writeln!(
                o,
                "  {:<14} {} .. {} ({:.1}s)",
                p.name,
                p.started_at.format("%H:%M:%S%.3f"),
                p.finished_at.format("%H:%M:%S%.3f"),
                p.seconds()
            );
        }
    }

    fn write_assertions(&self, o: &mut String) {
        let _ = writeln!(o, "\nAssertions:");
        if self.assertions.is_empty() {
            let _ = writeln!(o, "  (none ran)");
        }
        for a in &self.assertions {
            let _ = writeln!(
                o,
                "  {} {} {}: expected {}, observed {}",
                if a.passed { "PASS" } else { "FAIL" },
                a.kind,
                a.subject,
                a.expected,
                a.observed
            );
        }
    }

    fn write_tables(&self, o: &mut String) {
        if !self.tables.is_empty() {
            let _ = writeln!(o, "\nTables restored: {}", self.tables.len());
            for (t, n) in &self.tables {
                let _ = writeln!(o, "  {t:<40} {n:>12} rows");
            }
        }
    }
}

/// Who acknowledged the failure, when, why, and which run cleared it.
fn write_acknowledgement(o: &mut String, a: &Acknowledgement) {
    let _ = writeln!(o, "\nAcknowledged by {} at {}", a.by, a.at.to_rfc3339());
    if let Some(note) = &a.note {
        let _ = writeln!(o, "  Note:    {note}");
    }
    match (&a.cleared_by, a.cleared_at) {
        (Some(run), Some(at)) => {
            let _ = writeln!(
                o,
                "  Cleared: {} by run {run}, which ended with another verdict",
                at.to_rfc3339()
            );
        }
        _ => {
            let _ = writeln!(
                o,
                "  In force: no reminders until a run ends with another verdict"
            );
        }
    }
}

/// The dump as stored: path, size, sha256, modification time, what it is.
fn write_dump(o: &mut String, d: &StoredDump) {
    let _ = writeln!(o, "Dump:      {}", d.path);
    if let Some(size) = d.size {
        let _ = writeln!(o, "Size:      {size} bytes");
    }
    if let Some(sha) = &d.sha256 {
        let _ = writeln!(o, "SHA-256:   {sha}");
    }
    if let Some(m) = d.modified_at {
        let _ = writeln!(o, "Modified:  {}", m.to_rfc3339());
    }
    let what: Vec<&str> = [&d.format, &d.compression, &d.dumped_by]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !what.is_empty() {
        let _ = writeln!(o, "Format:    {}", what.join(", "));
    }
}

/// A physical backup's recovery, field by field.
fn write_recovery(o: &mut String, r: &crate::report::RecoveryReport) {
    let _ = writeln!(o, "\nRecovery ({})", r.kind);
    let rows: [(&str, Option<String>); 12] = [
        ("target", Some(r.target.clone())),
        ("backup label", r.backup_label.clone()),
        ("backup started", r.backup_started.clone()),
        ("WAL starts at", r.start_lsn.clone()),
        ("first segment", r.wal_first.clone()),
        ("newest segment", r.wal_newest.clone()),
        ("last replayed", r.last_segment_replayed.clone()),
        ("reached", r.reached_lsn.clone()),
        ("recovery point", r.recovery_point.map(|p| p.to_rfc3339())),
        (
            "point's age",
            r.recovery_point_age_seconds
                .map(|s| format!("{s} s at the run's start")),
        ),
        ("manifest", r.manifest.clone()),
        ("amcheck", r.amcheck.clone()),
    ];
    for (name, value) in rows {
        if let Some(v) = value {
            let _ = writeln!(o, "  {name:<15} {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Phase, Verdict};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn evidence(verdict: RunState) -> Evidence {
        Evidence {
            schema_version: SCHEMA_VERSION,
            run_id: "20261124T120000Z-3f2a".into(),
            job: "shop".into(),
            verdict,
            reason: None,
            trigger: Some(Trigger::Schedule),
            started_at: at("2026-11-24T12:00:00Z"),
            finished_at: None,
            source: None,
            image: None,
            dump: None,
            phases: Vec::new(),
            assertions: Vec::new(),
            tables: Default::default(),
            recovery: None,
            acknowledgement: None,
            generated_at: at("2026-11-25T08:00:00Z"),
            generated_by: "restoredrill 1.2.3".into(),
        }
    }

    fn assertion(kind: &str, subject: &str, passed: bool) -> AssertionResult {
        AssertionResult {
            kind: kind.into(),
            subject: subject.into(),
            passed,
            expected: "at least 100 rows".into(),
            observed: "42 rows".into(),
            note: Some("notes are not part of the evidence text".into()),
        }
    }

    #[test]
    fn a_finished_run_with_everything_recorded() {
        let mut e = evidence(RunState::Finished(Verdict::Fail));
        e.reason = Some("row_count public.orders: expected at least 100 rows".into());
        e.finished_at = Some(at("2026-11-24T12:01:00Z"));
        e.source = Some("/dumps".into());
        e.image = Some("postgres:16".into());
        e.dump = Some(StoredDump {
            path: "/dumps/shop.dump".into(),
            size: Some(5242880),
            modified_at: Some(at("2026-11-24T03:00:00Z")),
            sha256: Some("ab12cd34".into()),
            format: Some("PostgreSQL custom-format dump".into()),
            compression: None,
            dumped_by: Some("pg_dump 16.4".into()),
        });
        e.phases = vec![
            PhaseTime {
                name: Phase::Find,
                started_at: at("2026-11-24T12:00:00Z"),
                finished_at: at("2026-11-24T12:00:01.250Z"),
            },
            PhaseTime {
                name: Phase::Load,
                started_at: at("2026-11-24T12:00:01.250Z"),
                finished_at: at("2026-11-24T12:00:59Z"),
            },
        ];
        e.assertions = vec![
            assertion("row_count", "public.orders", false),
            assertion("tables_exist", "public.users", true),
        ];
        e.tables = [
            ("public.orders".to_string(), 42),
            ("public.users".to_string(), 7),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            e.render_text(),
            "Restore evidence: run 20261124T120000Z-3f2a of job shop\n\
             Verdict:   FAIL\n\
             Reason:    row_count public.orders: expected at least 100 rows\n\
             Started:   2026-11-24T12:00:00+00:00\n\
             Finished:  2026-11-24T12:01:00+00:00\n\
             Source:    /dumps\n\
             Image:     postgres:16\n\
             Dump:      /dumps/shop.dump\n\
             Size:      5242880 bytes\n\
             SHA-256:   ab12cd34\n\
             Modified:  2026-11-24T03:00:00+00:00\n\
             Format:    PostgreSQL custom-format dump, pg_dump 16.4\n\
             \n\
             Phases:\n\
             \x20 find           12:00:00.000 .. 12:00:01.250 (1.2s)\n\
             \x20 load           12:00:01.250 .. 12:00:59.000 (57.8s)\n\
             \n\
             Assertions:\n\
             \x20 FAIL row_count public.orders: expected at least 100 rows, observed 42 rows\n\
             \x20 PASS tables_exist public.users: expected at least 100 rows, observed 42 rows\n\
             \n\
             Tables restored: 2\n\
             \x20 public.orders                                      42 rows\n\
             \x20 public.users                                        7 rows\n\
             \n\
             Generated 2026-11-25T08:00:00+00:00 by restoredrill 1.2.3\n"
        );
    }

    fn ack(cleared: bool) -> Acknowledgement {
        Acknowledgement {
            run_id: "20261124T120000Z-3f2a".into(),
            job: "shop".into(),
            verdict: Verdict::Fail,
            by: "alice".into(),
            note: Some("the nightly dump lost orders; ticket OPS-12".into()),
            at: at("2026-11-24T13:00:00Z"),
            cleared_by: cleared.then(|| "20261125T120000Z-0b1c".into()),
            cleared_at: cleared.then(|| at("2026-11-25T12:02:00Z")),
        }
    }

    #[test]
    fn an_acknowledged_failure_says_who_when_why_and_what_cleared_it() {
        let mut e = evidence(RunState::Finished(Verdict::Fail));
        e.acknowledgement = Some(ack(false));
        let text = e.render_text();
        assert!(
            text.contains(
                "\nAcknowledged by alice at 2026-11-24T13:00:00+00:00\n\
                 \x20 Note:    the nightly dump lost orders; ticket OPS-12\n\
                 \x20 In force: no reminders until a run ends with another verdict\n\
                 \nGenerated"
            ),
            "{text}"
        );
        e.acknowledgement = Some(ack(true));
        let text = e.render_text();
        assert!(
            text.contains(
                "  Cleared: 2026-11-25T12:02:00+00:00 by run 20261125T120000Z-0b1c, \
                 which ended with another verdict\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_interrupted_run_with_nothing_recorded() {
        let mut e = evidence(RunState::Interrupted);
        e.dump = Some(StoredDump {
            path: "/dumps/shop.sql".into(),
            size: None,
            modified_at: None,
            sha256: None,
            format: None,
            compression: None,
            dumped_by: None,
        });
        assert_eq!(
            e.render_text(),
            "Restore evidence: run 20261124T120000Z-3f2a of job shop\n\
             Verdict:   INTERRUPTED\n\
             Started:   2026-11-24T12:00:00+00:00\n\
             Dump:      /dumps/shop.sql\n\
             \n\
             Phases:\n\
             \n\
             Assertions:\n\
             \x20 (none ran)\n\
             \n\
             Generated 2026-11-25T08:00:00+00:00 by restoredrill 1.2.3\n"
        );
    }

    /// The JSON the API and `report --json` print is what the `Evidence`
    /// schema of docs/openapi.yaml says.
    #[test]
    fn the_json_follows_the_evidence_schema_of_the_openapi_document() {
        let yaml = include_str!("../../docs/openapi.yaml");
        let mut doc: serde_json::Value = serde_saphyr::from_str(yaml).expect("openapi.yaml");
        doc["$ref"] = "#/components/schemas/Evidence".into();
        let validator = jsonschema::validator_for(&doc).expect("a JSON Schema");
        let mut e = evidence(RunState::Finished(Verdict::Pass));
        e.finished_at = Some(at("2026-11-24T12:01:00Z"));
        e.dump = Some(StoredDump {
            path: "/dumps/shop.dump".into(),
            size: Some(5242880),
            modified_at: Some(at("2026-11-24T03:00:00Z")),
            sha256: Some("ab".repeat(32)),
            format: Some("postgres_custom".into()),
            compression: None,
            dumped_by: Some("pg_dump 16.4".into()),
        });
        e.assertions = vec![assertion("row_count", "public.orders", true)];
        e.tables = [("public.orders".to_string(), 42)].into_iter().collect();
        let mut acknowledged = evidence(RunState::Finished(Verdict::Fail));
        acknowledged.acknowledgement = Some(ack(true));
        let mut in_force = evidence(RunState::Finished(Verdict::Error));
        in_force.acknowledgement = Some(Acknowledgement {
            note: None,
            verdict: Verdict::Error,
            ..ack(false)
        });
        for e in [e, evidence(RunState::Running), acknowledged, in_force] {
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(json["schema_version"], SCHEMA_VERSION);
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|x| x.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
        }
        // And it is strict enough to tell a wrong one.
        let mut wrong = serde_json::to_value(evidence(RunState::Running)).unwrap();
        wrong["schema_version"] = 2.into();
        assert!(!validator.is_valid(&wrong));
    }
}
