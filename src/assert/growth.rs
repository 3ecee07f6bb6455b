//! `growth: {table: orders, min_new_rows: 1, max_shrink_percent: 5}`: compared
//! with the last passing run of the same job. The motivating check: "since the
//! last backup at least one new order was added". The first run has no
//! baseline; it says so and does not fail.

use serde::{Deserialize, Serialize};

use super::{AssertionResult, Evidence, find_table, qualify};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Growth {
    pub table: String,
    /// At least this many more rows than the baseline.
    #[serde(default)]
    pub min_new_rows: Option<i64>,
    /// At most this many percent fewer rows than the baseline.
    #[serde(default)]
    pub max_shrink_percent: Option<f64>,
}

impl Growth {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.min_new_rows.is_none() && self.max_shrink_percent.is_none() {
            p.push(format!(
                "growth on `{}` needs `min_new_rows`, `max_shrink_percent` or both",
                self.table
            ));
        }
        if let Some(pct) = self.max_shrink_percent
            && !(0.0..=100.0).contains(&pct)
        {
            p.push(format!(
                "max_shrink_percent must be between 0 and 100, not {pct}"
            ));
        }
        p
    }

    pub(crate) fn check(&self, ev: &Evidence<'_>) -> AssertionResult {
        let expected = self.expected();
        let Some((key, now)) = find_table(ev, &self.table) else {
            return AssertionResult::new("growth", qualify(&self.table, ev.default_schema), false)
                .expected(expected)
                .observed("table missing");
        };
        let Some(base) = ev.baseline else {
            return AssertionResult::new("growth", key, true)
                .expected(expected)
                .observed(format!("{now} rows"))
                .note("first passing run of this job: no baseline yet, nothing compared");
        };
        let Some(&before) = base.tables.get(key) else {
            return AssertionResult::new("growth", key, true)
                .expected(expected)
                .observed(format!("{now} rows"))
                .note(format!(
                    "the table was not in the baseline run {}",
                    base.run_id
                ));
        };
        let delta = now - before;
        let mut ok = true;
        if let Some(min) = self.min_new_rows {
            ok &= delta >= min;
        }
        let shrunk_pct = if before > 0 && delta < 0 {
            (-delta) as f64 * 100.0 / before as f64
        } else {
            0.0
        };
        if let Some(max) = self.max_shrink_percent {
            ok &= shrunk_pct <= max;
        }
        let observed = if delta < 0 {
            format!(
                "{now} rows, {} fewer ({shrunk_pct:.1}% shrink) than {before}",
                -delta
            )
        } else {
            format!("{now} rows, {delta} new since {before}")
        };
        AssertionResult::new("growth", key, ok)
            .expected(expected)
            .observed(observed)
            .note(format!("baseline: run {}", base.run_id))
    }

    fn expected(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.min_new_rows {
            parts.push(format!(">= {n} new rows"));
        }
        if let Some(p) = self.max_shrink_percent {
            parts.push(format!("shrink <= {p}%"));
        }
        parts.join(" and ")
    }
}

#[cfg(test)]
mod tests {
    use super::super::Baseline;
    use super::super::testing::*;
    use super::*;

    fn growth(min: Option<i64>, shrink: Option<f64>) -> Growth {
        Growth {
            table: "orders".into(),
            min_new_rows: min,
            max_shrink_percent: shrink,
        }
    }

    #[test]
    fn first_run_passes_and_says_why() {
        let t = tables(&[("public.orders", 120)]);
        let r = growth(Some(1), None).check(&evidence(&t, None));
        assert!(r.passed);
        assert!(r.note.unwrap().contains("no baseline"));
    }

    #[test]
    fn compares_with_the_baseline() {
        let base = Baseline {
            run_id: "r1".into(),
            tables: tables(&[("public.orders", 120)]),
            objects: None,
            accepted: false,
        };
        let same = tables(&[("public.orders", 120)]);
        let r = growth(Some(1), None).check(&evidence(&same, Some(&base)));
        assert!(!r.passed, "no new orders must fail");
        assert_eq!(r.observed, "120 rows, 0 new since 120");

        let grown = tables(&[("public.orders", 125)]);
        assert!(
            growth(Some(1), None)
                .check(&evidence(&grown, Some(&base)))
                .passed
        );

        let shrunk = tables(&[("public.orders", 60)]);
        let r = growth(None, Some(10.0)).check(&evidence(&shrunk, Some(&base)));
        assert!(!r.passed);
        assert!(r.observed.contains("50.0% shrink"), "{}", r.observed);
        assert!(
            growth(None, Some(60.0))
                .check(&evidence(&shrunk, Some(&base)))
                .passed
        );
    }
}
