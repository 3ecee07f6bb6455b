//! A small chart of a job's trend as inline SVG: one dot per run joined by
//! a line, placed by its time on the time axis (a week without runs shows
//! as a gap), on a value axis that starts at zero, says its unit and is
//! ruled at quarters; the failed runs in red and named so in the legend and
//! on hover (not told by colour alone).

use chrono::{DateTime, Utc};
use maud::{Markup, html};

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 150.0;
/// Room for the value labels left of the axis.
const LEFT: f64 = 58.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 16.0;
/// Room for the time labels under the axis.
const BOTTOM: f64 = 20.0;
const PASSED: &str = "#0969da";
const FAILED: &str = "#cf222e";

/// One run's value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
    pub failed: bool,
}

/// What the chart shows and in which unit.
pub(super) struct Axes<'a, F: Fn(f64) -> String> {
    pub title: &'a str,
    /// The unit of the values, written over the value axis, e.g. `seconds`.
    pub unit: &'a str,
    /// Writes a value with its unit, e.g. `12.5s`.
    pub fmt: F,
}

/// The chart of `points` (oldest first).
pub(super) fn chart<F: Fn(f64) -> String>(axes: &Axes<'_, F>, points: &[Point]) -> Markup {
    if points.is_empty() {
        return html! {
            div.chart {
                h3 { (axes.title) }
                p.muted { "no data yet" }
            }
        };
    }
    let fmt = &axes.fmt;
    let max = points.iter().map(|p| p.value).fold(0.0, f64::max);
    let failed = points.iter().filter(|p| p.failed).count();
    let n = points.len();
    let xy = positions(points, max);
    let line: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let label = format!(
        "{}: {n} runs, {failed} failed, from 0 to {}",
        axes.title,
        fmt(max)
    );
    html! {
        div.chart {
            h3 { (axes.title) }
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } width="100%" role="img" aria-label=(label) {
                (frame(axes.unit, &ticks(max, fmt), points))
                polyline fill="none" stroke="#8c959f" stroke-width="1" points=(line.join(" ")) {}
                @for ((x, y), p) in xy.iter().zip(points) {
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}"))
                        r=(if p.failed { "3.5" } else { "2.5" })
                        fill=(if p.failed { FAILED } else { PASSED }) {
                        title {
                            (super::stamp(p.at)) ": " (fmt(p.value))
                            @if p.failed { " (failed run)" }
                        }
                    }
                }
            }
            div.muted {
                span.key style={ "color:" (PASSED) } { "●" } " passed "
                span.key style={ "color:" (FAILED) } { "●" } " failed (" (failed) ")"
                " · latest " (fmt(points[n - 1].value)) " · " (n) " runs"
            }
        }
    }
}

/// The axes: the value axis from 0 to the largest value, ruled and
/// labelled at each quarter, with `unit` over it; the time axis from the
/// first run to the last, labelled at both ends and the middle.
fn frame(unit: &str, ticks: &[(f64, String)], points: &[Point]) -> Markup {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let first = points[0].at;
    let last = points[points.len() - 1].at;
    html! {
        g font-size="9" fill="#57606a" {
            line.axis x1=(x0) y1=(y0) x2=(x1) y2=(y0) stroke="#57606a" stroke-width="1" {}
            line.axis x1=(x0) y1=(y0) x2=(x0) y2=(y1) stroke="#57606a" stroke-width="1" {}
            text x="2" y=(y1 - 6.0) { (unit) }
            text x=(x0 - 3.0) y=(y0) text-anchor="end" { "0" }
            @for (y, label) in ticks {
                line.grid x1=(x0) y1=(format!("{y:.1}")) x2=(x1) y2=(format!("{y:.1}")) stroke="#d0d7de" stroke-dasharray="2,2" {}
                text x=(x0 - 3.0) y=(format!("{:.1}", y + 3.0)) text-anchor="end" { (label) }
            }
            text x=(x0) y=(HEIGHT - 6.0) { (first.format("%m-%d %H:%M")) }
            @if last != first {
                @let middle = first + (last - first) / 2;
                text x=(format!("{:.1}", (x0 + x1) / 2.0)) y=(HEIGHT - 6.0) text-anchor="middle" { (middle.format("%m-%d %H:%M")) }
                text x=(x1) y=(HEIGHT - 6.0) text-anchor="end" { (last.format("%m-%d %H:%M UTC")) }
            }
        }
    }
}

