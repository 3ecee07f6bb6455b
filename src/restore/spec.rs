//! What a container restoredrill creates is, before Docker sees it: its
//! spec, its role, the labels that say whose it is, and the names of the
//! containers that go with it. Plain data; nothing here talks to Docker.

pub const LABEL_JOB: &str = "restoredrill.job";
pub const LABEL_RUN: &str = "restoredrill.run";
pub const LABEL_ROLE: &str = "restoredrill.role";
/// Which state dir owns the container, so two installations never sweep each other's.
pub const LABEL_INSTANCE: &str = "restoredrill.instance";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Candidate,
    Kept,
    /// Makes a ready data directory (see [`super::template`]).
    Template,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Candidate => "candidate",
            Self::Kept => "kept",
            Self::Template => "template",
        }
    }
}

/// Everything needed to create one database container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub job: String,
    pub run_id: String,
    pub instance: String,
    pub role: Role,
    /// The database port inside the container; its relay publishes it on 127.0.0.1 only.
    pub port: u16,
    /// Where the data directory's parent is mounted.
    pub data_mount: String,
    /// Named volume for the data (a candidate's, which promotion hands to
    /// the kept restore); `None` puts data on tmpfs.
    pub volume: Option<String>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    /// A ready data directory to start from, unpacked into `data_mount`
    /// before the image's entrypoint runs (see [`super::template`]).
    pub template: Option<std::path::PathBuf>,
    /// The server waits to start until restoredrill has put a physical
    /// backup in place (see [`super::physical`]).
    pub held: bool,
}

/// A file as restoredrill found it: a tar archive holding it, and the folder
/// it goes back into.
#[derive(Debug, Clone)]
pub struct SavedFile {
    pub dir: String,
    pub archive: Vec<u8>,
}

/// The name of the container that fetches a repository into the
/// candidate `name`'s volume (see [`super::fetch`]).
pub fn fetch_name(name: &str) -> String {
    format!("{name}-fetch")
}
