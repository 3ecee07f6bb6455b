//! Every counter that hands out a column's values (a PostgreSQL sequence
//! owned by the column, SERIAL or identity; a MySQL/MariaDB AUTO_INCREMENT)
//! must be past the values already in the column after the load: else the
//! first insert after a recovery is refused with a duplicate key. On by
//! default, with no assertion written (`baseline.sequences: false` turns it
//! off). The engines read the counters and the columns' extremes
//! (`Session::counters`); this file only decides, so it is tested without a
//! server. A sequence no column owns is not checked: nothing says which
//! values it must stay clear of.

use super::AssertionResult;

/// A column and the counter that numbers its new rows, as the restored
/// server holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    /// `schema.table` (MySQL/MariaDB: `database.table`).
    pub table: String,
    pub column: String,
    /// `schema.sequence` of a PostgreSQL sequence; `None` for AUTO_INCREMENT.
    pub sequence: Option<String>,
    /// The value the next insert is given.
    pub next: i128,
    /// The step; negative for a descending sequence.
    pub increment: i128,
    /// The sequence starts over at its other end when it runs out.
    pub cycles: bool,
    /// The column's largest and smallest values; `None` when it holds none.
    pub max: Option<i128>,
    pub min: Option<i128>,
    /// For a cycling sequence: `next` is already in the column.
    pub next_taken: Option<bool>,
    /// The column alone is the key of a unique index or the primary key, so
    /// a second row with the same value is refused.
    pub unique: bool,
    /// The counter as the server shows it, e.g. `last_value 997, is_called true`.
    pub shown: String,
}

/// What PostgreSQL's `nextval` returns next for a sequence at `last_value`:
/// the value itself while `is_called` is false (as `setval(s, v, false)`
/// leaves it), else one step on.
pub fn pg_next(last_value: i64, is_called: bool, increment: i64) -> i128 {
    if is_called {
        i128::from(last_value) + i128::from(increment)
    } else {
        i128::from(last_value)
    }
}

/// A number as a server prints a column's extreme (`123`, `-5`, `12.50`),
/// rounded away from the counter's path: up for a maximum (`up`), down for
/// a minimum, so that a fraction never hides a clash. Saturates beyond
/// `i128`; `None` when it is not a number.
pub fn parse_extreme(text: &str, up: bool) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = whole.parse::<i128>().unwrap_or(i128::MAX);
    let mut value = if negative { -magnitude } else { magnitude };
    if fraction.bytes().any(|b| b != b'0') {
        // 12.5 up is 13, -12.5 up is -12; down the other way.
        match (up, negative) {
            (true, false) => value = value.saturating_add(1),
            (false, true) => value = value.saturating_sub(1),
            _ => {}
        }
    }
    Some(value)
}

/// How one counter stands against its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// The table is empty: nothing to clash with.
    Empty,
    InStep,
    /// The next value is at or behind the column's extreme.
    Behind,
}

impl Counter {
    fn standing(&self) -> Standing {
        let (Some(max), Some(min)) = (self.max, self.min) else {
            return Standing::Empty;
        };
        // A cycling sequence may have started over on purpose (the old rows
        // gone): only a next value already taken is known to clash.
        if self.cycles {
            return match self.next_taken {
                Some(true) => Standing::Behind,
                _ => Standing::InStep,
            };
        }
        let behind = if self.increment < 0 {
            self.next >= min
        } else {
            self.next <= max
        };
        if behind {
            Standing::Behind
        } else {
            Standing::InStep
        }
    }

    /// `public.orders.id`.
    fn subject(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }

    /// `sequence public.orders_id_seq` or `AUTO_INCREMENT`.
    fn counter(&self) -> String {
        match &self.sequence {
            Some(s) => format!("sequence {s}"),
            None => "AUTO_INCREMENT".to_string(),
        }
    }

    /// What the column must stay clear of, e.g. `above max(id) = 1000`.
    fn expected(&self) -> String {
        if self.cycles {
            return format!("a next value not yet in {}", self.column);
        }
        match (self.increment < 0, self.max, self.min) {
            (false, Some(max), _) => format!("next value above max({}) = {max}", self.column),
            (true, _, Some(min)) => format!("next value below min({}) = {min}", self.column),
            _ => "next value clear of the column's values".to_string(),
        }
    }

