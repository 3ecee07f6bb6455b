//! A job's `schedule`: a POSIX crontab expression (5 fields, seconds
//! optional) read in an IANA time zone, evaluated with croner, or
//! `on-arrival`: the job runs when a new dump appears in its source (the
//! daemon looks every `freshness.check_every`). Daylight-saving gaps and
//! overlaps follow croner's documented rules (a time skipped by a gap runs at
//! the first valid instant after it; a repeated hour runs once).
//! The scheduler that runs jobs by it is the `schedule` module.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// What `schedule: on-arrival` is written as.
pub const ON_ARRIVAL: &str = "on-arrival";

/// When a job runs in the daemon. Equal when written alike (and, for cron,
/// in the same zone): a config reload tells changed jobs by it.
#[derive(Clone, PartialEq)]
pub enum Schedule {
    /// A cron expression read in a time zone (boxed: it is large beside `OnArrival`).
    Cron {
        expr: String,
        cron: Box<Cron>,
        tz: Tz,
    },
    /// Whenever a new dump appears in the job's source.
    OnArrival,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cron { expr, tz, .. } => write!(f, "Schedule({expr:?} in {tz})"),
            Self::OnArrival => f.write_str("Schedule(on-arrival)"),
        }
    }
}

impl Schedule {
    /// Parses `expr` (`on-arrival` or a cron expression) in time zone `tz`
    /// (default UTC); errors say what is wrong, and those about the zone
    /// mention "time zone".
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<Self, String> {
        if expr.trim() == ON_ARRIVAL {
            return match tz {
                None => Ok(Self::OnArrival),
                Some(_) => Err(format!(
                    "a time zone means nothing to `schedule: {ON_ARRIVAL}`: remove `timezone:`, or use a cron expression"
                )),
            };
        }
        let tz = match tz {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| {
                format!(
                    "unknown time zone `{name}`; use an IANA name such as `Europe/Berlin` or `UTC`"
                )
            })?,
        };
        let fields = expr.split_whitespace().count();
        if !expr.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(format!(
                "bad cron expression `{expr}`: expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, or `{ON_ARRIVAL}`"
            ));
        }
        let cron = Cron::from_str(expr).map_err(|e| {
            let e = e.to_string();
            let why = if e.contains("out of bounds") {
                "a number is out of range (minute 0-59, hour 0-23, day of month 1-31, month 1-12, \
                 day of week 0-7)"
                    .to_string()
            } else {
                e
            };
            format!("bad cron expression `{expr}`: {why}")
        })?;
        let schedule = Self::Cron {
            expr: expr.to_string(),
            cron: Box::new(cron),
            tz,
        };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(format!(
                "the cron expression `{expr}` matches no date (such as 30 February): the job would never run"
            ));
        }
        Ok(schedule)
    }

    /// The first cron run strictly after `t`; `None` for `on-arrival`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Self::Cron { cron, tz, .. } = self else {
            return None;
        };
        let local = t.with_timezone(tz);
        cron.find_next_occurrence(&local, false)
            .ok()
            .map(|n| n.with_timezone(&Utc))
    }

    /// As written: the cron expression, or `on-arrival`.
    pub fn expr(&self) -> &str {
        match self {
            Self::Cron { expr, .. } => expr,
            Self::OnArrival => ON_ARRIVAL,
        }
    }

    /// The zone a cron expression is read in; `None` for `on-arrival`.
    pub fn timezone(&self) -> Option<Tz> {
        match self {
            Self::Cron { tz, .. } => Some(*tz),
            Self::OnArrival => None,
        }
    }

    pub fn is_on_arrival(&self) -> bool {
        matches!(self, Self::OnArrival)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_date_that_never_comes_and_a_number_out_of_range_are_told_in_words() {
        let never = Schedule::parse("0 3 30 2 *", None).unwrap_err();
        assert!(never.contains("matches no date"), "{never}");
        let range = Schedule::parse("0 25 * * *", None).unwrap_err();
        assert!(
            range.contains("out of range (minute 0-59, hour 0-23"),
            "{range}"
        );
        assert!(
            Schedule::parse("0 3 29 2 *", None).is_ok(),
            "29 February comes"
        );
    }

    #[test]
    fn monday_is_one_as_in_crontab() {
        // 2026-11-24 is a Tuesday; `0 3 * * 1` is Mondays at 03:00.
        let s = Schedule::parse("0 3 * * 1", None).unwrap();
        assert_eq!(
            s.next_after(at("2026-11-24T12:00:00Z")),
            Some(at("2026-11-30T03:00:00Z"))
        );
    }

    #[test]
    fn reads_the_expression_in_its_time_zone() {
        let s = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        // 02:30 in Berlin in winter (UTC+1) is 01:30 UTC.
        assert_eq!(
            s.next_after(at("2026-11-24T00:00:00Z")),
            Some(at("2026-11-24T01:30:00Z"))
        );
    }

    #[test]
    fn a_time_skipped_by_the_spring_gap_runs_at_the_first_valid_instant_after_it() {
        // Berlin, 2026-03-29: 02:00 jumps to 03:00, so 02:30 does not exist that day.
        let s = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        let next = s.next_after(at("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(next, at("2026-03-29T01:00:00Z"), "03:00 CEST");
        let after = s.next_after(next).unwrap();
        assert_eq!(after, at("2026-03-30T00:30:00Z"), "02:30 CEST the next day");
    }

    #[test]
    fn a_time_repeated_by_the_autumn_overlap_runs_once() {
        // Berlin, 2026-10-25: 03:00 goes back to 02:00, so 02:30 happens twice.
        let s = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        let first = s.next_after(at("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(first, at("2026-10-25T00:30:00Z"), "the first 02:30 (CEST)");
        let second = s.next_after(first).unwrap();
        assert_eq!(
            second,
            at("2026-10-26T01:30:00Z"),
            "not again at 02:30 CET that day"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(
            Schedule::parse("0 3 * *", None)
                .unwrap_err()
                .contains("expected 5 fields")
        );
        assert!(
            Schedule::parse("0 25 * * *", None)
                .unwrap_err()
                .contains("bad cron expression")
        );
        assert!(
            Schedule::parse("0 3 * * *", Some("Mars/Olympus"))
                .unwrap_err()
                .contains("time zone")
        );
        assert!(
            Schedule::parse("*/10 * * * * *", None).is_ok(),
            "seconds are optional"
        );
        assert!(
            Schedule::parse("on-arrival", Some("Europe/Berlin"))
                .unwrap_err()
                .contains("time zone"),
            "reported at `timezone:`"
        );
        assert!(
            Schedule::parse("on arrival", None)
                .unwrap_err()
                .contains("`on-arrival`"),
            "a near miss names the word"
        );
    }

    #[test]
    fn on_arrival_has_no_next_time() {
        let s = Schedule::parse("on-arrival", None).unwrap();
        assert!(s.is_on_arrival());
        assert_eq!(s.expr(), "on-arrival");
        assert_eq!(s.timezone(), None);
        assert_eq!(s.next_after(at("2026-11-24T12:00:00Z")), None);
    }
}
