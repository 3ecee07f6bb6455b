//! A drill's outcome (`restoredrill drill JOB`): each mutant made of the
//! job's newest good dump, whether the job's checks caught it and by which,
//! the mutation score, and for each mutant that passed an assertion that
//! would have caught it. Rendered for people ([`render`]) and as JSON
//! (`docs/drill-report.schema.json`). A drill is never recorded in the
//! history: this report is all that is left of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::vocab::{EngineKind, RunId, Trigger};

/// What a drill found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillReport {
    pub job: String,
    pub engine: EngineKind,
    /// Where the newest dump, the one the mutants are made of, is.
    pub dump: String,
    /// The id the drill's verification of that dump ran under (not in history).
    pub verified_as: RunId,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Every mutant made and verified, in the order they were verified.
    pub mutants: Vec<MutantResult>,
    /// Mutants judged (caught or passed; not those that ended in error).
    pub made: usize,
    pub caught: usize,
    /// `caught / made`, from 0 to 1; `null` when no mutant was judged.
    pub score: Option<f64>,
    /// Mutants the drill could not make of this dump, and why.
    pub not_made: Vec<NotMade>,
}

/// One mutant and what the job's checks said of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MutantResult {
    /// Its short name, e.g. `cut-50-mid-line`, `table-missing`.
    pub name: String,
    /// How it was made, e.g. `pg_dump --exclude-table=public.reviews`.
    pub how: String,
    pub outcome: MutantOutcome,
    /// The check that caught it: `the end marker`, `the load`, `the screen`,
    /// `the baseline`, `the size bounds`, `assertion row_count public.orders`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caught_by: Option<String>,
    /// The verification's reason (why it failed, or why it could not be judged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a mutant that passed: what would have caught it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
}

/// What the job's checks made of one mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MutantOutcome {
    /// The verification failed: the job would have noticed.
    Caught,
    /// The verification passed: the job would not have noticed.
    Passed,
    /// The verification could not be done (the checker's trouble); not scored.
    Error,
}

/// A line to paste into the job's YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The key of the job it goes under: `assertions` (a list item) or `restore`.
    pub under: String,
    /// The YAML, in the flow style of `docs/configuration.md`.
    pub yaml: String,
}

/// A mutant the drill could not make, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotMade {
    pub name: String,
    pub why: String,
}

/// A job's latest drill as the history keeps it (the job page, the API,
/// `/metrics`): its score, or why it gave none, and the mutants the job's
/// checks let pass, each with the assertion that would catch it.
#[derive(Debug, Clone, Serialize)]
pub struct DrillSummary {
    pub job: String,
    /// `schedule` (the daemon's `drill:`) or `cli` (`restoredrill drill`).
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub caught: Option<usize>,
    pub made: Option<usize>,
    /// `caught / made`, from 0 to 1; `null` without a score.
    pub score: Option<f64>,
    /// Why the drill gave no score (e.g. the newest dump does not pass).
    pub error: Option<String>,
    /// The error is that the newest dump does not pass: nothing good to mutate.
    pub no_good_dump: bool,
    pub uncaught: Vec<MutantResult>,
}

/// Why a drill gave no score, as the history keeps it.
#[derive(Debug, Clone, Copy)]
pub struct NoScore<'a> {
    pub why: &'a str,
    /// The newest dump does not pass (else the checker's trouble).
    pub no_good_dump: bool,
}

impl DrillSummary {
    /// The summary of a drill that reported `r`.
    pub fn of(r: &DrillReport, trigger: Trigger) -> Self {
        Self {
            job: r.job.clone(),
            trigger,
            started_at: r.started_at,
            finished_at: r.finished_at,
            caught: Some(r.caught),
            made: Some(r.made),
            score: r.score,
            error: None,
            no_good_dump: false,
            uncaught: r
                .mutants
                .iter()
                .filter(|m| m.outcome == MutantOutcome::Passed)
                .cloned()
                .collect(),
        }
    }

    /// `8/12 (67 %)`, or why there is no score.
    pub fn score_text(&self) -> String {
        match (self.caught, self.made, &self.error) {
            (Some(caught), Some(made), _) => score_text(caught, made),
            (_, _, Some(e)) => format!("no score: {e}"),
            _ => "no score".into(),
        }
    }
}

/// The mutation score as people read it: `8/12 (67 %)`.
pub fn score_text(caught: usize, made: usize) -> String {
    if made == 0 {
        return "no mutant judged".into();
    }
    format!(
        "{caught}/{made} ({:.0} %)",
        caught as f64 * 100.0 / made as f64
    )
}

/// The caught share of the judged mutants.
pub fn score(mutants: &[MutantResult]) -> (usize, usize, Option<f64>) {
    let caught = mutants
        .iter()
        .filter(|m| m.outcome == MutantOutcome::Caught)
        .count();
    let made = mutants
        .iter()
        .filter(|m| m.outcome != MutantOutcome::Error)
        .count();
    let share = (made > 0).then(|| caught as f64 / made as f64);
    (caught, made, share)
}

/// The report for people.
pub fn render(r: &DrillReport) -> String {
    let mut out = format!(
        "Drill of job {} ({}): the newest dump {} passed; {} mutants of it verified as the job would\n\n",
        r.job,
        r.engine,
        r.dump,
        r.mutants.len()
    );
    let width = r.mutants.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for m in &r.mutants {
        let (word, detail) = match m.outcome {
            MutantOutcome::Caught => (
                "CAUGHT",
                format!("by {}", m.caught_by.as_deref().unwrap_or("?")),
            ),
            MutantOutcome::Passed => ("PASSED", "not noticed".to_string()),
            MutantOutcome::Error => (
                "ERROR ",
                format!("not judged: {}", m.reason.as_deref().unwrap_or("?")),
            ),
        };
        out.push_str(&format!("  {word}  {:width$}  {detail}\n", m.name));
        out.push_str(&format!("          {:width$}  made by: {}\n", "", m.how));
        if let Some(s) = &m.suggestion {
            let line = match s.under.as_str() {
                "assertions" => format!("- {}   (under the job's assertions:)", s.yaml),
                other => format!("{other}: {}", s.yaml),
            };
            out.push_str(&format!(
                "          {:width$}  would catch it: {line}\n",
                ""
            ));
        }
    }
    for n in &r.not_made {
        out.push_str(&format!(
            "  -       {:width$}  not made: {}\n",
            n.name, n.why
        ));
    }
    out.push_str(&format!(
        "\nMutation score: {}\n",
        score_text(r.caught, r.made)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(outcome: MutantOutcome) -> MutantResult {
        MutantResult {
            name: "x".into(),
            how: "y".into(),
            outcome,
            caught_by: None,
            reason: None,
            suggestion: None,
        }
    }

    #[test]
    fn the_score_counts_judged_mutants_only() {
        use MutantOutcome::*;
        let list = [m(Caught), m(Caught), m(Passed), m(Error)];
        let (caught, made, share) = score(&list);
        assert_eq!((caught, made), (2, 3));
        assert!((share.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(score_text(caught, made), "2/3 (67 %)");
        assert_eq!(score(&[m(Error)]).2, None);
        assert_eq!(score_text(0, 0), "no mutant judged");
    }
}
