//! `tables_exist: [orders, sales.invoices]`: each listed table was restored.

use serde::{Deserialize, Serialize};

use super::{AssertionResult, Evidence, find_table, qualify};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
pub struct TablesExist(pub Vec<String>);

impl TablesExist {
    pub(crate) fn problems(&self) -> Vec<String> {
        if self.0.is_empty() {
            vec!["tables_exist lists no tables".into()]
        } else {
            Vec::new()
        }
    }

    /// One result per table, so a report names exactly which ones are missing.
    pub(crate) fn check(&self, ev: &Evidence<'_>) -> Vec<AssertionResult> {
        self.0
            .iter()
            .map(|name| match find_table(ev, name) {
                Some((key, rows)) => AssertionResult::new("tables_exist", key, true)
                    .expected("table exists")
                    .observed(format!("present ({rows} rows)")),
                None => {
                    AssertionResult::new("tables_exist", qualify(name, ev.default_schema), false)
                        .expected("table exists")
                        .observed("missing")
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn names_each_missing_table() {
        let t = tables(&[("public.orders", 5)]);
        let ev = evidence(&t, None);
        let r = TablesExist(vec!["orders".into(), "reviews".into()]).check(&ev);
        assert!(r[0].passed);
        assert!(!r[1].passed);
        assert_eq!(r[1].subject, "public.reviews");
        assert_eq!(r[1].observed, "missing");
    }
}
