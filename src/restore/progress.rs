//! Shows how far a load has got: bytes fed of the total, the rate and the
//! time left, in human units. On a terminal an indicatif bar is redrawn
//! (log lines print above it, see `telemetry::bars`); otherwise a log line
//! every 10 s. Once every byte is fed the server is still loading: the line
//! says so instead of standing at 100 %.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::source::reader::RawDigest;
use crate::units::{human_bytes, short_age};

/// Reports progress until the returned token is cancelled.
pub fn start(digest: RawDigest, total: Option<u64>, on_terminal: bool) -> CancellationToken {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let began = Instant::now();
        let every = if on_terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        let bar = on_terminal.then(|| bar(total));
        let mut all_fed = false;
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            let fed = digest.bytes();
            let done = total.is_some_and(|t| fed >= t);
            match &bar {
                Some(bar) => {
                    bar.set_position(fed);
                    if done && !all_fed {
                        bar.set_style(spinner_style());
                        bar.set_message(format!(
                            "load: all {} fed; the server is still loading",
                            human_bytes(fed)
                        ));
                    }
                }
                None => tracing::info!("{}", line(fed, total, began.elapsed())),
            }
            all_fed = done;
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    });
    stop
}

/// A spinner for a phase of a run on the terminal (`create`, `start`...);
/// gone when dropped or cleared.
pub fn phase(name: &str) -> ProgressBar {
    let spinner = crate::telemetry::bars().add(ProgressBar::new_spinner());
    spinner.set_style(spinner_style());
    spinner.set_message(name.to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// A bar on the terminal, under the log lines.
fn bar(total: Option<u64>) -> ProgressBar {
    let bar = crate::telemetry::bars().add(ProgressBar::new(total.unwrap_or(0)));
    let template = match total {
        Some(_) => {
            "  {spinner} load {bytes}/{total_bytes} ({percent}%) at {binary_bytes_per_sec}, about {eta} left"
        }
        None => "  {spinner} load {bytes} at {binary_bytes_per_sec}",
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// The log line for `fed` bytes of `total` after `elapsed`.
fn line(fed: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = fed as f64 / secs;
    match total {
        Some(total) if total > 0 && fed >= total => format!(
            "fed all {} of the dump; the server is still loading",
            human_bytes(total)
        ),
        Some(total) if total > 0 => {
            let left = if rate > 0.0 {
                let eta = Duration::from_secs_f64((total - fed) as f64 / rate);
                format!(", about {} left", short_age(eta))
            } else {
                String::new()
            };
            format!(
                "fed {} of {} ({:.0}%) at {}/s{left}",
                human_bytes(fed),
                human_bytes(total),
                fed as f64 * 100.0 / total as f64,
                human_bytes(rate as u64)
            )
        }
        _ => format!("fed {} at {}/s", human_bytes(fed), human_bytes(rate as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_how_far_in_human_units_and_what_is_left() {
        let s = Duration::from_secs;
        assert_eq!(
            line(300 << 20, Some(1200 << 20), s(10)),
            "fed 300.0 MiB of 1.2 GiB (25%) at 30.0 MiB/s, about 30s left"
        );
        assert_eq!(
            line(15_155, Some(15_155), s(1)),
            "fed all 14.8 KiB of the dump; the server is still loading"
        );
        assert_eq!(line(2048, None, s(2)), "fed 2.0 KiB at 1.0 KiB/s");
        assert_eq!(line(0, Some(10), s(1)), "fed 0 B of 10 B (0%) at 0 B/s");
    }
}
