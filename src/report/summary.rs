//! The human-readable summary of a run: verdict first, then each assertion
//! with expected vs observed, then where the kept restore can be reached.

use crate::units::human_bytes;
use crate::vocab::Verdict;
use std::fmt::Write;

use chrono::Utc;

use super::RunReport;

pub fn render(r: &RunReport) -> String {
    let mut out = String::new();
    let total: f64 = r.phases.iter().map(|p| p.seconds()).sum();
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
    match &r.dump {
        Some(d) => {
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
            let _ = writeln!(
                out,
                "           modified {} ({} ago)",
                d.modified_at.format("%Y-%m-%d %H:%M:%S UTC"),
                human_age(age)
            );
            if let Some(sha) = &d.sha256 {
                let _ = writeln!(out, "  sha256   {sha}");
            }
        }
        None => {
            let _ = writeln!(out, "  source   {}", r.source);
        }
    }
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
    for a in &r.assertions {
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
    if r.verdict != Verdict::Pass && !r.tool_output.is_empty() {
        let _ = writeln!(out, "  tool output (last lines):");
        for l in &r.tool_output {
            let _ = writeln!(out, "    | {l}");
        }
    }
    match &r.kept {
        Some(k) if k.run_id == r.run_id => {
            let _ = writeln!(
                out,
                "  kept     {}  (container {}; password: `--json` output, kept.password)",
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
    out
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
