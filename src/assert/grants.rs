//! `grants: {role: app_rw, can: [select, insert], on: [orders, order_items]}`:
//! the application's role exists in the restore and may do what it does in
//! production on each table. The checks otherwise run as the superuser, who
//! may do anything, so a backup that lost the application's role or its
//! grants would pass.
//!
//! A privilege counts however the role holds it: granted to it, to a role it
//! inherits from, to PUBLIC, or by being a superuser (the application would
//! have it too); the last two are named in the result. Column privileges
//! alone do not count (the assertion is about the whole table) and are named
//! when they are all the role has.

use serde::{Deserialize, Serialize};

use super::{AssertionResult, Evidence, Session, find_table, qualify};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// The role (PostgreSQL), or a MariaDB/MySQL role or account (`app` or
    /// `app@%`), whose privileges are checked.
    pub role: String,
    /// What the role must be able to do on every table of `on`.
    pub can: Vec<Privilege>,
    /// Tables (`schema.table` or a bare name in the default schema).
    pub on: Vec<String>,
}

/// A privilege on a table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Privilege {
    Select,
    Insert,
    Update,
    Delete,
    /// PostgreSQL only: MariaDB/MySQL have no TRUNCATE privilege (it needs DROP).
    Truncate,
    References,
    Trigger,
}

impl Privilege {
    /// The SQL keyword, as `has_table_privilege` and `mysql.tables_priv` spell it.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Select => "SELECT",
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Truncate => "TRUNCATE",
            Self::References => "REFERENCES",
            Self::Trigger => "TRIGGER",
        }
    }

    /// Whether the privilege can also be granted on single columns.
    pub fn has_column_form(self) -> bool {
        matches!(
            self,
            Self::Select | Self::Insert | Self::Update | Self::References
        )
    }
}

/// How a role holds one privilege on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Granted to the role or to a role it inherits from.
    Granted,
    /// Only because it is granted to PUBLIC (every role has it).
    ThroughPublic,
    /// Through a role it may take on (MariaDB: a granted role), named.
    ThroughRole(String),
    /// The role is a superuser, who holds every privilege.
    AsSuperuser,
    /// On some columns of the table only.
    ColumnsOnly,
    Missing,
}

/// What a session found of a role's privileges on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No role (or account) of that name is in the restore.
    NoRole,
    /// One entry per privilege asked, in order.
    Privileges(Vec<(Privilege, Held)>),
}

impl Grants {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.role.trim().is_empty() || self.role.contains(['"', '\0']) {
            p.push(format!(
                "grants: role name `{}` is not usable; write the name without quotes",
                self.role
            ));
        }
        if self.can.is_empty() {
            p.push(format!(
                "grants for `{}`: `can` lists no privilege (select, insert, update, delete, truncate, references, trigger)",
                self.role
            ));
        }
        if self.on.is_empty() {
            p.push(format!("grants for `{}`: `on` lists no table", self.role));
        }
        p
    }

    fn expected(&self) -> String {
        let mut can: Vec<Privilege> = self.can.clone();
        can.sort();
        can.dedup();
        can.iter()
            .map(|p| p.keyword())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One result per table: passes when the role holds every privilege.
    pub(crate) async fn check(
        &self,
        ev: &Evidence<'_>,
        session: &mut dyn Session,
    ) -> Vec<AssertionResult> {
        let mut can: Vec<Privilege> = self.can.clone();
        can.sort();
        can.dedup();
        let mut results = Vec::new();
        for name in &self.on {
            let subject = |table: &str| format!("{} on {table}", self.role);
            let new = |table: &str, passed| {
                AssertionResult::new("grants", subject(table), passed).expected(self.expected())
            };
            let Some((key, _)) = find_table(ev, name) else {
                let table = qualify(name, ev.default_schema);
                results.push(new(&table, false).observed(format!("table {table} missing")));
                continue;
            };
            let (schema, table) = key.split_once('.').unwrap_or((ev.default_schema, key));
            let access = session.privileges(&self.role, schema, table, &can).await;
            results.push(match access {
                Err(e) => new(key, false).observed(format!("query failed: {e}")),
                Ok(Access::NoRole) => new(key, false)
                    .observed(format!("role {} does not exist in the restore", self.role))
                    .note(NO_ROLE_HINT),
                Ok(Access::Privileges(held)) => judged(self, key, &held),
            });
        }
        results
    }
}

