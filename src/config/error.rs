//! Configuration errors, located by file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

/// An invalid configuration, a bad flag value, or an invalid filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file the problem is in (`None` for flags and built-in defaults).
    pub file: Option<PathBuf>,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.position) {
            (Some(file), Some((line, col))) => write!(f, "{}:{line}:{col}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, _) => {}
        }
        f.write_str(&self.message)
    }
}

impl ConfigError {
    /// An error about a flag or a built-in setting.
    pub fn flag(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            position: None,
            message: message.into(),
        }
    }

    /// An error in `file` at byte `offset` of its text `source`.
    pub fn at(file: &Path, source: &str, offset: usize, message: impl Into<String>) -> Self {
        ConfigError {
            file: Some(file.to_owned()),
            position: Some(line_col(source, offset)),
            message: message.into(),
        }
    }

    /// An error in `file` with no position.
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: Some(file.to_owned()),
            position: None,
            message: message.into(),
        }
    }
}

/// 1-based (line, column) of byte `offset` in `source`, counting columns in characters.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 3), (2, 1));
    }
}
