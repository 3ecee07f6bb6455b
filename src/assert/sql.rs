//! `sql: {name: ..., query: ..., equals | min | max | expect: empty}`: a custom
//! business fact. The query runs in a read-only transaction, one statement only;
//! with `as_role: app_rw`, as that role (PostgreSQL), so it sees what the
//! application would see (its grants, row-level security).

use serde::{Deserialize, Serialize};

use super::{AssertionResult, Scalar, Session};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlCheck {
    /// Shown in reports; defaults to the query text.
    #[serde(default)]
    pub name: Option<String>,
    pub query: String,
    /// The single value must equal this (number or text).
    #[serde(default)]
    pub equals: Option<Expected>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// `empty`: the query must return no rows (e.g. orphans, duplicates).
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Run the query as this role (PostgreSQL: `SET ROLE` inside the
    /// read-only transaction; the role's logins stay locked), with its
    /// grants and row-level security, instead of as the superuser.
    #[serde(default)]
    pub as_role: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Empty,
}

/// An `equals:` value as written: a number or a string.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Expected {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(t) => write!(f, "{t:?}"),
        }
    }
}

impl SqlCheck {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let value_checks = self.equals.is_some() || self.min.is_some() || self.max.is_some();
        if !value_checks && self.expect.is_none() {
            p.push(format!(
                "sql check `{}` needs `equals`, `min`, `max` or `expect: empty`",
                self.subject()
            ));
        }
        if value_checks && self.expect.is_some() {
            p.push(format!(
                "sql check `{}`: `expect: empty` cannot be combined with equals/min/max",
                self.subject()
            ));
        }
        if self.query.trim().is_empty() {
            p.push("sql check has an empty query".into());
        }
        if let Some(role) = &self.as_role
            && (role.trim().is_empty() || role.contains(['"', '\0']))
        {
            p.push(format!(
                "sql check `{}`: as_role `{role}` is not usable; write the name without quotes",
                self.subject()
            ));
        }
        let equals = match self.equals {
            Some(Expected::Number(n)) => Some(n),
            _ => None,
        };
        for (key, v) in [("min", self.min), ("max", self.max), ("equals", equals)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                // No query result compares with NaN or infinity as intended.
                p.push(format!(
                    "sql check `{}`: `{key}: {v}` is not a finite number",
                    self.subject()
                ));
            }
        }
        p
    }

    fn subject(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.query.trim().to_string())
    }

    fn expected(&self) -> String {
        if self.expect == Some(Expect::Empty) {
            return "no rows".into();
        }
        let mut parts = Vec::new();
        if let Some(e) = &self.equals {
            parts.push(format!("= {e}"));
        }
        if let Some(m) = self.min {
            parts.push(format!(">= {m}"));
        }
        if let Some(m) = self.max {
            parts.push(format!("<= {m}"));
        }
        parts.join(" and ")
    }

    pub(crate) async fn check(&self, session: &mut dyn Session) -> AssertionResult {
        let mut result =
            AssertionResult::new("sql", self.subject(), false).expected(self.expected());
        if let Some(role) = &self.as_role {
            result = result.note(format!("run as role {role}"));
        }
        let value = match session.scalar(&self.query, self.as_role.as_deref()).await {
            Err(e) => return result.observed(format!("query failed: {e}")),
            Ok(v) => v,
        };
        if self.expect == Some(Expect::Empty) {
            return match value {
                None => AssertionResult {
                    passed: true,
                    ..result.observed("no rows")
                },
                Some(v) => result.observed(format!("rows returned (first value {v})")),
            };
        }
        let Some(v) = value else {
            return result.observed("no rows");
        };
        let ok = self.compare(&v);
        AssertionResult {
            passed: ok,
            ..result.observed(v.to_string())
        }
    }

    fn compare(&self, v: &Scalar) -> bool {
        let num = v.as_f64();
        if let Some(e) = &self.equals {
            let eq = match (e, num, v) {
                (Expected::Number(n), Some(x), _) => (x - n).abs() < 1e-9,
                (Expected::Text(t), _, Scalar::Text(s)) => s == t,
                (Expected::Text(t), Some(x), _) => {
                    t.trim().parse::<f64>().is_ok_and(|n| (x - n).abs() < 1e-9)
                }
                _ => false,
            };
            if !eq {
                return false;
            }
        }
        if self.min.is_some() || self.max.is_some() {
            let Some(x) = num else { return false };
            if self.min.is_some_and(|m| x < m) || self.max.is_some_and(|m| x > m) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(equals: Option<Expected>, min: Option<f64>, max: Option<f64>) -> SqlCheck {
        SqlCheck {
            name: None,
            query: "select 1".into(),
            equals,
            min,
            max,
            expect: None,
            as_role: None,
        }
    }

    #[test]
    fn compares_numbers_and_text() {
        assert!(check(Some(Expected::Number(0.0)), None, None).compare(&Scalar::Int(0)));
        assert!(!check(Some(Expected::Number(0.0)), None, None).compare(&Scalar::Int(3)));
        assert!(
            check(Some(Expected::Number(2.5)), None, None).compare(&Scalar::Text("2.50".into()))
        );
        assert!(
            check(Some(Expected::Text("ok".into())), None, None)
                .compare(&Scalar::Text("ok".into()))
        );
        assert!(check(None, Some(1.0), Some(10.0)).compare(&Scalar::Int(10)));
        assert!(!check(None, Some(1.0), None).compare(&Scalar::Null));
    }

    #[test]
    fn must_say_what_it_expects() {
        assert_eq!(check(None, None, None).problems().len(), 1);
        let both = SqlCheck {
            expect: Some(Expect::Empty),
            ..check(None, Some(1.0), None)
        };
        assert_eq!(both.problems().len(), 1);
    }
}