/// Why a role may be missing from a restore that loaded.
const NO_ROLE_HINT: &str = "a pg_dump (not pg_dumpall) creates no roles: name a \
    `pg_dumpall --globals-only` file in the job's `restore.globals`; a MariaDB dump brings its \
    accounts and roles with `--all-databases` (the `mysql` database) or `--system=users`";

fn judged(g: &Grants, table: &str, held: &[(Privilege, Held)]) -> AssertionResult {
    let missing: Vec<&str> = held
        .iter()
        .filter(|(_, h)| matches!(h, Held::Missing | Held::ColumnsOnly))
        .map(|(p, _)| p.keyword())
        .collect();
    let mut notes = Vec::new();
    for (p, h) in held {
        match h {
            Held::ThroughPublic => notes.push(format!("{} only through PUBLIC", p.keyword())),
            Held::ThroughRole(r) => notes.push(format!("{} through role {r}", p.keyword())),
            Held::AsSuperuser => {
                notes.push(format!("{} as a superuser", p.keyword()));
            }
            Held::ColumnsOnly => notes.push(format!(
                "{} on some columns only, not on the table",
                p.keyword()
            )),
            Held::Granted | Held::Missing => {}
        }
    }
    let observed = if missing.is_empty() {
        "all held".to_string()
    } else {
        let holds: Vec<&str> = held
            .iter()
            .filter(|(_, h)| !matches!(h, Held::Missing | Held::ColumnsOnly))
            .map(|(p, _)| p.keyword())
            .collect();
        let holds = match holds.is_empty() {
            true => "holds none of them".to_string(),
            false => format!("holds {}", holds.join(", ")),
        };
        format!(
            "role {} lacks {} on {table} ({holds})",
            g.role,
            missing.join(", ")
        )
    };
    let result = AssertionResult::new(
        "grants",
        format!("{} on {table}", g.role),
        missing.is_empty(),
    )
    .expected(g.expected())
    .observed(observed);
    match notes.is_empty() {
        true => result,
        false => result.note(notes.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> Grants {
        Grants {
            role: "app_rw".into(),
            can: vec![Privilege::Insert, Privilege::Select],
            on: vec!["orders".into()],
        }
    }

    #[test]
    fn a_missing_privilege_is_named_with_the_role_and_the_table() {
        let r = judged(
            &grants(),
            "public.orders",
            &[
                (Privilege::Select, Held::Granted),
                (Privilege::Insert, Held::Missing),
            ],
        );
        assert!(!r.passed);
        assert_eq!(r.subject, "app_rw on public.orders");
        assert_eq!(r.expected, "SELECT, INSERT");
        assert_eq!(
            r.observed,
            "role app_rw lacks INSERT on public.orders (holds SELECT)"
        );
    }

    #[test]
    fn column_grants_alone_do_not_pass_and_public_is_named() {
        let r = judged(
            &grants(),
            "public.orders",
            &[
                (Privilege::Select, Held::ThroughPublic),
                (Privilege::Insert, Held::ColumnsOnly),
            ],
        );
        assert!(!r.passed);
        let note = r.note.unwrap();
        assert!(note.contains("SELECT only through PUBLIC"), "{note}");
        assert!(note.contains("INSERT on some columns only"), "{note}");
    }

    #[test]
    fn must_name_a_role_privileges_and_tables() {
        let empty = Grants {
            role: " ".into(),
            can: vec![],
            on: vec![],
        };
        assert_eq!(empty.problems().len(), 3);
        assert!(grants().problems().is_empty());
    }
}
