//! Whether a PostgreSQL WAL archive holds every segment a base backup needs.
//!
//! Told to recover to the latest point, PostgreSQL stops at the first WAL
//! segment its archive lacks and then starts normally, with the data as of
//! that point and no error. So the archive's continuity is checked here,
//! from the segment the backup starts in (its `backup_label`) to the newest
//! segment archived, and the first missing segment is named.
//!
//! This module only reads names: it does not open segments, check their
//! contents, or follow the switch points written in timeline history files.
//! A `.partial` segment does not count as present: recovery never asks for it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The WAL segment size of a cluster built with default settings: 16 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 16 * 1024 * 1024;

/// Suffixes archive scripts and Barman add to compressed files.
const COMPRESSION_SUFFIXES: [&str; 5] = [".gz", ".zst", ".lz4", ".bz2", ".xz"];

/// A WAL location, printed and parsed like PostgreSQL does: `16/B374D848`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let half = |part: &str| {
            let hex =
                !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_hexdigit());
            hex.then(|| u64::from_str_radix(part, 16).ok()).flatten()
        };
        text.split_once('/')
            .and_then(|(hi, lo)| Some(Lsn((half(hi)? << 32) | half(lo)?)))
            .ok_or_else(|| format!("{text:?} is not a WAL location like 16/B374D848"))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// What a base backup's `backup_label` file says, in the lines needed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupLabel {
    /// Where replay starts: `START WAL LOCATION: 0/2000028 (file ...)`.
    pub start_lsn: Lsn,
    /// The segment file that location is in, as written in parentheses.
    pub start_file: String,
    /// `START TIMELINE`; labels older than PostgreSQL 11 lack it and the
    /// start file's name tells it instead.
    pub timeline: u32,
    /// `START TIME`, verbatim.
    pub start_time: Option<String>,
    /// `LABEL`, verbatim.
    pub label: Option<String>,
}

/// Reads a `backup_label` file; an error names the line missing or garbled.
pub fn parse_backup_label(text: &str) -> Result<BackupLabel, String> {
    let field = |key: &str| {
        text.lines().enumerate().find_map(|(i, line)| {
            let value = line
                .trim_end_matches('\r')
                .strip_prefix(key)?
                .strip_prefix(": ")?;
            Some((i + 1, value))
        })
    };
    let garbled = |at: usize, key: &str, value: &str| {
        format!("backup_label line {at}: {key} {value:?} is garbled")
    };
    let (at, start) =
        field("START WAL LOCATION").ok_or("backup_label has no START WAL LOCATION line")?;
    let (lsn, file) = start
        .split_once(" (file ")
        .and_then(|(lsn, rest)| Some((lsn.parse().ok()?, rest.strip_suffix(')')?)))
        .filter(|(_, file)| is_upper_hex(file, 24))
        .ok_or_else(|| garbled(at, "START WAL LOCATION", start))?;
    let file_timeline = hex_u32(&file[..8]);
    let timeline = match field("START TIMELINE") {
        None => file_timeline,
        Some((at, value)) => match value.parse() {
            Ok(timeline) if timeline == file_timeline => timeline,
            Ok(_) => {
                return Err(format!(
                    "backup_label line {at}: START TIMELINE {value} differs from start file {file}"
                ));
            }
            Err(_) => return Err(garbled(at, "START TIMELINE", value)),
        },
    };
    Ok(BackupLabel {
        start_lsn: lsn,
        start_file: file.to_string(),
        timeline,
        start_time: field("START TIME").map(|(_, v)| v.to_string()),
        label: field("LABEL").map(|(_, v)| v.to_string()),
    })
}

/// Checks a WAL segment size in bytes: a power of two from 1 MiB to 1 GiB,
/// as `initdb --wal-segsize` allows. The other functions here take it checked.
pub fn check_segment_size(bytes: u64) -> Result<u64, String> {
    let fits = bytes.is_power_of_two() && (1 << 20..=1 << 30).contains(&bytes);
    fits.then_some(bytes).ok_or_else(|| {
        format!("WAL segment size {bytes} is not a power of two from 1 MiB to 1 GiB")
    })
}

