//! For a mutant the job did not catch, an assertion that would have, from
//! the good restore's facts (row counts, the newest timestamp's age, how
//! many values a column holds), written in the job's YAML flow style.
//! Plain functions; the tests parse every kind with the real config parser.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::report::drill::Suggestion;

fn assertion(yaml: String) -> Suggestion {
    Suggestion {
        under: "assertions".into(),
        yaml,
    }
}

/// A YAML scalar: plain when it is a simple name, quoted otherwise.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !s.starts_with(['-', '.'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
        )
        && s.parse::<f64>().is_err();
    match plain {
        true => s.to_string(),
        false => serde_json::to_string(s).expect("a string"),
    }
}

/// A minimum a table's count must keep: nine tenths of the good count, and
/// always above what the mutant held.
pub(super) fn min_rows(good: i64, mutant: i64) -> i64 {
    let ninety = good - good / 10;
    ninety.max(mutant + 1).max(1)
}

/// `row_count: { table: T, min: N }`.
pub(super) fn row_count(table: &str, good: i64, mutant: i64) -> Suggestion {
    assertion(format!(
        "row_count: {{ table: {}, min: {} }}",
        scalar(table),
        min_rows(good, mutant)
    ))
}

/// `tables_exist: [T]`.
pub(super) fn tables_exist(table: &str) -> Suggestion {
    assertion(format!("tables_exist: [{}]", scalar(table)))
}

/// `growth: { table: T, min_new_rows: 1 }`: a dump with no new row since the last good one fails.
pub(super) fn growth(table: &str) -> Suggestion {
    assertion(format!(
        "growth: {{ table: {}, min_new_rows: 1 }}",
        scalar(table)
    ))
}

/// `freshness: { table: T, column: C, max_age: A }`, with A the newest
/// value's age in the good restore rounded up to the hour plus a day, so a
/// normal day's backup passes; `None` when that is not under `moved` (the
/// data was already older than the mutant's shift).
pub(super) fn freshness(
    table: &str,
    column: &str,
    age: Duration,
    moved: Duration,
) -> Option<Suggestion> {
    let hours = age.as_secs().div_ceil(3600) + 24;
    if hours * 3600 >= moved.as_secs() {
        return None;
    }
    Some(assertion(format!(
        "freshness: {{ table: {}, column: {}, max_age: {hours}h }}",
        scalar(table),
        scalar(column)
    )))
}

/// An `sql` check that `column` of `table` keeps its values: at least nine
/// tenths of the good restore's non-NULL count. `quoted_table` and
/// `quoted_column` are in the engine's identifier quoting.
pub(super) fn filled(
    table: &str,
    column: &str,
    quoted_table: &str,
    quoted_column: &str,
    good_filled: i64,
) -> Suggestion {
    let query = format!("SELECT count(*) FROM {quoted_table} WHERE {quoted_column} IS NOT NULL");
    assertion(format!(
        "sql: {{ name: {}, query: {}, min: {} }}",
        scalar(&format!("{table}.{column} is filled")),
        serde_json::to_string(&query).expect("a string"),
        min_rows(good_filled, 0)
    ))
}

/// The job's `restore.require_end_marker: true`: a dump cut off before its
/// tool's completion line fails.
pub(super) fn require_end_marker() -> Suggestion {
    Suggestion {
        under: "restore".into(),
        yaml: "{ require_end_marker: true }".into(),
    }
}

