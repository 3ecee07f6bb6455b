//! `freshness: {table: orders, column: created_at, max_age: 26h}`: the newest
//! value in a timestamp column is no older than `max_age` relative to the
//! dump's modification time — a dump written today that holds only last
//! month's data means the backup reads from a stale replica or copy.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AssertionResult, Evidence, HumanDuration, Session, find_table, fmt_duration, qualify};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    pub table: String,
    pub column: String,
    pub max_age: HumanDuration,
}

impl Freshness {
    pub(crate) fn problems(&self) -> Vec<String> {
        Vec::new()
    }

    pub(crate) async fn check(
        &self,
        ev: &Evidence<'_>,
        session: &mut dyn Session,
    ) -> AssertionResult {
        let subject = format!(
            "{}.{}",
            qualify(&self.table, ev.default_schema),
            self.column
        );
        let expected = format!(
            "newest {} at most {} older than the dump ({})",
            self.column,
            fmt_duration(self.max_age.0),
            ev.dump_modified.format("%Y-%m-%d %H:%M:%S UTC")
        );
        let Some((key, _)) = find_table(ev, &self.table) else {
            return AssertionResult::new("freshness", subject, false)
                .expected(expected)
                .observed("table missing");
        };
        let (schema, table) = key.split_once('.').unwrap_or((ev.default_schema, key));
        let subject = format!("{key}.{}", self.column);
        match session.max_timestamp(schema, table, &self.column).await {
            Err(e) => AssertionResult::new("freshness", subject, false)
                .expected(expected)
                .observed(format!("query failed: {e}")),
            Ok(None) => AssertionResult::new("freshness", subject, false)
                .expected(expected)
                .observed("no rows (no timestamp at all)"),
            Ok(Some(secs)) => {
                let newest = DateTime::<Utc>::from_timestamp(secs as i64, 0).unwrap_or_default();
                let age = ev.dump_modified.signed_duration_since(newest);
                let max =
                    chrono::Duration::from_std(self.max_age.0).unwrap_or(chrono::Duration::MAX);
                let ok = age <= max;
                let age_text = match age.to_std() {
                    Ok(a) => format!("{} older than the dump", fmt_duration(a)),
                    Err(_) => "newer than the dump".to_string(),
                };
                AssertionResult::new("freshness", subject, ok)
                    .expected(expected)
                    .observed(format!(
                        "newest {} ({age_text})",
                        newest.format("%Y-%m-%d %H:%M:%S UTC")
                    ))
            }
        }
    }
}
