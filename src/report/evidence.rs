//! The evidence report of one run, for auditors: which dump (name, size,
//! sha256, where it came from), which image, when each phase started and
//! ended, every assertion with expected and observed values, and the verdict.
//! Built from history, so it can be produced any time after the run.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::assert::AssertionResult;
use crate::report::PhaseTime;
use crate::report::stored::{StoredDump, StoredRun};
use crate::vocab::{RunId, RunState, Trigger};

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
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
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
}

impl Evidence {
    pub fn of(run: &StoredRun) -> Self {
        Self {
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
            generated_at: Utc::now(),
            generated_by: format!("restoredrill {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Plain text, as `restoredrill report RUN_ID` prints it.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
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
        if let Some(d) = &self.dump {
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
        if !self.tables.is_empty() {
            let _ = writeln!(o, "\nTables restored: {}", self.tables.len());
            for (t, n) in &self.tables {
                let _ = writeln!(o, "  {t:<40} {n:>12} rows");
            }
        }
        let _ = writeln!(
            o,
            "\nGenerated {} by {}",
            self.generated_at.to_rfc3339(),
            self.generated_by
        );
        o
    }
}