/// What a cut mutant lost, compared with the good restore: the first table
/// missing, else the first with fewer rows (names as `name` gives them).
pub(super) fn from_difference(
    good: &BTreeMap<String, i64>,
    mutant: &BTreeMap<String, i64>,
    name: impl Fn(&str) -> String,
) -> Option<Suggestion> {
    if let Some(gone) = good.keys().find(|t| !mutant.contains_key(*t)) {
        return Some(tables_exist(&name(gone)));
    }
    good.iter().find_map(|(t, &rows)| {
        let now = mutant.get(t).copied().unwrap_or(0);
        (now < rows).then(|| row_count(&name(t), rows, now))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::Assertion;

    /// The suggestion pasted into a job of a real config, checked by the real parser.
    fn parses(s: &Suggestion) {
        let (assertions, restore) = match s.under.as_str() {
            "assertions" => (
                format!("    assertions:\n      - {}\n", s.yaml),
                String::new(),
            ),
            "restore" => (String::new(), format!("    restore: {}\n", s.yaml)),
            other => panic!("unknown key {other}"),
        };
        let text = format!(
            "state_dir: /tmp/rd\njobs:\n  - name: shop\n    engine: postgres\n    image: postgres:15\n    \
             source: {{ type: local, path: /tmp }}\n    database: shop\n{assertions}{restore}"
        );
        let config = crate::config::parse(std::path::Path::new("/tmp/c.yaml"), &text, &|_| None)
            .unwrap_or_else(|e| panic!("{} does not parse: {e:?}\n{text}", s.yaml));
        let job = &config.jobs[0];
        match s.under.as_str() {
            "assertions" => assert_eq!(job.assertions.len(), 1, "{}", s.yaml),
            _ => assert!(job.restore.require_end_marker),
        }
    }

    #[test]
    fn every_suggestion_parses_as_the_job_would_read_it() {
        let all = [
            row_count("orders", 125, 62),
            tables_exist("reviews"),
            tables_exist("sales.order items"),
            growth("orders"),
            freshness(
                "orders",
                "created_at",
                Duration::from_secs(3 * 3600 + 600),
                Duration::from_secs(30 * 86400),
            )
            .unwrap(),
            filled("orders", "note", "\"orders\"", "\"note\"", 120),
            filled("orders", "note", "`orders`", "`note`", 120),
            require_end_marker(),
        ];
        for s in &all {
            parses(s);
        }
        let yaml = &all[0].yaml;
        assert_eq!(yaml, "row_count: { table: orders, min: 113 }");
        assert_eq!(
            all[4].yaml,
            "freshness: { table: orders, column: created_at, max_age: 28h }"
        );
        let parsed: Assertion = serde_saphyr::from_str(&all[5].yaml).unwrap();
        let Assertion::Sql(sql) = parsed else {
            panic!("not an sql check")
        };
        assert_eq!(
            sql.query,
            "SELECT count(*) FROM \"orders\" WHERE \"note\" IS NOT NULL"
        );
        assert_eq!(sql.min, Some(108.0));
    }

    #[test]
    fn a_minimum_is_nine_tenths_and_above_the_mutant() {
        assert_eq!(min_rows(200_000, 100_000), 180_000);
        assert_eq!(min_rows(125, 0), 113);
        // A cut that lost a few rows: only a tighter minimum catches it.
        assert_eq!(min_rows(125, 120), 121);
        assert_eq!(min_rows(0, 0), 1);
    }

    #[test]
    fn no_freshness_is_suggested_for_data_older_than_the_shift() {
        let day = 86400;
        assert!(
            freshness(
                "t",
                "c",
                Duration::from_secs(40 * day),
                Duration::from_secs(30 * day)
            )
            .is_none()
        );
    }

    #[test]
    fn a_cut_suggests_what_it_lost() {
        let good: BTreeMap<String, i64> =
            [("public.orders".into(), 125), ("public.reviews".into(), 62)].into();
        let strip = |t: &str| t.trim_start_matches("public.").to_string();
        let lost_table: BTreeMap<String, i64> = [("public.orders".into(), 125)].into();
        assert_eq!(
            from_difference(&good, &lost_table, strip).unwrap().yaml,
            "tables_exist: [reviews]"
        );
        let fewer: BTreeMap<String, i64> =
            [("public.orders".into(), 100), ("public.reviews".into(), 62)].into();
        assert_eq!(
            from_difference(&good, &fewer, strip).unwrap().yaml,
            "row_count: { table: orders, min: 113 }"
        );
        assert!(from_difference(&good, &good, strip).is_none());
    }
}
