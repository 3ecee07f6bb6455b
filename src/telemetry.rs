//! Sets up logging: human-readable lines on stderr by default, JSON lines
//! with `--log-format json`. `RUST_LOG` overrides the level.
//!
//! Whatever `RUST_LOG` says, the crates that log what goes over the wire
//! ([`WIRE_CRATES`]: the Docker client, HTTP, TLS and database drivers) log
//! warnings and errors only: at debug and trace they print request bodies
//! and statements, and those hold the candidates' superuser passwords (in the
//! container's environment), the read-only user's password, alert tokens and
//! webhook URLs. restoredrill's own logs never print a secret
//! (`vocab::Secret`), at any level.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use indicatif::MultiProgress;

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{self, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Crates whose debug and trace logs carry what restoredrill sends: bollard
/// logs each Docker request's body (container environments), sqlx each
/// statement (`CREATE ROLE ... PASSWORD`), hyper, h2 and reqwest requests
/// (URLs with tokens), the others their connections.
pub const WIRE_CRATES: &[&str] = &[
    "bollard",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "sqlx",
    "sqlx_core",
    "sqlx_postgres",
    "sqlx_sqlite",
    "mysql_async",
    "mysql_common",
    "lettre",
];

/// Whether an event or span may be logged as far as [`WIRE_CRATES`] go:
/// theirs only at warning or error.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::WARN || !from_wire_crate(meta.target())
}

fn from_wire_crate(target: &str) -> bool {
    WIRE_CRATES.iter().any(|krate| {
        target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

pub fn init(json: bool, verbose: bool) {
    let default = if verbose {
        "restoredrill=debug,info"
    } else {
        "restoredrill=info,warn"
    };
    let wanted = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let filter = wanted.and(filter::filter_fn(allowed));
    let layer = fmt::layer()
        .with_writer(|| AboveBars)
        // No colour codes in files and the systemd journal.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let layer = if json {
        layer.json().with_filter(filter).boxed()
    } else {
        layer.compact().with_filter(filter).boxed()
    };
    tracing_subscriber::registry().with(layer).init();
}

/// The progress bars and spinners on the terminal (none elsewhere: indicatif
/// draws only to a terminal). Log lines are printed above them.
pub fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// stderr, with the bars taken down while a log line is written and drawn
/// again under it, so a line never tears a bar.
struct AboveBars;

impl Write for AboveBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        bars().suspend(|| std::io::stderr().write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(t: &str) -> bool {
        from_wire_crate(t)
    }

    #[test]
    fn the_wire_crates_and_their_modules_are_capped_and_no_other() {
        assert!(target("bollard"));
        assert!(target("bollard::docker"));
        assert!(target("sqlx::query"));
        assert!(target("hyper_util::client::legacy::pool"));
        assert!(!target("restoredrill::pipeline"));
        assert!(!target("hyperloglog"));
        assert!(!target("sqlxish::x"));
    }
}