/// How many segments one 4 GiB "xlogid" (the middle part of a name) holds.
fn segments_per_id(segment_size: u64) -> u64 {
    debug_assert!(
        check_segment_size(segment_size).is_ok(),
        "unchecked segment size {segment_size}"
    );
    0x1_0000_0000 / segment_size
}

/// One archived WAL segment file, from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub timeline: u32,
    /// The segment's number from the start of WAL: its first byte is at
    /// `number * segment_size`.
    pub number: u64,
    /// The file's name as listed, compression suffix included.
    pub name: String,
}

/// Reads a segment file name, possibly with a compression suffix; `None` for
/// any other name, or one whose last part is out of range for `segment_size`.
pub fn parse_segment(name: &str, segment_size: u64) -> Option<Segment> {
    let bare = strip_compression(name);
    if !is_upper_hex(bare, 24) {
        return None;
    }
    let per_id = segments_per_id(segment_size);
    let (id, low) = (hex_u32(&bare[8..16]), hex_u32(&bare[16..]));
    let number = u64::from(id) * per_id + u64::from(low);
    let timeline = hex_u32(&bare[..8]);
    (u64::from(low) < per_id).then(|| Segment {
        timeline,
        number,
        name: name.to_string(),
    })
}

/// The name PostgreSQL gives a segment, like `000000010000000100000000`.
pub fn segment_name(timeline: u32, number: u64, segment_size: u64) -> String {
    let per_id = segments_per_id(segment_size);
    let (id, low) = (number / per_id, number % per_id);
    format!("{timeline:08X}{id:08X}{low:08X}")
}

/// The number of the segment holding `lsn`.
pub fn segment_of(lsn: Lsn, segment_size: u64) -> u64 {
    lsn.0 / segment_size
}

/// Where segment `number` begins.
pub fn segment_start(number: u64, segment_size: u64) -> Lsn {
    Lsn(number * segment_size)
}

fn strip_compression(name: &str) -> &str {
    COMPRESSION_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

fn is_upper_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// Reads eight hex digits already checked by [`is_upper_hex`].
fn hex_u32(text: &str) -> u32 {
    u32::from_str_radix(text, 16).unwrap_or_default()
}

/// What a listing of file names holds. The names may come from several
/// places at once, such as the archive and a backup's own `pg_wal`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub segments: Vec<Segment>,
    /// Timelines with a history file, like `00000002.history`, in order.
    pub histories: Vec<u32>,
    /// Names of partial segments, like `000000020000000000000005.partial`.
    pub partial: Vec<String>,
    /// How many names were none of these (`.backup` files, strangers).
    pub other: usize,
}

impl Listing {
    /// The newest segment: the highest number, on its highest timeline.
    pub fn newest(&self) -> Option<&Segment> {
        self.segments.iter().max_by_key(|s| (s.number, s.timeline))
    }
}

/// Sorts file names into a [`Listing`].
pub fn list(names: impl IntoIterator<Item = String>, segment_size: u64) -> Listing {
    let mut listing = Listing::default();
    for name in names {
        let bare = strip_compression(&name);
        if let Some(segment) = parse_segment(&name, segment_size) {
            listing.segments.push(segment);
        } else if let Some(tl) = bare.strip_suffix(".history").filter(|t| is_upper_hex(t, 8)) {
            listing.histories.push(hex_u32(tl));
        } else if bare
            .strip_suffix(".partial")
            .is_some_and(|s| is_upper_hex(s, 24))
        {
            listing.partial.push(name);
        } else {
            listing.other += 1;
        }
    }
    listing.histories.sort_unstable();
    listing.histories.dedup();
    listing
}

/// Lists the regular files of an archive folder: see [`archive_files`].
pub fn list_dir(dir: &Path, segment_size: u64) -> std::io::Result<Listing> {
    let (files, strangers) = archive_files(dir)?;
    let mut listing = list(files.into_iter().map(|(name, _)| name), segment_size);
    listing.other += strangers;
    Ok(listing)
}

