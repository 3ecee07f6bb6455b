//! Every restored table and schema object, compared with the job's baseline
//! (its last passing run, or the run someone accepted with `restoredrill
//! accept`), with no assertion written: a table or object that vanished, a
//! table that became empty, or one that shrank by more than
//! `baseline.fail_shrink_percent` fails the run; a smaller shrink past
//! `baseline.warn_shrink_percent` is a warning. New tables and objects are
//! fine. This is what catches a dump that restores "cleanly" but holds less
//! than the last good one.

use std::collections::BTreeSet;

use glob::{MatchOptions, Pattern};
use serde::Serialize;

use super::{AssertionResult, Baseline};
use crate::vocab::RunId;

/// A schema object of a restored database, e.g. `index` `public.rental.idx_fk_customer`.
/// Names of objects that belong to a table (indexes, constraints, triggers)
/// start with that table's `schema.table`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SchemaObject {
    /// `table`, `view`, `materialized view`, `sequence`, `function`,
    /// `procedure`, `aggregate`, `index`, `constraint`, `trigger`, `event`...
    pub kind: String,
    pub name: String,
}

impl SchemaObject {
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            name: name.into(),
        }
    }
}

/// `baseline:` of a job, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRules {
    /// A table that shrank by more than this, in percent, fails the run.
    pub fail_shrink_percent: f64,
    /// A table that shrank by more than this, in percent, is a warning.
    pub warn_shrink_percent: f64,
    /// Tables and objects not compared (`schema.table` globs; a bare name is
    /// in the default schema). An excluded table's indexes, constraints and
    /// triggers are not compared either.
    pub exclude: Vec<String>,
    /// Thresholds for single tables, first match wins.
    pub tables: Vec<TableRule>,
    /// A restore whose every table is empty passes (`baseline.allow_empty`).
    pub allow_empty: bool,
    /// Every counter owned by a column is checked against the column's
    /// values (`baseline.sequences`, [`super::sequences`]).
    pub sequences: bool,
}

pub const DEFAULT_FAIL_SHRINK_PERCENT: f64 = 50.0;
pub const DEFAULT_WARN_SHRINK_PERCENT: f64 = 5.0;

impl Default for BaselineRules {
    fn default() -> Self {
        Self {
            fail_shrink_percent: DEFAULT_FAIL_SHRINK_PERCENT,
            warn_shrink_percent: DEFAULT_WARN_SHRINK_PERCENT,
            exclude: Vec::new(),
            tables: Vec::new(),
            allow_empty: false,
            sequences: true,
        }
    }
}

/// Thresholds for the tables `pattern` matches.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRule {
    pub pattern: String,
    pub fail_shrink_percent: f64,
    pub warn_shrink_percent: f64,
}

/// What a run has to compare.
pub struct Restored<'a> {
    /// Exact row counts, keyed `schema.table`.
    pub tables: &'a std::collections::BTreeMap<String, i64>,
    pub objects: &'a BTreeSet<SchemaObject>,
    pub default_schema: &'a str,
}

/// The outcome of the comparison.
#[derive(Debug, Default)]
pub struct Comparison {
    /// A summary line and one line per difference that fails the run.
    pub results: Vec<AssertionResult>,
    /// Why the run fails, in the user's words, one per difference.
    pub failures: Vec<String>,
    /// Shrinks worth a look that do not fail the run.
    pub warnings: Vec<String>,
    /// On a first run, one line per empty table.
    pub empty_tables: Vec<String>,
}

const KIND: &str = "baseline";

/// Checks `pattern` (a glob) is usable; the error says why not.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    Pattern::new(pattern)
        .map(|_| ())
        .map_err(|e| format!("`{pattern}` is not a usable pattern: {e}"))
}