/// The value axis' rules: a quarter, half, three quarters and all of
/// `max` (0 is written by the axis), where each sits and its label.
fn ticks(max: f64, fmt: impl Fn(f64) -> String) -> Vec<(f64, String)> {
    let h = HEIGHT - TOP - BOTTOM;
    if max <= 0.0 {
        return vec![(TOP, fmt(0.0))];
    }
    (1..=4)
        .map(|q| {
            let share = q as f64 / 4.0;
            (HEIGHT - BOTTOM - h * share, fmt(max * share))
        })
        .collect()
}

/// Where each point sits in the SVG: by its time between the first run and
/// the last, scaled from 0 to `max`.
fn positions(points: &[Point], max: f64) -> Vec<(f64, f64)> {
    let span = if max > 0.0 { max } else { 1.0 };
    let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let first = points.first().map(|p| p.at);
    let last = points.last().map(|p| p.at);
    let millis = match (first, last) {
        (Some(a), Some(b)) => (b - a).num_milliseconds(),
        _ => 0,
    };
    points
        .iter()
        .map(|p| {
            let x = match first {
                Some(a) if millis > 0 => {
                    LEFT + w * (p.at - a).num_milliseconds() as f64 / millis as f64
                }
                _ => LEFT + w / 2.0,
            };
            let y = HEIGHT - BOTTOM - h * p.value.max(0.0) / span;
            (x, y)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: f64, failed: bool) -> Point {
        Point {
            at: "2026-11-24T09:14:07.123456789Z".parse().unwrap(),
            value,
            failed,
        }
    }

    fn seconds() -> Axes<'static, fn(f64) -> String> {
        Axes {
            title: "Restore duration",
            unit: "seconds",
            fmt: |v| format!("{v:.1}s"),
        }
    }

    #[test]
    fn a_chart_draws_one_point_per_run_on_axes_from_zero_with_units() {
        let points = [point(10.0, false), point(30.0, true), point(20.0, false)];
        let svg = chart(&seconds(), &points).into_string();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(">seconds</text>"), "{svg}");
        assert!(
            svg.contains(">0</text>") && svg.contains(">30.0s</text>"),
            "{svg}"
        );
        assert!(svg.contains("11-24 09:14</text>"), "the time axis: {svg}");
        assert!(svg.contains("latest 20.0s · 3 runs"), "{svg}");
        // 10 of 30 sits a third of the way up from the zero line, not on it.
        let (_, y) = positions(&points, 30.0)[0];
        let zero = HEIGHT - BOTTOM;
        let third = (HEIGHT - TOP - BOTTOM) / 3.0;
        assert!((zero - y - third).abs() < 0.01, "{y}");
        assert!(chart(&seconds(), &[]).into_string().contains("no data yet"));
    }

    /// Runs sit where their time is: three runs on a day, then one a week
    /// later, leave a gap, not four evenly spaced dots; the value axis is
    /// ruled at its quarters.
    #[test]
    fn runs_are_placed_by_their_time_and_the_value_axis_has_quarter_rules() {
        let at = |h: i64| -> DateTime<Utc> {
            "2026-11-24T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::hours(h)
        };
        let points: Vec<Point> = [0, 1, 2, 170]
            .into_iter()
            .map(|h| Point {
                at: at(h),
                value: 40.0,
                failed: false,
            })
            .collect();
        let xs: Vec<f64> = positions(&points, 40.0).iter().map(|p| p.0).collect();
        let w = WIDTH - LEFT - RIGHT;
        assert!((xs[0] - LEFT).abs() < 0.01 && (xs[3] - (LEFT + w)).abs() < 0.01);
        assert!(
            xs[2] - LEFT < w * 0.02,
            "the first day's runs sit together: {xs:?}"
        );
        let svg = chart(&seconds(), &points).into_string();
        for label in ["10.0s", "20.0s", "30.0s", "40.0s"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}: {svg}");
        }
        assert!(
            svg.contains(">11-27 13:00</text>"),
            "the middle of the time axis: {svg}"
        );
    }

    #[test]
    fn failed_runs_are_red_and_said_so_in_words() {
        let svg = chart(&seconds(), &[point(1.0, false), point(2.0, true)]).into_string();
        assert_eq!(
            svg.matches(&format!("fill=\"{FAILED}\"")).count(),
            1,
            "{svg}"
        );
        assert_eq!(
            svg.matches(&format!("fill=\"{PASSED}\"")).count(),
            1,
            "{svg}"
        );
        assert!(
            svg.contains("2026-11-24 09:14:07 UTC: 2.0s (failed run)"),
            "{svg}"
        );
        assert!(svg.contains("failed (1)"), "the legend: {svg}");
        assert!(
            svg.contains("aria-label=\"Restore duration: 2 runs, 1 failed"),
            "{svg}"
        );
    }
}