/// The regular files of a WAL archive folder, each by name with its path
/// relative to the folder, and how many entries were none of them.
///
/// Files in the folder itself count, and so do those in its subfolders
/// named like a segment's first 16 characters (`0000000100000000`, its
/// timeline and log): Barman keeps segments in `wals/<timeline+log>/`.
/// Symlinks, other subfolders and names that are not UTF-8 are strangers,
/// not followed.
pub fn archive_files(dir: &Path) -> std::io::Result<(Vec<(String, PathBuf)>, usize)> {
    let named = |at: &Path| {
        let at = at.to_path_buf();
        move |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", at.display()))
    };
    let mut files = Vec::new();
    let mut strangers = 0;
    for entry in std::fs::read_dir(dir).map_err(named(dir))? {
        let entry = entry.map_err(named(dir))?;
        let kind = entry.file_type().map_err(named(dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            strangers += 1;
            continue;
        };
        if kind.is_file() {
            files.push((name.clone(), PathBuf::from(name)));
        } else if kind.is_dir() && is_upper_hex(&name, 16) {
            let sub = entry.path();
            for inner in std::fs::read_dir(&sub).map_err(named(&sub))? {
                let inner = inner.map_err(named(&sub))?;
                let regular = inner.file_type().map_err(named(&sub))?.is_file();
                match inner.file_name().into_string() {
                    Ok(file) if regular => files.push((file.clone(), Path::new(&name).join(file))),
                    _ => strangers += 1,
                }
            }
        } else {
            strangers += 1;
        }
    }
    Ok((files, strangers))
}

/// Whether `name` is a timeline history file, like `00000002.history`,
/// possibly with a compression suffix.
pub fn is_history(name: &str) -> bool {
    strip_compression(name)
        .strip_suffix(".history")
        .is_some_and(|t| is_upper_hex(t, 8))
}

/// The archive's continuity from the backup's start segment on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuity {
    /// Every segment from `first` to `newest` is there, on the backup's
    /// timeline or a later one; `count` segment numbers in all.
    Whole {
        first: String,
        newest: Segment,
        count: u64,
    },
    /// `missing` is the first segment absent at or after the backup's start;
    /// `last_before` the last one present before it, if any.
    Gap {
        missing: String,
        last_before: Option<String>,
        newest: String,
    },
    /// No segment at or after the backup's start segment is there.
    Empty { first_needed: String },
}

