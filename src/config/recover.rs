//! Reading a config that does not parse, so that every problem is reported in
//! one pass.
//!
//! serde stops at the first problem. Here each problem is recorded (in plain
//! words, with its place and its path such as `jobs[shop].restore.cpus`), the
//! entry it is in is blanked out of the text (line numbers kept), and the text
//! is parsed again, until it parses or what is left is a YAML syntax error
//! this blanking could have caused. What parses in the end is still checked
//! by the validator, so one bad job does not hide another job's problems.
//! This reads only the block structure (indentation) of the text; it does not
//! understand flow collections spread over several lines, and stops there.

use serde_saphyr::{Error, Location};

use super::errors::Problems;
use super::raw::RawConfig;

/// Enough passes for any hand-written config; stops a runaway loop.
const MAX_PASSES: usize = 200;

/// Parses `text`, recording every problem; returns what parses once the bad
/// entries are blanked, if anything does.
pub(super) fn parse_reporting_all(
    text: &str,
    options: &dyn Fn() -> serde_saphyr::Options,
    problems: &mut Problems<'_>,
) -> Option<RawConfig> {
    let original: Vec<String> = text.lines().map(str::to_string).collect();
    let mut lines = original.clone();
    let first_error_count = problems.list.len();
    for pass in 0..MAX_PASSES {
        let current = lines.join("\n") + "\n";
        let err = match serde_saphyr::from_str_with_options::<RawConfig>(&current, options()) {
            Ok(raw) => return Some(raw),
            Err(e) => e,
        };
        let err = err.without_snippet();
        let is_data = is_data_error(err);
        if pass > 0 && !is_data {
            // Possibly made by the blanking: what was found so far stands.
            return None;
        }
        let loc = err.location().unwrap_or(Location::UNKNOWN);
        let missing = matches!(err, Error::SerdeMissingField { .. });
        if missing && pass > 0 && matches!(err, Error::SerdeMissingField { field: "jobs", .. }) {
            return None;
        }
        let (mut line, mut col) = (loc.line() as usize, loc.column() as usize);
        if missing && line > 0 {
            (line, col) = map_start(&original, line, col);
        }
        let message = describe(err, &original, line, col);
        problems.parse_problem((line as u64, col as u64), message);
        if !is_data || line == 0 || !blank(&mut lines, line, col, missing) {
            return None;
        }
        if problems.list.len() > first_error_count + MAX_PASSES {
            return None;
        }
    }
    None
}

/// A problem with a value or key (the YAML itself is well formed), which
/// blanking the entry gets past.
fn is_data_error(err: &Error) -> bool {
    matches!(
        err,
        Error::Message { .. }
            | Error::InvalidScalar { .. }
            | Error::NonFiniteFloat { .. }
            | Error::SerdeInvalidType { .. }
            | Error::SerdeInvalidValue { .. }
            | Error::SerdeInvalidLength { .. }
            | Error::SerdeUnknownVariant { .. }
            | Error::SerdeUnknownField { .. }
            | Error::SerdeMissingField { .. }
            | Error::NullIntoString { .. }
            | Error::InvalidBooleanStrict { .. }
    )
}

/// The problem in plain words, after its path in the file.
fn describe(err: &Error, lines: &[String], line: usize, col: usize) -> String {
    let missing_field = matches!(err, Error::SerdeMissingField { .. });
    let path = match line {
        // A YAML syntax error is where the parser noticed it, not in a key.
        _ if !is_data_error(err) => String::new(),
        0 => String::new(),
        // The map the key is missing from, not the key at that place.
        _ if missing_field => path_at(lines, line, 1, false),
        // An unknown key is itself the problem, not a value of that key.
        _ => path_at(
            lines,
            line,
            col,
            !matches!(
                err,
                Error::SerdeUnknownField { .. } | Error::SerdeUnknownVariant { .. }
            ),
        ),
    };
    let what = match err {
        Error::InvalidScalar { ty, .. } => {
            format!(
                "expected {}, got {}",
                plain_type(ty),
                scalar_at(lines, line, col)
            )
        }
        Error::NonFiniteFloat { value, .. } => {
            format!("expected a finite number, got `{value}`")
        }
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | Error::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => format!(
            "expected {}, got {}",
            plain_type(expected),
            plain_unexpected(unexpected)
        ),
        Error::NullIntoString { .. } => "expected text, got nothing".to_string(),
        Error::SerdeUnknownField {
            field, expected, ..
        } => unknown("key", field, expected),
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => unknown("kind", variant, expected),
        Error::SerdeMissingField { field, .. } => return missing(&path, field),
        other => super::errors::bare_message(other),
    };
    if path.is_empty() {
        what
    } else {
        format!("{path}: {what}")
    }
}

