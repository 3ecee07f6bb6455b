//! Configuration problems, each tied to its place in the file.
//!
//! `validate` and `load` collect every problem they find and return them
//! together, so a user fixes a config in one pass rather than one error a run.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a config file, printed as `FILE:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place (e.g. the file is unreadable).
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// Every problem found in one config file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Collects problems while a config is checked.
pub(crate) struct Problems<'a> {
    file: &'a Path,
    pub(crate) list: Vec<ConfigError>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(file: &'a Path) -> Self {
        Self {
            file,
            list: Vec::new(),
        }
    }

    pub(crate) fn at(&mut self, loc: serde_saphyr::Location, message: impl Into<String>) {
        self.list.push(ConfigError {
            file: self.file.to_path_buf(),
            line: loc.line(),
            column: loc.column(),
            message: message.into(),
        });
    }

    /// A YAML or type error from the parser, told at its place once.
    pub(crate) fn parse_problem(&mut self, (line, column): (u64, u64), message: String) {
        let e = ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
        };
        if !self.list.contains(&e) {
            self.list.push(e);
        }
    }

    pub(crate) fn into_result(mut self) -> Result<(), ConfigErrors> {
        if self.list.is_empty() {
            Ok(())
        } else {
            self.list.sort_by_key(|e| (e.line, e.column));
            Err(ConfigErrors(self.list))
        }
    }
}

/// The parser's message without its rendered snippet or trailing position,
/// since `ConfigError` prints the position itself.
pub(super) fn bare_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let trimmed = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    trimmed.trim_end_matches(['.', ',']).to_string()
}
