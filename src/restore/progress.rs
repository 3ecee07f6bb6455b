//! Shows how far a load has got: bytes fed of the total, and the rate.
//! On a terminal a single line is redrawn; otherwise a log line every 10 s.

use std::io::Write;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::source::reader::RawDigest;

/// Reports progress until the returned token is cancelled.
pub fn start(digest: RawDigest, total: Option<u64>, on_terminal: bool) -> CancellationToken {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let began = Instant::now();
        let every = if on_terminal {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(10)
        };
        let mut shown = false;
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            let fed = digest.bytes();
            let secs = began.elapsed().as_secs_f64().max(0.001);
            let of = match total {
                Some(total) if total > 0 => format!(
                    " of {} ({:.0}%)",
                    mib(total),
                    fed as f64 * 100.0 / total as f64
                ),
                _ => String::new(),
            };
            let line = format!(
                "fed {}{of} at {}/s",
                mib(fed),
                mib((fed as f64 / secs) as u64)
            );
            if on_terminal {
                eprint!("\r  {line}   ");
                let _ = std::io::stderr().flush();
                shown = true;
            } else {
                tracing::info!("{line}");
            }
        }
        if shown {
            eprint!("\r\x1b[K");
        }
    });
    stop
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
