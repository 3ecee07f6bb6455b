//! Human units, read and written: durations (`90s`, `30m`, `2h 30m`, `7d`)
//! and byte sizes (`512MiB`, `2GiB`, `1g`) in config values, and the short
//! forms reports and pages print. A leaf: it imports nothing of the crate.

use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. `90s`, `30m`, `2h`, `7d`")
    })
}

/// Bytes from `512MiB`, `2GiB`, `2g`, `1048576`. Decimal (`MB`) and binary
/// (`MiB`) suffixes mean what they say; a bare `k/m/g/t` is binary, as in Docker.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("`{text}` is not a size; write e.g. `512MiB`, `2GiB`, `4g`");
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    Ok((n * mult as f64) as u64)
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `3d 4h`, `4h 13m`, `13m`, `46s`: enough to read at a glance.
pub fn short_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins) = (s / 86400, s / 3600 % 24, s / 60 % 60);
    match () {
        _ if days > 0 => format!("{days}d {hours}h"),
        _ if hours > 0 => format!("{hours}h {mins}m"),
        _ if mins > 0 => format!("{mins}m"),
        _ => format!("{s}s"),
    }
}

/// An HTTP `Retry-After` value: seconds, or an HTTP date (measured from
/// `now`; one gone by is zero); at most `limit`. `None` for anything else.
pub fn retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
    limit: std::time::Duration,
) -> Option<std::time::Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => std::time::Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_docker_and_si_units() {
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("2g").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512MB").unwrap(), 512_000_000);
        assert_eq!(parse_bytes("1.5GiB").unwrap(), 3 << 29);
        assert!(parse_bytes("lots").unwrap_err().contains("`lots`"));
        assert!(parse_bytes("5 parsecs").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(
            short_age(Duration::from_secs(3 * 86400 + 4 * 3600 + 800)),
            "3d 4h"
        );
        assert_eq!(
            short_age(Duration::from_secs(4 * 3600 + 13 * 60 + 5)),
            "4h 13m"
        );
        assert_eq!(short_age(Duration::from_secs(46)), "46s");
    }
}
