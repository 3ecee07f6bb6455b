//! What assertions need from a restored database, whichever engine it is.
//! Each engine implements [`Session`] in `restore/` with its own client.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

/// A query an assertion ran failed (bad SQL, missing column, lost connection).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// One value returned by a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    /// The value as a number, when it is one (numeric text included, as
    /// drivers return DECIMAL/NUMERIC as text).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            Self::Text(t) => t.trim().parse().ok(),
            Self::Null => None,
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Text(t) => write!(f, "{t:?}"),
        }
    }
}

#[async_trait]
pub trait Session: Send {
    /// Exact row counts (`count(*)`) of every user table, keyed `schema.table`
    /// (for MySQL the schema is the database).
    async fn table_row_counts(&mut self) -> Result<BTreeMap<String, i64>, QueryError>;

    /// Every schema object of the restored database (tables, partitions,
    /// views, sequences, functions, indexes, constraints, triggers...), not
    /// counting the system's own or those an extension brings.
    async fn schema_objects(
        &mut self,
    ) -> Result<std::collections::BTreeSet<super::SchemaObject>, QueryError>;

    /// `max(column)` of `schema.table` as Unix seconds; `None` if the table is empty.
    /// Timestamps without a time zone are read as UTC.
    async fn max_timestamp(
        &mut self,
        schema: &str,
        table: &str,
        column: &str,
    ) -> Result<Option<f64>, QueryError>;

    /// Every column whose new rows a counter numbers (a sequence the column
    /// owns; an AUTO_INCREMENT), with the counter's next value and the
    /// column's extremes, for [`super::sequences::check`]. Reads
    /// `max(column)` of each: cheap on an indexed key, a full scan of the
    /// table otherwise (bounded by the run's timeout).
    async fn counters(&mut self) -> Result<Vec<super::Counter>, QueryError>;

    /// Runs one read-only statement and returns the first column of the first
    /// row, or `None` when it returns no rows. With `as_role`, the statement
    /// runs with that role's privileges (PostgreSQL: `SET LOCAL ROLE` inside
    /// the read-only transaction).
    async fn scalar(
        &mut self,
        sql: &str,
        as_role: Option<&str>,
    ) -> Result<Option<Scalar>, QueryError>;

    /// How `role` holds each of `privileges` on `schema.table`, or that no
    /// such role exists.
    async fn privileges(
        &mut self,
        role: &str,
        schema: &str,
        table: &str,
        privileges: &[super::Privilege],
    ) -> Result<super::grants::Access, QueryError>;

    /// Closes the connection.
    async fn close(self: Box<Self>);
}