impl BaselineRules {
    fn matches(pattern: &str, name: &str, default_schema: &str) -> bool {
        let pattern = super::qualify(pattern, default_schema);
        let opts = MatchOptions {
            case_sensitive: false,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        Pattern::new(&pattern).is_ok_and(|p| p.matches_with(name, opts))
    }

    fn excluded(&self, name: &str, default_schema: &str) -> bool {
        // `schema.table.index` belongs to `schema.table` (and
        // `database.schema.table.index` to `database.schema.table`).
        let parts: Vec<&str> = name.split('.').collect();
        let owners = (2..parts.len()).map(|n| parts[..n].join("."));
        std::iter::once(name.to_string()).chain(owners).any(|n| {
            self.exclude
                .iter()
                .any(|p| Self::matches(p, &n, default_schema))
        })
    }

    fn thresholds(&self, table: &str, default_schema: &str) -> (f64, f64) {
        self.tables
            .iter()
            .find(|r| Self::matches(&r.pattern, table, default_schema))
            .map_or((self.fail_shrink_percent, self.warn_shrink_percent), |r| {
                (r.fail_shrink_percent, r.warn_shrink_percent)
            })
    }

    /// Compares `now` with `baseline` (`None` on a job's first run).
    pub fn compare(&self, baseline: Option<&Baseline>, now: &Restored<'_>) -> Comparison {
        let mut c = match baseline {
            None => Comparison::first_run(now),
            Some(base) => self.compare_with(base, now),
        };
        if !self.allow_empty {
            self.all_empty(&mut c, now);
        }
        c
    }

    /// A restore whose every table (but those excluded) is empty fails:
    /// the dump held the schema without the data.
    fn all_empty(&self, c: &mut Comparison, now: &Restored<'_>) {
        let compared: Vec<i64> = now
            .tables
            .iter()
            .filter(|(t, _)| !self.excluded(t, now.default_schema))
            .map(|(_, &rows)| rows)
            .collect();
        if compared.is_empty() || compared.iter().any(|&rows| rows != 0) {
            return;
        }
        let n = compared.len();
        let why = format!(
            "every one of the {n} restored tables is empty: the dump holds the schema but no rows. \
             Was it made with `pg_dump --schema-only` or `mysqldump --no-data` (-d)? \
             Set `baseline.allow_empty: true` if this database is meant to be empty"
        );
        c.fail(
            "every table",
            "rows in at least one table".into(),
            format!("{n} tables, 0 rows"),
            why,
        );
        // The reason leads with the likeliest cause, not one table of many.
        let last = c.failures.pop().expect("just pushed");
        c.failures.insert(0, last);
    }

    fn compare_with(&self, base: &Baseline, now: &Restored<'_>) -> Comparison {
        let mut c = Comparison::default();
        let compared_tables = self.compare_tables(&mut c, base, now);
        let compared_objects = self.compare_objects(&mut c, base, now);
        let summary = self.summary(&c, base, compared_tables, compared_objects);
        c.results.insert(0, summary);
        c
    }

    /// Row counts of the baseline's tables; returns how many were compared.
    fn compare_tables(&self, c: &mut Comparison, base: &Baseline, now: &Restored<'_>) -> usize {
        let mut compared = 0;
        for (table, &before) in &base.tables {
            if self.excluded(table, now.default_schema) {
                continue;
            }
            compared += 1;
            let after = now.tables.get(table).copied();
            self.compare_table(c, &base.run_id, table, before, after, now.default_schema);
        }
        compared
    }

    /// One table: missing, emptied, shrunk past the failing or the warning
    /// threshold, or fine.
    fn compare_table(
        &self,
        c: &mut Comparison,
        run: &RunId,
        table: &str,
        before: i64,
        after: Option<i64>,
        default_schema: &str,
    ) {
        let Some(after) = after else {
            c.fail(
                table,
                format!("{before} rows (run {run})"),
                "missing",
                format!(
                    "table `{table}` existed in the last good restore (run {run}, {before} rows) and is missing"
                ),
            );
            return;
        };
        if before > 0 && after == 0 {
            c.fail(
                table,
                format!("{before} rows (run {run})"),
                "0 rows",
                format!(
                    "table `{table}` is empty; in the last good restore (run {run}) it had {before} rows"
                ),
            );
            return;
        }
        if before <= after {
            return;
        }
        let (fail_pct, warn_pct) = self.thresholds(table, default_schema);
        let shrink = (before - after) as f64 * 100.0 / before as f64;
        if shrink > fail_pct {
            c.fail(
                table,
                format!("at most {fail_pct}% fewer than {before} rows (run {run})"),
                format!("{after} rows ({shrink:.1}% fewer)"),
                format!(
                    "table `{table}` shrank by {shrink:.1}% since the last good restore (run {run}): \
                     {before} → {after} rows, more than the {fail_pct}% allowed (baseline.fail_shrink_percent)"
                ),
            );
        } else if shrink > warn_pct {
            c.warnings.push(format!(
                "table `{table}` shrank by {shrink:.1}% since the last good restore (run {run}): \
                 {before} → {after} rows"
            ));
        }
    }

    /// Schema objects of the baseline, when it recorded them; returns how
    /// many were compared.
    fn compare_objects(&self, c: &mut Comparison, base: &Baseline, now: &Restored<'_>) -> usize {
        let Some(objects) = &base.objects else {
            return 0;
        };
        let run = &base.run_id;
        let mut compared = 0;
        for o in objects {
            // Tables with row counts were compared with the tables.
            if (o.kind == "table" && base.tables.contains_key(&o.name))
                || self.excluded(&o.name, now.default_schema)
            {
                continue;
            }
            compared += 1;
            if !now.objects.contains(o) {
                c.fail(
                    &o.name,
                    format!("{} (run {run})", o.kind),
                    "missing",
                    format!(
                        "{} `{}` existed in the last good restore (run {run}) and is missing",
                        o.kind, o.name
                    ),
                );
            }
        }
        compared
    }

    /// The line that heads the results: what was compared and how it went.
    fn summary(
        &self,
        c: &Comparison,
        base: &Baseline,
        compared_tables: usize,
        compared_objects: usize,
    ) -> AssertionResult {
        let run = &base.run_id;
        let summary = AssertionResult::new(KIND, format!("run {run}"), c.failures.is_empty())
            .expected(format!(
                "the {compared_tables} tables and {compared_objects} schema objects of run {run}, \
                 no table {}% smaller",
                self.fail_shrink_percent
            ))
            .observed(if c.failures.is_empty() {
                "all present".to_string()
            } else {
                format!("{} differences", c.failures.len())
            });
        match (&base.objects, base.accepted) {
            (None, _) => summary.note("schema objects were not recorded by the baseline run"),
            (Some(_), true) => summary.note("baseline accepted with `restoredrill accept`"),
            _ => summary,
        }
    }
}

impl Comparison {
    /// A job's first run: nothing to compare with, so it passes and says why.
    fn first_run(now: &Restored<'_>) -> Self {
        let mut c = Comparison {
            empty_tables: now
                .tables
                .iter()
                .filter(|(_, rows)| **rows == 0)
                .map(|(t, _)| {
                    format!("table `{t}` is empty (first run: no baseline to compare it with)")
                })
                .collect(),
            ..Comparison::default()
        };
        c.results.push(
            AssertionResult::new(KIND, "last good restore", true)
                .expected("the tables and schema objects of the last good restore")
                .observed(format!(
                    "{} tables, {} schema objects",
                    now.tables.len(),
                    now.objects.len()
                ))
                .note("first run: no baseline yet; a pass makes this restore the baseline"),
        );
        c
    }