    fn observed(&self) -> String {
        let taken = if self.next_taken == Some(true) {
            ", already in the column"
        } else {
            ""
        };
        format!(
            "{} gives {} next{taken} ({})",
            self.counter(),
            self.next,
            self.shown
        )
    }

    /// The reason a run fails on this counter.
    fn reason(&self) -> String {
        format!(
            "{} of {} gives {} next, and {} holds {}: the first insert after a recovery \
             fails with a duplicate key",
            self.counter(),
            self.subject(),
            self.next,
            self.column,
            match (self.cycles, self.increment < 0) {
                (true, _) => format!("{} already", self.next),
                (false, false) => format!("values up to {}", fmt_opt(self.max)),
                (false, true) => format!("values down to {}", fmt_opt(self.min)),
            }
        )
    }
}

fn fmt_opt(v: Option<i128>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

const KIND: &str = "sequence";

/// The outcome of checking the counters.
#[derive(Debug, Default)]
pub struct Sequences {
    /// A summary line, then one line per counter behind its column.
    pub results: Vec<AssertionResult>,
    /// Why the run fails, one per counter a duplicate key would stop.
    pub failures: Vec<String>,
}

impl Sequences {
    /// The reason the run fails: the first counter behind, and how many more.
    pub fn reason(&self) -> Option<String> {
        let first = self.failures.first()?;
        Some(match self.failures.len() {
            1 => first.clone(),
            n => format!("{first} (and {} more counters behind)", n - 1),
        })
    }
}

/// Checks every counter against its column. A counter behind a column with
/// no unique index of its own fails nothing (no insert is refused) but is
/// listed with a note.
pub fn check(counters: &[Counter]) -> Sequences {
    let mut out = Sequences::default();
    let (mut in_step, mut empty, mut behind) = (0, 0, 0);
    for c in counters {
        match c.standing() {
            Standing::Empty => empty += 1,
            Standing::InStep => in_step += 1,
            Standing::Behind => {
                behind += 1;
                let result = AssertionResult::new(KIND, c.subject(), !c.unique)
                    .expected(c.expected())
                    .observed(c.observed());
                if c.unique {
                    out.failures.push(c.reason());
                    out.results.push(result);
                } else {
                    out.results.push(result.note(format!(
                        "{} has no unique index of its own, so no insert is refused",
                        c.column
                    )));
                }
            }
        }
    }
    let summary = AssertionResult::new(
        KIND,
        "every counter owned by a column",
        out.failures.is_empty(),
    )
    .expected("each one's next value past its column's values")
    .observed(format!(
        "{} checked: {in_step} in step, {empty} on empty tables, {behind} behind",
        counters.len()
    ));
    out.results.insert(0, summary);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(next: i128, max: Option<i128>) -> Counter {
        Counter {
            table: "public.orders".into(),
            column: "id".into(),
            sequence: Some("public.orders_id_seq".into()),
            next,
            increment: 1,
            cycles: false,
            max,
            min: max.map(|_| 1),
            next_taken: None,
            unique: true,
            shown: "last_value 0, is_called true".into(),
        }
    }

    #[test]
    fn a_sequence_not_yet_called_gives_its_last_value_next() {
        assert_eq!(pg_next(1000, false, 1), 1000);
        assert_eq!(pg_next(1000, true, 1), 1001);
        assert_eq!(pg_next(-5, true, -1), -6);
        assert_eq!(pg_next(i64::MAX, true, 1), i128::from(i64::MAX) + 1);
    }

    #[test]
    fn a_sequence_past_the_maximum_passes_and_one_at_it_fails_naming_everything() {
        let ok = check(&[serial(1001, Some(1000))]);
        assert!(ok.failures.is_empty());
        assert_eq!(ok.results.len(), 1);
        assert!(ok.results[0].passed);
        assert_eq!(
            ok.results[0].observed,
            "1 checked: 1 in step, 0 on empty tables, 0 behind"
        );

        // setval(s, 1000, false): nextval gives 1000, which is taken.
        let at = check(&[serial(1000, Some(1000))]);
        assert_eq!(at.failures.len(), 1);
        let why = at.reason().unwrap();
        assert_eq!(
            why,
            "sequence public.orders_id_seq of public.orders.id gives 1000 next, and id holds values \
             up to 1000: the first insert after a recovery fails with a duplicate key"
        );
        assert!(!at.results[0].passed);
        let line = &at.results[1];
        assert!(!line.passed);
        assert_eq!(line.subject, "public.orders.id");
        assert_eq!(line.expected, "next value above max(id) = 1000");
        assert!(
            line.observed
                .starts_with("sequence public.orders_id_seq gives 1000 next")
        );
    }

    #[test]
    fn an_empty_table_has_nothing_to_clash_with() {
        let r = check(&[serial(1, None)]);
        assert!(r.failures.is_empty());
        assert_eq!(
            r.results[0].observed,
            "1 checked: 0 in step, 1 on empty tables, 0 behind"
        );
    }

    #[test]
    fn a_descending_sequence_must_be_below_the_minimum() {
        let down = |next| Counter {
            increment: -1,
            max: Some(-1),
            min: Some(-50),
            ..serial(next, Some(-1))
        };
        assert!(check(&[down(-51)]).failures.is_empty());
        let behind = check(&[down(-50)]);
        assert_eq!(behind.failures.len(), 1);
        assert!(
            behind.failures[0].contains("values down to -50"),
            "{}",
            behind.failures[0]
        );
        assert_eq!(behind.results[1].expected, "next value below min(id) = -50");
    }

    #[test]
    fn a_cycling_sequence_fails_only_when_its_next_value_is_taken() {
        let wrapped = Counter {
            cycles: true,
            next_taken: Some(false),
            ..serial(3, Some(1000))
        };
        assert!(check(std::slice::from_ref(&wrapped)).failures.is_empty());
        let taken = Counter {
            next_taken: Some(true),
            ..wrapped
        };
        let r = check(&[taken]);
        assert_eq!(r.failures.len(), 1);
        assert!(
            r.failures[0].contains("id holds 3 already"),
            "{}",
            r.failures[0]
        );
    }

    #[test]
    fn a_counter_behind_a_column_that_is_not_unique_is_noted_not_failed() {
        let loose = Counter {
            unique: false,
            ..serial(5, Some(1000))
        };
        let r = check(&[loose]);
        assert!(r.failures.is_empty());
        assert!(r.results.iter().all(|a| a.passed));
        assert!(
            r.results[1]
                .note
                .as_deref()
                .unwrap()
                .contains("no unique index")
        );
        assert_eq!(
            r.results[0].observed,
            "1 checked: 0 in step, 0 on empty tables, 1 behind"
        );
    }

    #[test]
    fn an_auto_increment_is_named_as_such_and_several_behind_are_counted() {
        let auto = Counter {
            table: "shop.orders".into(),
            sequence: None,
            shown: "AUTO_INCREMENT 5".into(),
            ..serial(5, Some(100))
        };
        let r = check(&[auto.clone(), auto]);
        let why = r.reason().unwrap();
        assert!(
            why.starts_with("AUTO_INCREMENT of shop.orders.id gives 5 next"),
            "{why}"
        );
        assert!(why.ends_with("(and 1 more counters behind)"), "{why}");
    }

    #[test]
    fn extremes_round_away_from_the_counters_path() {
        assert_eq!(parse_extreme("1000", true), Some(1000));
        assert_eq!(parse_extreme("-7", false), Some(-7));
        assert_eq!(parse_extreme("12.000", true), Some(12));
        assert_eq!(parse_extreme("12.5", true), Some(13));
        assert_eq!(parse_extreme("12.5", false), Some(12));
        assert_eq!(parse_extreme("-12.5", false), Some(-13));
        assert_eq!(parse_extreme("-12.5", true), Some(-12));
        assert_eq!(
            parse_extreme("18446744073709551615", true),
            Some(18446744073709551615)
        );
        assert_eq!(parse_extreme(&"9".repeat(60), true), Some(i128::MAX));
        assert_eq!(parse_extreme("abc", true), None);
        assert_eq!(parse_extreme("", true), None);
        assert_eq!(parse_extreme("1e5", true), None);
    }
}
