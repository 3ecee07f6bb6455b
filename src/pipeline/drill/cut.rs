//! Where a cut mutant ends: at a fraction of the dump's plain text, once
//! after the last whole line before that point and once inside a line (the
//! way a backup killed mid-write ends). Plain decisions on a window of bytes
//! read before the point, tested without files.

/// How many bytes before the cut point are read to find a line's end.
pub(super) const WINDOW: u64 = 1 << 20;

/// The point `fraction` of the way through `len` bytes.
pub(super) fn target(len: u64, fraction: f64) -> u64 {
    ((len as f64) * fraction).floor() as u64
}

/// The cut at a line boundary: just after the last newline of `window`
/// (the bytes from `start` up to the target). `None` when the window holds
/// no newline.
pub(super) fn at_line(window: &[u8], start: u64) -> Option<u64> {
    let i = window.iter().rposition(|&b| b == b'\n')?;
    Some(start + i as u64 + 1)
}

/// The cut inside a line: the target itself when the byte before it is not
/// a newline, else just after the last byte of `window` that is not one,
/// so the cut text never ends with a newline. `None` when there is none.
pub(super) fn mid_line(window: &[u8], start: u64) -> Option<u64> {
    let i = window.iter().rposition(|&b| b != b'\n')?;
    // Ending after a byte whose next byte is a newline would end the line
    // whole: one byte earlier it is cut inside it, if the line is long enough.
    let end = i + 1;
    let is_line_end = window.get(end) == Some(&b'\n');
    match is_line_end {
        false => Some(start + end as u64),
        true if i > 0 && window[i - 1] != b'\n' => Some(start + i as u64),
        true => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_keeps_whole_lines_only() {
        let text = b"first line\nsecond line\nthird";
        // The target falls inside "third": the cut is after "second line\n".
        assert_eq!(at_line(text, 0), Some(23));
        assert_eq!(&text[..23], b"first line\nsecond line\n");
        // Offsets count from the window's start in the file.
        assert_eq!(at_line(&text[11..], 11), Some(23));
        assert_eq!(at_line(b"no newline", 5), None);
    }

    #[test]
    fn a_mid_line_cut_never_ends_with_a_newline() {
        // The target is inside a line: cut there.
        let text = b"abc\ndefg";
        assert_eq!(mid_line(text, 0), Some(8));
        // The target falls just after a newline: cut one byte into the line before.
        let text = b"abc\ndefg\n";
        let cut = mid_line(text, 100).unwrap();
        assert_eq!(cut, 100 + 7);
        assert_eq!(&text[..7], b"abc\ndef");
        assert_ne!(text[6], b'\n');
        // Nothing but newlines and one-byte lines: no mid-line cut here.
        assert_eq!(mid_line(b"\n\n", 0), None);
    }

    #[test]
    fn the_targets_are_fractions_of_the_plain_text() {
        assert_eq!(target(1000, 0.9), 900);
        assert_eq!(target(1000, 0.5), 500);
        assert_eq!(target(1001, 0.1), 100);
        assert_eq!(target(0, 0.5), 0);
    }
}