    fn fail(&mut self, subject: &str, expected: String, observed: impl Into<String>, why: String) {
        self.results.push(
            AssertionResult::new(KIND, subject, false)
                .expected(expected)
                .observed(observed),
        );
        self.failures.push(why);
    }

    /// The reason a failing comparison gives for the run.
    pub fn reason(&self) -> Option<String> {
        let first = self.failures.first()?;
        Some(match self.failures.len() {
            1 => first.clone(),
            n => format!(
                "{first} (and {} more differences from the last good restore; see the report)",
                n - 1
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::testing::tables;
    use std::collections::BTreeMap;

    fn objects(list: &[(&str, &str)]) -> BTreeSet<SchemaObject> {
        list.iter()
            .map(|(k, n)| SchemaObject::new(*k, *n))
            .collect()
    }

    fn base(t: &[(&str, i64)], o: &[(&str, &str)]) -> Baseline {
        Baseline {
            run_id: "R1".into(),
            tables: tables(t),
            objects: Some(objects(o)),
            accepted: false,
        }
    }

    fn compare(
        rules: &BaselineRules,
        b: &Baseline,
        t: &[(&str, i64)],
        o: &[(&str, &str)],
    ) -> Comparison {
        let (t, o) = (tables(t), objects(o));
        rules.compare(
            Some(b),
            &Restored {
                tables: &t,
                objects: &o,
                default_schema: "public",
            },
        )
    }

    #[test]
    fn a_vanished_table_fails_naming_its_rows() {
        let b = base(&[("public.rental", 16044), ("public.film", 1000)], &[]);
        let c = compare(&BaselineRules::default(), &b, &[("public.film", 1000)], &[]);
        assert_eq!(
            c.reason().unwrap(),
            "table `public.rental` existed in the last good restore (run R1, 16044 rows) and is missing"
        );
        assert!(!c.results[0].passed);
    }

    #[test]
    fn an_emptied_table_fails_and_an_empty_one_may_stay_empty() {
        let b = base(&[("public.a", 10), ("public.b", 0), ("public.c", 5)], &[]);
        let c = compare(
            &BaselineRules::default(),
            &b,
            &[("public.a", 0), ("public.b", 0), ("public.c", 5)],
            &[],
        );
        assert_eq!(c.failures.len(), 1);
        assert!(c.failures[0].starts_with("table `public.a` is empty"));
    }

    #[test]
    fn a_restore_with_every_table_empty_fails_first_naming_the_likely_cause() {
        let b = base(&[("public.a", 10), ("public.b", 0)], &[]);
        let now = [("public.a", 0), ("public.b", 0)];
        let c = compare(&BaselineRules::default(), &b, &now, &[]);
        let why = c.reason().unwrap();
        assert!(
            why.starts_with("every one of the 2 restored tables is empty")
                && why.contains("--no-data"),
            "{why}"
        );
        let allowed = BaselineRules {
            allow_empty: true,
            ..BaselineRules::default()
        };
        let c = compare(&allowed, &b, &now, &[]);
        assert_eq!(c.failures.len(), 1, "the emptied table still fails");
        // An excluded table with rows does not make the rest count as data.
        let excluding = BaselineRules {
            exclude: vec!["c".into()],
            ..BaselineRules::default()
        };
        let c = excluding.compare(
            None,
            &Restored {
                tables: &[("public.a", 0), ("public.c", 9)]
                    .iter()
                    .map(|(t, n)| (t.to_string(), *n))
                    .collect(),
                objects: &BTreeSet::new(),
                default_schema: "public",
            },
        );
        assert!(
            c.reason().unwrap().starts_with("every one of the 1"),
            "{:?}",
            c.failures
        );
    }

    #[test]
    fn a_first_run_passes_and_lists_each_empty_table() {
        let tables = [("public.a".to_string(), 0), ("public.b".to_string(), 3)]
            .into_iter()
            .collect();
        let c = BaselineRules::default().compare(
            None,
            &Restored {
                tables: &tables,
                objects: &BTreeSet::new(),
                default_schema: "public",
            },
        );
        assert!(c.failures.is_empty());
        assert_eq!(
            c.empty_tables,
            ["table `public.a` is empty (first run: no baseline to compare it with)"]
        );
        let none = BTreeMap::new();
        let c = BaselineRules::default().compare(
            None,
            &Restored {
                tables: &none,
                objects: &BTreeSet::new(),
                default_schema: "public",
            },
        );
        assert!(
            c.failures.is_empty(),
            "no tables at all is judged elsewhere"
        );
    }

    #[test]
    fn shrink_thresholds_fail_warn_and_allow() {
        let b = base(
            &[
                ("public.big", 1000),
                ("public.mid", 1000),
                ("public.ok", 1000),
            ],
            &[],
        );
        let c = compare(
            &BaselineRules::default(),
            &b,
            &[("public.big", 400), ("public.mid", 900), ("public.ok", 960)],
            &[],
        );
        assert_eq!(c.failures.len(), 1, "{:?}", c.failures);
        assert!(c.failures[0].contains("shrank by 60.0%"));
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("public.mid"));
        // Growth is never a problem.
        let c = compare(
            &BaselineRules::default(),
            &b,
            &[
                ("public.big", 5000),
                ("public.mid", 1000),
                ("public.ok", 1000),
            ],
            &[],
        );
        assert!(c.failures.is_empty() && c.warnings.is_empty());
        assert!(c.results[0].passed);
    }

    #[test]
    fn per_table_thresholds_and_exclusions() {
        let rules = BaselineRules {
            exclude: vec!["sessions".into(), "audit_*".into()],
            tables: vec![TableRule {
                pattern: "public.events".into(),
                fail_shrink_percent: 95.0,
                warn_shrink_percent: 90.0,
            }],
            ..Default::default()
        };
        let b = base(
            &[
                ("public.sessions", 500),
                ("public.audit_2026", 9),
                ("public.events", 100),
            ],
            &[
                ("index", "public.sessions.sessions_pkey"),
                ("index", "public.events.events_pkey"),
            ],
        );
        let c = compare(
            &rules,
            &b,
            &[("public.events", 20)],
            &[("index", "public.events.events_pkey")],
        );
        assert!(c.failures.is_empty(), "{:?}", c.failures);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = compare(
            &rules,
            &b,
            &[("public.events", 2)],
            &[("index", "public.events.events_pkey")],
        );
        assert_eq!(c.failures.len(), 1);
    }

    #[test]
    fn a_vanished_object_fails_by_kind_and_name() {
        let b = base(
            &[("public.rental", 5)],
            &[
                ("table", "public.rental"),
                ("index", "public.rental.idx_fk_customer_id"),
                ("view", "public.customer_list"),
                ("table", "public.payment_p2022_01"),
            ],
        );
        let c = compare(
            &BaselineRules::default(),
            &b,
            &[("public.rental", 5)],
            &[("table", "public.rental"), ("view", "public.customer_list")],
        );
        assert_eq!(c.failures.len(), 2, "{:?}", c.failures);
        assert!(c.failures.contains(
            &"index `public.rental.idx_fk_customer_id` existed in the last good restore (run R1) and is missing".to_string()
        ));
        assert!(
            c.failures
                .iter()
                .any(|f| f.starts_with("table `public.payment_p2022_01`"))
        );
        assert!(c.reason().unwrap().contains("and 1 more differences"));
    }

    #[test]
    fn no_baseline_passes_and_says_so() {
        let (t, o) = (tables(&[("public.a", 1)]), objects(&[]));
        let c = BaselineRules::default().compare(
            None,
            &Restored {
                tables: &t,
                objects: &o,
                default_schema: "public",
            },
        );
        assert!(c.failures.is_empty());
        assert!(c.results[0].passed);
        assert!(
            c.results[0]
                .note
                .as_deref()
                .unwrap()
                .contains("no baseline")
        );
    }

    #[test]
    fn a_baseline_without_recorded_objects_compares_tables_only() {
        let mut b = base(&[("public.a", 3)], &[]);
        b.objects = None;
        let c = compare(&BaselineRules::default(), &b, &[("public.a", 3)], &[]);
        assert!(c.failures.is_empty());
        assert!(
            c.results[0]
                .note
                .as_deref()
                .unwrap()
                .contains("not recorded")
        );
    }

    /// Every result, failure and warning of `c`, one per line, to pin them exactly.
    fn pinned(c: &Comparison) -> String {
        let mut out = String::new();
        for r in &c.results {
            out += &format!(
                "{} {} {} | expected {} | observed {} | note {:?}\n",
                if r.passed { "pass" } else { "FAIL" },
                r.kind,
                r.subject,
                r.expected,
                r.observed,
                r.note
            );
        }
        for f in &c.failures {
            out += &format!("failure: {f}\n");
        }
        for w in &c.warnings {
            out += &format!("warning: {w}\n");
        }
        out += &format!("reason: {:?}\n", c.reason());
        out
    }

    #[test]
    fn pinned_differences_of_every_kind() {
        let rules = BaselineRules {
            exclude: vec!["public.sessions".into()],
            ..Default::default()
        };
        let mut b = base(
            &[
                ("public.rental", 16044),
                ("public.emptied", 10),
                ("public.big", 1000),
                ("public.mid", 1000),
                ("public.sessions", 500),
                ("public.grown", 5),
            ],
            &[
                ("index", "public.rental.rental_pkey"),
                ("index", "public.sessions.sessions_pkey"),
                ("view", "public.customer_list"),
                ("table", "public.big"),
            ],
        );
        b.accepted = true;
        let c = compare(
            &rules,
            &b,
            &[
                ("public.emptied", 0),
                ("public.big", 333),
                ("public.mid", 925),
                ("public.grown", 50),
            ],
            &[("table", "public.big")],
        );
        assert_eq!(
            pinned(&c),
            "FAIL baseline run R1 | expected the 5 tables and 2 schema objects of run R1, no table 50% smaller | observed 5 differences | note Some(\"baseline accepted with `restoredrill accept`\")\n\
             FAIL baseline public.big | expected at most 50% fewer than 1000 rows (run R1) | observed 333 rows (66.7% fewer) | note None\n\
             FAIL baseline public.emptied | expected 10 rows (run R1) | observed 0 rows | note None\n\
             FAIL baseline public.rental | expected 16044 rows (run R1) | observed missing | note None\n\
             FAIL baseline public.rental.rental_pkey | expected index (run R1) | observed missing | note None\n\
             FAIL baseline public.customer_list | expected view (run R1) | observed missing | note None\n\
             failure: table `public.big` shrank by 66.7% since the last good restore (run R1): 1000 → 333 rows, more than the 50% allowed (baseline.fail_shrink_percent)\n\
             failure: table `public.emptied` is empty; in the last good restore (run R1) it had 10 rows\n\
             failure: table `public.rental` existed in the last good restore (run R1, 16044 rows) and is missing\n\
             failure: index `public.rental.rental_pkey` existed in the last good restore (run R1) and is missing\n\
             failure: view `public.customer_list` existed in the last good restore (run R1) and is missing\n\
             warning: table `public.mid` shrank by 7.5% since the last good restore (run R1): 1000 → 925 rows\n\
             reason: Some(\"table `public.big` shrank by 66.7% since the last good restore (run R1): 1000 → 333 rows, more than the 50% allowed (baseline.fail_shrink_percent) (and 4 more differences from the last good restore; see the report)\")\n"
        );
    }

    #[test]
    fn pinned_single_differences() {
        let rules = BaselineRules::default();
        let b = base(&[("public.rental", 16044)], &[]);
        let c = compare(&rules, &b, &[], &[]);
        assert_eq!(
            pinned(&c),
            "FAIL baseline run R1 | expected the 1 tables and 0 schema objects of run R1, no table 50% smaller | observed 1 differences | note None\n\
             FAIL baseline public.rental | expected 16044 rows (run R1) | observed missing | note None\n\
             failure: table `public.rental` existed in the last good restore (run R1, 16044 rows) and is missing\n\
             reason: Some(\"table `public.rental` existed in the last good restore (run R1, 16044 rows) and is missing\")\n"
        );
        let mut b = base(&[("public.a", 10)], &[]);
        b.objects = None;
        let c = compare(&rules, &b, &[("public.a", 9)], &[]);
        assert_eq!(
            pinned(&c),
            "pass baseline run R1 | expected the 1 tables and 0 schema objects of run R1, no table 50% smaller | observed all present | note Some(\"schema objects were not recorded by the baseline run\")\n\
             warning: table `public.a` shrank by 10.0% since the last good restore (run R1): 10 → 9 rows\n\
             reason: None\n"
        );
    }

    #[test]
    fn pinned_first_run_without_a_baseline() {
        let (t, o) = (
            tables(&[("public.a", 1), ("public.b", 2)]),
            objects(&[("view", "public.v")]),
        );
        let c = BaselineRules::default().compare(
            None,
            &Restored {
                tables: &t,
                objects: &o,
                default_schema: "public",
            },
        );
        assert_eq!(
            pinned(&c),
            "pass baseline last good restore | expected the tables and schema objects of the last good restore | observed 2 tables, 1 schema objects | note Some(\"first run: no baseline yet; a pass makes this restore the baseline\")\n\
             reason: None\n"
        );
    }
}
