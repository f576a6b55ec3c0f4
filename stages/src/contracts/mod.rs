//! The input contracts: what a user brings (track manifests, label tables,
//! target datasets, interactions, a study's runs and scores made
//! elsewhere), read from CSV or Parquet and checked with errors that name
//! the file, row and column. See docs/data.md.

mod check;
mod read;
mod stage;
mod study;

pub(crate) use check::{shown, track_id_is_safe, unique_track_ids};
pub use check::{split_known, validate, Contract};
pub use read::{read_csv, read_table, CsvTypes};
pub use stage::{LoadLabels, LoadTable};
pub use study::{study_table, LOADED};

use std::fmt;

/// A contract violation, located as precisely as possible.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractError {
    pub file: String,
    /// 1-based data row (the header is not a row; in a CSV, line = row + 1).
    pub row: Option<usize>,
    pub column: Option<String>,
    pub message: String,
}

impl ContractError {
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ContractError {
            file: file.to_string(),
            row: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(file: &str, row: Option<usize>, column: &str, message: impl Into<String>) -> Self {
        ContractError {
            file: file.to_string(),
            row,
            column: Some(column.to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ContractError {}

impl From<ContractError> for crate::StageError {
    fn from(e: ContractError) -> Self {
        crate::StageError::Data(e.to_string())
    }
}