/// Walks the listing's segments from the backup's start segment to the
/// newest one. A number counts as present when a file for it is there on
/// the backup's timeline or a later one. Fails, rather than giving a
/// verdict, when `segment_size` disagrees with the label's own start file.
pub fn continuity(
    listing: &Listing,
    label: &BackupLabel,
    segment_size: u64,
) -> Result<Continuity, String> {
    let start = segment_of(label.start_lsn, segment_size);
    let expected = segment_name(label.timeline, start, segment_size);
    if label.start_file != expected {
        return Err(format!(
            "backup_label puts {} in {}, but with {segment_size}-byte segments it is in {expected}: \
             is the WAL segment size right?",
            label.start_lsn, label.start_file
        ));
    }
    let mut present: Vec<&Segment> = listing
        .segments
        .iter()
        .filter(|s| s.timeline >= label.timeline && s.number >= start)
        .collect();
    // Per number, the highest timeline first: after a switch recovery follows the newer one.
    present.sort_by(|a, b| (a.number, b.timeline, &a.name).cmp(&(b.number, a.timeline, &b.name)));
    present.dedup_by_key(|s| s.number);
    let Some(&newest) = present.last() else {
        return Ok(Continuity::Empty {
            first_needed: expected,
        });
    };
    let mut last: Option<&Segment> = None;
    for (wanted, segment) in (start..).zip(&present) {
        if segment.number != wanted {
            let timeline = last.map_or(label.timeline, |s| s.timeline);
            return Ok(Continuity::Gap {
                missing: segment_name(timeline, wanted, segment_size),
                last_before: last.map(|s| s.name.clone()),
                newest: newest.name.clone(),
            });
        }
        last = Some(segment);
    }
    let first = present[0].name.clone();
    Ok(Continuity::Whole {
        first,
        newest: newest.clone(),
        count: newest.number - start + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const LABEL: &str = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
CHECKPOINT LOCATION: 0/2000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-12-07 03:30:01 UTC
LABEL: pg_basebackup base backup
START TIMELINE: 1
";

    /// The name of segment `number` on timeline `tl` of a 16 MiB cluster.
    fn n(tl: u32, number: u64) -> String {
        segment_name(tl, number, 16 * MIB)
    }

    /// Names of segments `numbers` on timeline `tl` of a 16 MiB cluster.
    fn tl(tl: u32, numbers: impl IntoIterator<Item = u64>) -> Vec<String> {
        numbers.into_iter().map(|number| n(tl, number)).collect()
    }

    /// The verdict on `names` for a backup starting in segment 2 on timeline 1.
    fn verdict(names: Vec<String>, size: u64) -> Continuity {
        let start_lsn = Lsn(segment_start(2, size).0 + 0x28);
        let start_file = segment_name(1, 2, size);
        let label = BackupLabel {
            start_lsn,
            start_file,
            ..parse_backup_label(LABEL).unwrap()
        };
        continuity(&list(names, size), &label, size).unwrap()
    }

    fn whole(first: String, newest: String, count: u64) -> Continuity {
        let newest = parse_segment(&newest, 16 * MIB).unwrap();
        Continuity::Whole {
            first,
            newest,
            count,
        }
    }

    fn gap(missing: String, last_before: Option<String>, newest: String) -> Continuity {
        Continuity::Gap {
            missing,
            last_before,
            newest,
        }
    }

    #[test]
    fn lsn_prints_as_it_parses() {
        for text in ["0/3000028", "16/B374D848", "0/0", "FFFFFFFF/FFFFFFFF"] {
            assert_eq!(text.parse::<Lsn>().unwrap().to_string(), text);
        }
        assert_eq!("16/b374d848".parse::<Lsn>(), Ok(Lsn(0x16_B374_D848)));
        for bad in ["xyz", "1/", "/1", "1/+2", "123456789/0", "1/2/3", ""] {
            let err = bad.parse::<Lsn>().unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn backup_label_is_read() {
        let label = parse_backup_label(LABEL).unwrap();
        assert_eq!((label.start_lsn, label.timeline), (Lsn(0x200_0028), 1));
        assert_eq!(label.start_file, "000000010000000000000002");
        assert_eq!(label.start_time.as_deref(), Some("2026-12-07 03:30:01 UTC"));
        assert_eq!(label.label.as_deref(), Some("pg_basebackup base backup"));
        assert_eq!(parse_backup_label(&LABEL.replace('\n', "\r\n")), Ok(label));
        let old = LABEL
            .replace("START TIMELINE: 1\n", "")
            .replace("(file 00000001", "(file 00000003");
        assert_eq!(parse_backup_label(&old).unwrap().timeline, 3);
    }

    #[test]
    fn backup_label_faults_are_named() {
        let fault = |text: String| parse_backup_label(&text).unwrap_err();
        let no_start = fault(LABEL.replace("START WAL", "BEGIN WAL"));
        assert!(no_start.contains("no START WAL LOCATION"), "{no_start}");
        let garbled = fault(LABEL.replace("(file 0000", "(0000"));
        assert!(garbled.contains("line 1: START WAL LOCATION"), "{garbled}");
        let other_tl = fault(LABEL.replace("TIMELINE: 1", "TIMELINE: 2"));
        assert!(other_tl.contains("line 7: START TIMELINE"), "{other_tl}");
    }

    #[test]
    fn segment_sizes_are_checked() {
        for good in [MIB, 16 * MIB, 1024 * MIB] {
            assert_eq!(check_segment_size(good), Ok(good));
        }
        for bad in [0, MIB / 2, 3 * MIB, 2048 * MIB] {
            assert!(check_segment_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn segment_names_follow_the_segment_size() {
        for (mib, last_low) in [(16, "FF"), (64, "3F"), (1024, "03"), (1, "FFF")] {
            let size = mib * MIB;
            let per_id = 0x1_0000_0000 / size;
            let last = format!("0000000100000000{last_low:0>8}");
            assert_eq!(segment_name(1, per_id - 1, size), last);
            assert_eq!(segment_name(1, per_id, size), "000000010000000100000000");
            assert_eq!(parse_segment(&last, size).unwrap().number, per_id - 1);
            let beyond = format!("0000000100000000{per_id:08X}");
            assert_eq!(parse_segment(&beyond, size), None, "{beyond} at {size}");
        }
        assert_eq!(segment_of(Lsn(0x1_0000_0000), 16 * MIB), 256);
        assert_eq!(segment_start(256, 16 * MIB).to_string(), "1/0");
    }

    #[test]
    fn compressed_segments_are_segments() {
        for suffix in ["", ".gz", ".zst", ".lz4", ".bz2", ".xz"] {
            let name = format!("00000002000000010000000A{suffix}");
            let segment = parse_segment(&name, 16 * MIB).unwrap();
            assert_eq!(
                (segment.timeline, segment.number, segment.name),
                (2, 266, name)
            );
        }
        for bad in [
            "00000002000000010000000a",
            "00000002000000010000000A.rar",
            "000000020000",
        ] {
            assert_eq!(parse_segment(bad, 16 * MIB), None, "{bad}");
        }
    }

    #[test]
    fn listing_sorts_names_by_kind() {
        let names = [
            "000000010000000000000002",
            "000000010000000000000003.gz",
            "00000003.history",
            "00000002.history",
            "000000010000000000000004.partial",
            "000000010000000000000002.00000028.backup",
            "archive_status",
            "README",
        ];
        let listing = list(names.map(String::from), 16 * MIB);
        assert_eq!(listing.segments.len(), 2);
        assert_eq!(listing.histories, [2, 3]);
        assert_eq!(listing.partial, ["000000010000000000000004.partial"]);
        assert_eq!(listing.other, 3);
        assert_eq!(
            listing.newest().unwrap().name,
            "000000010000000000000003.gz"
        );
    }

    #[test]
    fn list_dir_reads_regular_files_only() {
        let dir = std::env::temp_dir().join(format!("walcheck-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("000000010000000000000009")).unwrap();
        std::fs::write(dir.join("000000010000000000000002"), b"").unwrap();
        let listing = list_dir(&dir, 16 * MIB).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((listing.segments.len(), listing.other), (1, 1));
        let err = list_dir(&dir, 16 * MIB).unwrap_err();
        assert!(
            err.to_string().contains(&dir.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn barmans_timeline_and_log_folders_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("0000000100000000");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir_all(dir.path().join("streaming")).unwrap();
        for f in [
            "000000010000000000000002",
            "000000010000000000000003",
            "000000010000000000000002.00000028.backup",
        ] {
            std::fs::write(sub.join(f), b"").unwrap();
        }
        std::fs::write(dir.path().join("00000002.history"), b"").unwrap();
        std::fs::write(dir.path().join("xlog.db"), b"").unwrap();
        let (mut files, strangers) = archive_files(dir.path()).unwrap();
        files.sort();
        assert_eq!(strangers, 1, "the streaming folder");
        assert_eq!(
            files[0],
            (
                "000000010000000000000002".to_string(),
                Path::new("0000000100000000/000000010000000000000002").to_path_buf()
            )
        );
        let listing = list_dir(dir.path(), 16 * MIB).unwrap();
        assert_eq!(listing.segments.len(), 2);
        assert_eq!(listing.histories, [2]);
        assert!(is_history("00000002.history.gz") && !is_history("xlog.db"));
    }

    #[test]
    fn a_whole_archive_is_whole() {
        assert_eq!(verdict(tl(1, 2..=4), 16 * MIB), whole(n(1, 2), n(1, 4), 3));
    }

    #[test]
    fn a_gap_in_the_middle_is_named() {
        let expected = gap(n(1, 4), Some(n(1, 3)), n(1, 5));
        assert_eq!(verdict(tl(1, [2, 3, 5]), 16 * MIB), expected);
    }

    #[test]
    fn a_missing_start_segment_is_a_gap() {
        assert_eq!(
            verdict(tl(1, [3, 4]), 16 * MIB),
            gap(n(1, 2), None, n(1, 4))
        );
    }

    #[test]
    fn a_gap_across_the_xlogid_boundary_is_named() {
        let names = tl(1, (2..=0xFF).chain([0x101]));
        let expected = gap(n(1, 0x100), Some(n(1, 0xFF)), n(1, 0x101));
        assert_eq!(verdict(names, 16 * MIB), expected);
        let expected = whole(n(1, 2), "000000010000000100000001".into(), 256);
        assert_eq!(verdict(tl(1, 2..=0x101), 16 * MIB), expected);
    }

    #[test]
    fn an_archive_without_the_backups_wal_is_empty() {
        let empty = Continuity::Empty {
            first_needed: n(1, 2),
        };
        assert_eq!(verdict(Vec::new(), 16 * MIB), empty);
        let older = [tl(1, [0, 1]), tl(2, [1]), vec!["00000002.history".into()]].concat();
        assert_eq!(verdict(older, 16 * MIB), empty);
    }

    #[test]
    fn a_timeline_switch_is_whole() {
        let history = vec!["00000002.history".into(), format!("{}.partial", n(1, 4))];
        let switched = [tl(1, [2, 3]), history.clone(), tl(2, [4, 5])].concat();
        assert_eq!(verdict(switched, 16 * MIB), whole(n(1, 2), n(2, 5), 4));
        let broken = [tl(1, [2]), history, tl(2, [4, 5])].concat();
        let expected = gap(n(1, 3), Some(n(1, 2)), n(2, 5));
        assert_eq!(verdict(broken, 16 * MIB), expected);
        // Where both timelines hold a number, the newer one is named.
        let both = [tl(1, [2, 3, 4]), tl(2, [4, 6])].concat();
        let expected = gap(n(2, 5), Some(n(2, 4)), n(2, 6));
        assert_eq!(verdict(both, 16 * MIB), expected);
    }

    #[test]
    fn segments_older_than_the_start_are_ignored() {
        assert_eq!(
            verdict(tl(1, [0, 2, 3]), 16 * MIB),
            whole(n(1, 2), n(1, 3), 2)
        );
    }

    #[test]
    fn a_64_mib_archive_is_read_with_its_own_segment_size() {
        let names: Vec<String> = (2..=0x41).map(|n| segment_name(1, n, 64 * MIB)).collect();
        assert_eq!(
            names[0x3D..=0x3E],
            ["00000001000000000000003F", "000000010000000100000000"]
        );
        let whole = verdict(names.clone(), 64 * MIB);
        assert!(
            matches!(whole, Continuity::Whole { count: 64, .. }),
            "{whole:?}"
        );
        let label = parse_backup_label(&LABEL.replace("0/2000028", "0/8000028")).unwrap();
        let err = continuity(&list(names, 16 * MIB), &label, 16 * MIB).unwrap_err();
        assert!(err.contains("segment size"), "{err}");
    }

    #[test]
    fn the_backups_own_pg_wal_can_fill_the_archive() {
        let pg_wal = tl(1, [2]).into_iter().chain(["archive_status".to_string()]);
        let listing = list(tl(1, [3, 4]).into_iter().chain(pg_wal), 16 * MIB);
        let label = parse_backup_label(LABEL).unwrap();
        let verdict = continuity(&listing, &label, 16 * MIB).unwrap();
        assert_eq!(verdict, whole(n(1, 2), n(1, 4), 3));
    }
}
