//! Sets up logging: human-readable lines on stderr by default, JSON lines
//! with `--log-format json`. `RUST_LOG` overrides the level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(json: bool, verbose: bool) {
    let default = if verbose {
        "restoredrill=debug,info"
    } else {
        "restoredrill=info,warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // No colour codes in files and the systemd journal.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}