fn missing(path: &str, field: &str) -> String {
    let job = path
        .strip_prefix("jobs[")
        .and_then(|p| p.strip_suffix(']'))
        .filter(|j| !j.contains(['.', '[']));
    match job {
        Some(n) if n.parse::<usize>().is_ok() => {
            format!("{path}: this job has no `{field}:`, which every job needs")
        }
        Some(name) => format!("job `{name}` has no `{field}:`, which every job needs"),
        None if path.is_empty() => format!("the config has no `{field}:`, which it needs"),
        None => format!("{path}: `{field}:` is missing, and needed here"),
    }
}

fn unknown(what: &str, name: &str, expected: &[&str]) -> String {
    match closest(name, expected) {
        Some(best) => format!("unknown {what} `{name}`; did you mean `{best}`?"),
        None => format!(
            "unknown {what} `{name}`; expected one of {}",
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The expected name nearest to `name`, if near enough to be a typo.
fn closest<'a>(name: &str, expected: &[&'a str]) -> Option<&'a str> {
    expected
        .iter()
        .map(|e| (edit_distance(name, e), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// serde's and the parser's type names in the user's words.
fn plain_type(ty: &str) -> String {
    let t = ty.trim();
    let words = match t {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "f32" | "f64" | "floating point" => "a number",
        "bool" | "a boolean" => "`true` or `false`",
        "a string" | "string" | "char" => "text",
        "a sequence" => "a list",
        "a map" => "a map of settings",
        _ if t.starts_with("struct ") => "a map of settings",
        _ if t.starts_with("a sequence") => "a list",
        _ => t,
    };
    words.to_string()
}

/// `string "abc"` → `"abc"`, `integer `5`` → `5`, `map` → `a map`.
fn plain_unexpected(u: &str) -> String {
    for prefix in [
        "string ",
        "integer ",
        "floating point ",
        "boolean ",
        "char ",
    ] {
        if let Some(rest) = u.strip_prefix(prefix) {
            return rest.trim_matches('`').to_string();
        }
    }
    match u {
        "map" => "a map".into(),
        "sequence" => "a list".into(),
        "unit value" | "null" | "none" | "Option value" => "nothing".into(),
        other => other.to_string(),
    }
}

/// The scalar written at `line:col`, as the user wrote it.
fn scalar_at(lines: &[String], line: usize, col: usize) -> String {
    let Some(text) = lines.get(line.wrapping_sub(1)) else {
        return "this value".into();
    };
    let rest: String = text.chars().skip(col.saturating_sub(1)).collect();
    let value = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let end = rest[1..].find(q).map_or(rest.len(), |i| i + 2);
            rest[..end].to_string()
        }
        _ => {
            let end = rest.find([',', '}', ']', '#']).unwrap_or(rest.len());
            format!("\"{}\"", rest[..end].trim())
        }
    };
    if value.len() > 2 {
        value
    } else {
        "this value".into()
    }
}

/// Leading spaces of a line; `None` for a blank or comment line.
fn indent(line: &str) -> Option<usize> {
    let content = line.trim_start();
    (!content.is_empty() && !content.starts_with('#')).then(|| line.len() - content.len())
}

/// Where a line's content starts: after `- ` for a list item.
fn content_indent(line: &str) -> Option<usize> {
    let i = indent(line)?;
    let rest = &line[i..];
    match rest.strip_prefix('-') {
        Some(after) if after.is_empty() || after.starts_with(' ') => {
            let skipped = after.len() - after.trim_start().len();
            Some(i + 1 + skipped)
        }
        _ => Some(i),
    }
}

fn is_item(line: &str) -> bool {
    indent(line).is_some_and(|i| content_indent(line) != Some(i))
}

/// Blanks the entry holding `line:col` (1-based), and the keys and items
/// left empty by that. A missing key blanks its job (or top-level section):
/// serde reports it once everything else in that map was read, so nothing
/// more is to be found there. False when nothing changed.
fn blank(lines: &mut [String], line: usize, col: usize, missing: bool) -> bool {
    let idx = line.saturating_sub(1);
    let Some(text) = lines.get(idx) else {
        return false;
    };
    let (start, start_col) = if missing {
        outermost_entry(lines, idx)
    } else if is_item(text) && col > indent(text).unwrap_or(0) + 1 && has_siblings(lines, idx) {
        // The first key of a list item with more keys: keep the `- `.
        (idx, content_indent(text).unwrap_or(0))
    } else {
        (idx, indent(text).unwrap_or(0))
    };
    let parents = ancestors(lines, start);
    let changed = blank_range(lines, start, start_col);
    for &p in parents.iter().rev().skip(1) {
        if !is_empty_entry(lines, p) {
            break;
        }
        if key_of(&lines[p]) == "jobs" && indent(&lines[p]) == Some(0) {
            // Keep checking the other sections.
            lines[p] = "jobs: []".to_string();
            break;
        }
        blank_range(lines, p, indent(&lines[p]).unwrap_or(0));
    }
    changed
}

/// The parser puts a missing key somewhere in its map: at one of the map's
/// keys. Point at the map's first key instead, where a reader looks for it.
fn map_start(lines: &[String], line: usize, col: usize) -> (usize, usize) {
    let Some(text) = lines.get(line - 1) else {
        return (line, col);
    };
    if indent(text).is_none() || col != content_indent(text).unwrap_or(0) + 1 {
        return (line, col);
    }
    let own = content_indent(text).unwrap_or(0);
    let mut first = line;
    for n in (0..line - 1).rev() {
        let Some(i) = indent(&lines[n]) else { continue };
        if is_item(&lines[n]) && content_indent(&lines[n]) == Some(own) {
            return (n + 1, own + 1);
        }
        if i < own {
            break;
        }
        if i == own {
            first = n + 1;
        }
    }
    (first, own + 1)
}

/// Whether the list item at `idx` has keys on the lines after its first.
fn has_siblings(lines: &[String], idx: usize) -> bool {
    let c = content_indent(&lines[idx]).unwrap_or(0);
    lines[idx + 1..]
        .iter()
        .filter_map(|l| indent(l))
        .find(|&i| i <= c)
        == Some(c)
}

/// A `key:` or `-` with nothing left in it.
fn is_empty_entry(lines: &[String], idx: usize) -> bool {
    let text = lines[idx].trim();
    let bare = text == "-" || (text.ends_with(':') && !key_of(&lines[idx]).is_empty());
    let own = indent(&lines[idx]).unwrap_or(0);
    bare && lines[idx + 1..]
        .iter()
        .filter_map(|l| indent(l).map(|i| (i, l)))
        .next()
        .is_none_or(|(i, l)| {
            // A list at its key's indentation is that key's content.
            let own_list = is_item(l) && !is_item(&lines[idx]);
            i < own || (i == own && !own_list)
        })
}

/// Blanks line `start` from `start_col` on, and the lines inside that entry.
fn blank_range(lines: &mut [String], start: usize, start_col: usize) -> bool {
    let starts_item = is_item(&lines[start]) && indent(&lines[start]) == Some(start_col);
    let mut end = start + 1;
    while end < lines.len() {
        match indent(&lines[end]) {
            None => {}
            Some(i) if i > start_col => {}
            // A list written at its key's indentation belongs to the key.
            Some(i) if i == start_col && !starts_item && is_item(&lines[end]) => {}
            Some(_) => break,
        }
        end += 1;
    }
    let mut changed = false;
    for (n, l) in lines.iter_mut().enumerate().take(end).skip(start) {
        let keep = if n == start { start_col } else { 0 };
        let cut: String = l.chars().take(keep).collect();
        let cut = cut.trim_end().to_string();
        if *l != cut {
            *l = cut;
            changed = true;
        }
    }
    changed
}

/// The list item under `jobs:` (or the top-level key) holding line `idx`:
/// its line and the column where it starts.
fn outermost_entry(lines: &[String], idx: usize) -> (usize, usize) {
    let chain = ancestors(lines, idx);
    // chain[0] is the top-level key; chain[1] a job when that key is `jobs:`.
    match (chain.first(), chain.get(1)) {
        (Some(&top), Some(&item)) if is_item(&lines[item]) && key_of(&lines[top]) == "jobs" => {
            (item, indent(&lines[item]).unwrap_or(0))
        }
        (Some(&top), _) => (top, 0),
        _ => (idx, indent(&lines[idx]).unwrap_or(0)),
    }
}

/// Lines that hold line `idx`, outermost first, ending with `idx` itself.
fn ancestors(lines: &[String], idx: usize) -> Vec<usize> {
    let mut chain = vec![idx];
    let mut level = indent(&lines[idx]).unwrap_or(0);
    let mut in_item = is_item(&lines[idx]);
    for n in (0..idx).rev() {
        let Some(i) = indent(&lines[n]) else { continue };
        let item = is_item(&lines[n]);
        let c = content_indent(&lines[n]).unwrap_or(i);
        // A list may sit at its key's indentation.
        let holds = i < level || (c < level && item) || (i == level && in_item && !item);
        if holds {
            chain.push(n);
            level = i;
            in_item = item;
        }
        if level == 0 && !in_item {
            break;
        }
    }
    chain.reverse();
    chain
}

/// The key a line (or list item) starts with, if any.
fn key_of(line: &str) -> &str {
    let start = content_indent(line).unwrap_or(0);
    let rest = &line[start..];
    match rest.find(':') {
        Some(i) if !rest[..i].contains([' ', '{', '[', '"', '\'']) => &rest[..i],
        _ => "",
    }
}

/// `jobs[shop].restore.cpus` for the place `line:col`.
fn path_at(lines: &[String], line: usize, col: usize, value_of_key: bool) -> String {
    let idx = line.saturating_sub(1);
    if idx >= lines.len() || indent(&lines[idx]).is_none() {
        return String::new();
    }
    let chain = ancestors(lines, idx);
    let mut path = String::new();
    for (k, &n) in chain.iter().enumerate() {
        let text = &lines[n];
        if is_item(text) {
            path.push_str(&item_label(lines, &chain[..k], n));
        }
        let key = key_of(text);
        let own = content_indent(text).unwrap_or(0);
        let key_here = match chain.get(k + 1) {
            // A list item's first key holds the next line only when it is deeper.
            Some(&next) => !is_item(text) || indent(&lines[next]).unwrap_or(0) > own,
            None => col > own + key.len() || (value_of_key && col > own),
        };
        if !key.is_empty() && key_here {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
        }
    }
    if let Some(inner) = flow_key(&lines[idx], col) {
        path.push('.');
        path.push_str(&inner);
    }
    path
}

/// `[shop]` for a job (by its name), `[2]` for another list's third item.
fn item_label(lines: &[String], parents: &[usize], n: usize) -> String {
    let under_jobs = parents.len() == 1 && key_of(&lines[parents[0]]) == "jobs";
    if under_jobs && let Some(name) = job_name(lines, n) {
        return format!("[{name}]");
    }
    let item_indent = indent(&lines[n]).unwrap_or(0);
    let parent = parents.last().copied().map_or(0, |p| p + 1);
    let index = (parent..n)
        .filter(|&m| indent(&lines[m]) == Some(item_indent) && is_item(&lines[m]))
        .count();
    format!("[{index}]")
}

/// The `name:` of the job item starting at line `n`.
fn job_name(lines: &[String], n: usize) -> Option<String> {
    let own = content_indent(&lines[n])?;
    let mut m = n;
    loop {
        let text = &lines[m];
        let found = text
            .find("name:")
            .filter(|&i| i == own || text[..i].ends_with(['{', ' ', ',']) && m == n);
        if let Some(i) = found {
            let value = text[i + 5..].split([',', '}', '#']).next()?.trim();
            let value = value.trim_matches(['"', '\'']);
            return (!value.is_empty()).then(|| value.to_string());
        }
        m += 1;
        if m >= lines.len() || indent(&lines[m]).is_some_and(|i| i < own) {
            return None;
        }
    }
}

/// The key inside a flow map (`{ table: t, min: x }`) that column `col` is in.
fn flow_key(text: &str, col: usize) -> Option<String> {
    let before: String = text.chars().take(col.saturating_sub(1)).collect();
    let brace = before.rfind('{')?;
    let inside = &before[brace + 1..];
    let entry = inside.rsplit(',').next()?;
    let (key, _) = entry.split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && !key.contains(' ')).then(|| key.to_string())
}
