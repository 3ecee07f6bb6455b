//! A small line chart as inline SVG, for a job's trends.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 120.0;
const PAD: f64 = 6.0;

/// A line through `points` (oldest first), a dot per run with its value on
/// hover, and the minimum, maximum and latest value as `fmt` writes them.
pub(super) fn chart(
    title: &str,
    points: &[(DateTime<Utc>, f64)],
    fmt: impl Fn(f64) -> String,
) -> Markup {
    if points.is_empty() {
        return html! {
            div.chart {
                h3 { (title) }
                p.muted { "no data yet" }
            }
        };
    }
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let xy = positions(points, min, max);
    let line: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let n = points.len();
    html! {
        div.chart {
            h3 { (title) }
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } width="100%" role="img" aria-label=(title) {
                polyline fill="none" stroke="#0969da" stroke-width="1.5" points=(line.join(" ")) {}
                @for ((x, y), (t, v)) in xy.iter().zip(points) {
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="2.5" fill="#0969da" {
                        title { (t.format("%Y-%m-%d %H:%M")) ": " (fmt(*v)) }
                    }
                }
            }
            div.muted {
                "min " (fmt(min)) " · max " (fmt(max)) " · latest " (fmt(points[n - 1].1))
                " · " (n) " runs"
            }
        }
    }
}

/// Where each point sits in the SVG: evenly spaced, scaled between `min` and `max`.
fn positions(points: &[(DateTime<Utc>, f64)], min: f64, max: f64) -> Vec<(f64, f64)> {
    let span = if max > min { max - min } else { 1.0 };
    let n = points.len();
    points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let x = if n == 1 {
                WIDTH / 2.0
            } else {
                PAD + (WIDTH - 2.0 * PAD) * i as f64 / (n - 1) as f64
            };
            let y = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * (v - min) / span;
            (x, y)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_one_point_per_run() {
        let t: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let svg = chart("Restore duration", &[(t, 1.0), (t, 3.0), (t, 2.0)], |v| {
            format!("{v}s")
        })
        .into_string();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("min 1s · max 3s · latest 2s"));
        assert!(
            chart("x", &[], |v| v.to_string())
                .into_string()
                .contains("no data yet")
        );
    }
}
