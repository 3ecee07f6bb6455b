//! What differs between database engines: how their containers are started,
//! how a dump is loaded, and how restoredrill talks to the restored server.

use crate::vocab::{EngineKind, Secret};
use async_trait::async_trait;

use crate::assert::{QueryError, Session};
use crate::config::ReadonlyUser;
use crate::source::DumpFormat;

/// Who restoredrill is inside a restore: the server's superuser, with a
/// password generated for this run.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
    pub database: String,
}

/// How a dump of some format is loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadPlan {
    /// Stream the decompressed dump into this command's stdin.
    Pipe(Vec<String>),
    /// Copy the dump into the container at `path` first (a folder for
    /// directory-format dumps), run `cmd`, then delete the copy.
    Staged { path: String, cmd: Vec<String> },
}

#[async_trait]
pub trait Engine: Send + Sync {
    fn kind(&self) -> EngineKind;
    /// The server's port inside the container.
    fn port(&self) -> u16;
    /// Mount point that holds the data directory (the official images' volume).
    fn data_mount(&self) -> &'static str;
    fn superuser(&self) -> &'static str;
    /// The official image's environment contract for first-start initialisation.
    fn container_env(&self, creds: &Credentials) -> Vec<String>;
    /// The database the image's entrypoint leaves on first start, which the
    /// wait for the server connects to; `creds.database` is made by
    /// [`Engine::create_database`] where it differs.
    fn initial_database(&self, creds: &Credentials) -> String {
        creds.database.clone()
    }
    /// Creates `creds.database` once the server is ready, unless it is there.
    async fn create_database(&self, port: u16, creds: &Credentials) -> Result<(), QueryError>;
    /// Renames the database `from` (which nobody uses) to `to`, which must
    /// not exist, logged in as `creds` to [`Engine::server_database`];
    /// `Ok(false)` where the engine cannot rename a database (MySQL/MariaDB).
    async fn rename_database(
        &self,
        _port: u16,
        _creds: &Credentials,
        _from: &str,
        _to: &str,
    ) -> Result<bool, QueryError> {
        Ok(false)
    }
    /// A database every server of the engine has, which a connection can
    /// always name: the only one in a ready data directory (see
    /// [`super::template`]).
    fn server_database(&self) -> &'static str;
    /// Gives `creds.user` the password `password` (a candidate started from
    /// a ready data directory has that directory's until then).
    async fn set_password(
        &self,
        port: u16,
        creds: &Credentials,
        password: &Secret,
    ) -> Result<(), QueryError>;
    /// Arguments for the image's entrypoint: the server, with throwaway tuning if asked.
    fn server_args(&self, tuning: bool) -> Vec<String>;
    /// Environment for the engine's client tools run inside the container.
    fn tool_env(&self, creds: &Credentials) -> Vec<String>;
    /// A trivial query through the same client the load uses, so that a
    /// client that cannot connect is told apart from a dump that does not load.
    fn preflight(&self, creds: &Credentials) -> Vec<String>;
    fn load_plan(&self, format: DumpFormat, creds: &Credentials, parallel: u32) -> LoadPlan;
    /// The client that runs SQL from stdin in the restored database and
    /// exits non-zero at the first error (for `after_restore` scripts).
    fn script_command(&self, creds: &Credentials) -> Vec<String>;
    /// Schema a bare table name refers to.
    fn default_schema(&self, creds: &Credentials) -> String;
    /// Databases every server has, never the one a dump is checked in.
    fn system_databases(&self) -> &'static [&'static str];
    /// One connection sees every database's tables (MySQL's databases are
    /// schemas); else each database of a dump is read on its own connection.
    fn sees_all_databases(&self) -> bool;
    /// Run after the load, inside the container: a command and the SQL it
    /// reads on stdin that give restoredrill's superuser its password back
    /// and lock every other login, so that no login a dump made (pg_dumpall's
    /// roles, a planted superuser) works on the kept restore. `None` where the
    /// engine has no such step yet.
    fn lock_logins(&self, creds: &Credentials) -> Option<(Vec<String>, String)>;
    /// Connects from this host to the restored server on 127.0.0.1:`port`.
    async fn connect(&self, port: u16, creds: &Credentials)
    -> Result<Box<dyn Session>, QueryError>;
    /// Runs set-up statements (e.g. CREATE ROLE) before the dump is loaded.
    async fn prepare(
        &self,
        port: u16,
        creds: &Credentials,
        roles: &[String],
    ) -> Result<(), QueryError>;
    /// Files the server reads when it starts and that its superuser can
    /// rewrite through SQL (PostgreSQL's configuration, which lives in the
    /// data directory). A kept restore starts from the copies restoredrill
    /// keeps of them before the dump is loaded.
    async fn startup_files(
        &self,
        port: u16,
        creds: &Credentials,
    ) -> Result<Vec<String>, QueryError>;
    /// Creates (or resets) a login that can read every table of the
    /// restored database but change nothing.
    async fn create_readonly_user(
        &self,
        port: u16,
        creds: &Credentials,
        user: &ReadonlyUser,
    ) -> Result<(), QueryError>;
}
