//! Checks on a restored database, as written in a job's `assertions:` list.
//!
//! Each kind is one variant of [`Assertion`] (YAML: `- row_count: {...}`) with
//! its own file. An assertion turns evidence about the restore into an
//! [`AssertionResult`] that records what was expected and what was observed.
//! This stage only reads; it never changes the restored database.

pub mod baseline;
mod freshness;
pub mod grants;
mod growth;
mod restore_duration;
mod row_count;
pub mod sequences;
pub mod session;
mod sql;
mod tables_exist;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use baseline::{BaselineRules, SchemaObject};
pub use freshness::Freshness;
pub use grants::{Grants, Privilege};
pub use growth::Growth;
pub use restore_duration::RestoreDuration;
pub use row_count::RowCount;
pub use sequences::Counter;
pub use session::{QueryError, Scalar, Session};
pub use sql::{Expect, SqlCheck};
pub use tables_exist::TablesExist;

/// One check from a job's `assertions:` list.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Assertion {
    /// These tables exist (`schema.table` or a bare name in the default schema).
    TablesExist(TablesExist),
    /// A table's exact row count is within bounds.
    RowCount(RowCount),
    /// A table grew (or did not shrink too much) since the last passing run.
    Growth(Growth),
    /// The newest timestamp in a column is recent relative to the dump.
    Freshness(Freshness),
    /// A query returns an expected value, or no rows.
    Sql(SqlCheck),
    /// A role exists and holds these privileges on these tables.
    Grants(Grants),
    /// Loading the dump took no longer than a budget.
    RestoreDuration(RestoreDuration),
}

impl Assertion {
    /// Problems with the assertion as written (for `validate`).
    pub fn problems(&self) -> Vec<String> {
        match self {
            Self::TablesExist(a) => a.problems(),
            Self::RowCount(a) => a.problems(),
            Self::Growth(a) => a.problems(),
            Self::Freshness(a) => a.problems(),
            Self::Sql(a) => a.problems(),
            Self::Grants(a) => a.problems(),
            Self::RestoreDuration(_) => Vec::new(),
        }
    }

    /// Tables this assertion is about, for trend charts and reports.
    pub fn tables(&self) -> Vec<&str> {
        match self {
            Self::TablesExist(a) => a.0.iter().map(String::as_str).collect(),
            Self::RowCount(a) => vec![a.table.as_str()],
            Self::Growth(a) => vec![a.table.as_str()],
            Self::Freshness(a) => vec![a.table.as_str()],
            Self::Grants(a) => a.on.iter().map(String::as_str).collect(),
            Self::Sql(_) | Self::RestoreDuration(_) => Vec::new(),
        }
    }
}

/// What a run knows when its assertions are checked.
pub struct Evidence<'a> {
    /// Exact row count of every restored table, keyed `schema.table`.
    pub tables: &'a BTreeMap<String, i64>,
    /// Schema a bare table name refers to (`public`, or the MySQL database).
    pub default_schema: &'a str,
    /// The last passing run of the same job, if any.
    pub baseline: Option<&'a Baseline>,
    pub dump_modified: DateTime<Utc>,
    pub load_duration: Duration,
}

/// What the job's baseline run recorded: its last passing run, or the run
/// someone accepted since (`restoredrill accept`).
#[derive(Debug, Clone)]
pub struct Baseline {
    pub run_id: crate::vocab::RunId,
    pub tables: BTreeMap<String, i64>,
    /// `None` when that run predates the recording of schema objects.
    pub objects: Option<std::collections::BTreeSet<SchemaObject>>,
    /// The run was accepted as the baseline rather than passing.
    pub accepted: bool,
}

/// The outcome of one assertion, as recorded in history and reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct AssertionResult {
    /// The assertion kind, e.g. `row_count`.
    pub kind: String,
    /// What it is about, e.g. `public.orders` or the SQL check's name.
    pub subject: String,
    pub passed: bool,
    pub expected: String,
    pub observed: String,
    /// Context, e.g. "first run: no baseline yet".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AssertionResult {
    fn new(kind: &str, subject: impl Into<String>, passed: bool) -> Self {
        Self {
            kind: kind.to_string(),
            subject: subject.into(),
            passed,
            expected: String::new(),
            observed: String::new(),
            note: None,
        }
    }

    fn expected(mut self, e: impl Into<String>) -> Self {
        self.expected = e.into();
        self
    }

    fn observed(mut self, o: impl Into<String>) -> Self {
        self.observed = o.into();
        self
    }

    fn note(mut self, n: impl Into<String>) -> Self {
        self.note = Some(n.into());
        self
    }
}

/// Checks every assertion in order; a query that errors fails its assertion
/// and the rest still run, so a report shows every problem at once.
pub async fn check_all(
    assertions: &[Assertion],
    evidence: &Evidence<'_>,
    session: &mut dyn Session,
) -> Vec<AssertionResult> {
    let mut results = Vec::new();
    for a in assertions {
        match a {
            Assertion::TablesExist(a) => results.extend(a.check(evidence)),
            Assertion::RowCount(a) => results.push(a.check(evidence)),
            Assertion::Growth(a) => results.push(a.check(evidence)),
            Assertion::Freshness(a) => results.push(a.check(evidence, session).await),
            Assertion::Sql(a) => results.push(a.check(session).await),
            Assertion::Grants(a) => results.extend(a.check(evidence, session).await),
            Assertion::RestoreDuration(a) => results.push(a.check(evidence)),
        }
    }
    results
}

/// Finds a table in the restored inventory: `schema.table` exactly, a bare
/// name in the default schema, and failing those a case-insensitive match.
pub(crate) fn find_table<'a>(evidence: &'a Evidence<'_>, name: &str) -> Option<(&'a str, i64)> {
    let key = qualify(name, evidence.default_schema);
    if let Some((k, v)) = evidence.tables.get_key_value(&key) {
        return Some((k.as_str(), *v));
    }
    evidence
        .tables
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        .map(|(k, v)| (k.as_str(), *v))
}

/// `orders` → `public.orders`; `sales.orders` stays.
pub(crate) fn qualify(name: &str, default_schema: &str) -> String {
    if name.contains('.') {
        name.to_string()
    } else {
        format!("{default_schema}.{name}")
    }
}

/// A duration written in config, e.g. `26h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct HumanDuration(pub Duration);

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> Self {
        humantime::format_duration(d.0).to_string()
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::units::parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration, e.g. `90s`, `30m`, `2h`, `7d`.",
            "type": "string"
        })
    }
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn tables(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    pub fn evidence<'a>(
        tables: &'a BTreeMap<String, i64>,
        baseline: Option<&'a Baseline>,
    ) -> Evidence<'a> {
        Evidence {
            tables,
            default_schema: "public",
            baseline,
            dump_modified: "2026-11-21T00:00:00Z".parse().unwrap(),
            load_duration: Duration::from_secs(42),
        }
    }
}
