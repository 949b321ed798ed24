//! What can be wrong with a task's data: a missing file, a row that does not
//! parse, a column that is not there. Every variant names the file (and the
//! line, where there is one) so the user can open it and look.

use std::path::PathBuf;

/// Errors of reading, splitting, tokenising and caching task data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("unknown task \"{name}\" (known tasks: {known})")]
    UnknownTask { name: String, known: String },

    #[error("missing data file {path}: {hint}")]
    MissingFile { path: PathBuf, hint: String },

    /// A row that cannot be read: wrong column count, bad JSON, bad number,
    /// unknown label. `line` is 1-based, as an editor shows it.
    #[error("{file}:{line}: {message}")]
    MalformedRow {
        file: String,
        line: usize,
        message: String,
    },

    #[error("{file}: no column \"{column}\" (columns: {available})")]
    MissingColumn {
        file: String,
        column: String,
        available: String,
    },

    #[error("{file}: {message}")]
    MalformedFile { file: String, message: String },

    #[error("invalid data option: {0}")]
    InvalidOption(String),

    #[error("tokenised-data cache: {0}")]
    Cache(String),
}

impl DataError {
    /// A row error at `file:line`.
    pub fn row(file: &str, line: usize, message: impl Into<String>) -> Self {
        DataError::MalformedRow {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }

    /// A missing column, listing the columns the file has.
    pub fn missing_column(file: &str, column: &str, available: &[String]) -> Self {
        DataError::MissingColumn {
            file: file.to_string(),
            column: column.to_string(),
            available: available.join(", "),
        }
    }
}
