//! `row_count: {table: orders, min: 1, max: 10000000}`: exact row count within bounds.

use serde::{Deserialize, Serialize};

use super::{AssertionResult, Evidence, find_table, qualify};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    pub table: String,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

impl RowCount {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.min.is_none() && self.max.is_none() {
            p.push(format!(
                "row_count on `{}` needs `min`, `max` or both",
                self.table
            ));
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max)
            && lo > hi
        {
            p.push(format!(
                "row_count on `{}`: min {lo} is above max {hi}",
                self.table
            ));
        }
        p
    }

    pub(crate) fn check(&self, ev: &Evidence<'_>) -> AssertionResult {
        let expected = bounds(self.min, self.max);
        let Some((key, rows)) = find_table(ev, &self.table) else {
            return AssertionResult::new(
                "row_count",
                qualify(&self.table, ev.default_schema),
                false,
            )
            .expected(expected)
            .observed("table missing");
        };
        let ok = self.min.is_none_or(|lo| rows >= lo) && self.max.is_none_or(|hi| rows <= hi);
        AssertionResult::new("row_count", key, ok)
            .expected(expected)
            .observed(format!("{rows} rows"))
    }
}

fn bounds(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("between {lo} and {hi} rows"),
        (Some(lo), None) => format!(">= {lo} rows"),
        (None, Some(hi)) => format!("<= {hi} rows"),
        (None, None) => "any".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_empty_tables_fail_a_minimum() {
        let t = tables(&[("public.orders", 0), ("public.products", 25)]);
        let ev = evidence(&t, None);
        let empty = RowCount {
            table: "orders".into(),
            min: Some(1),
            max: None,
        }
        .check(&ev);
        assert!(!empty.passed);
        assert_eq!(
            (empty.expected.as_str(), empty.observed.as_str()),
            (">= 1 rows", "0 rows")
        );
        let ok = RowCount {
            table: "products".into(),
            min: Some(25),
            max: Some(25),
        }
        .check(&ev);
        assert!(ok.passed);
        let missing = RowCount {
            table: "reviews".into(),
            min: Some(1),
            max: None,
        }
        .check(&ev);
        assert_eq!(missing.observed, "table missing");
    }

    #[test]
    fn needs_a_bound() {
        assert_eq!(
            RowCount {
                table: "t".into(),
                min: None,
                max: None
            }
            .problems()
            .len(),
            1
        );
        assert_eq!(
            RowCount {
                table: "t".into(),
                min: Some(5),
                max: Some(1)
            }
            .problems()
            .len(),
            1
        );
    }
}
