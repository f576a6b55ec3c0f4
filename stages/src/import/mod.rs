//! Importers: stages that read a dataset as it is distributed and emit the
//! contract tables of docs/data.md that a user would otherwise write by
//! hand, checked by the same contract checks as `load_table` and
//! `load_labels` ([`validate`]). One module per format.
//!
//! Bad input, by one rule: what makes a file unreadable as its format (a
//! line with too few fields, a count that is not a number, a missing column
//! or table, an id that cannot be a track id) fails the node, naming the
//! file, the line (or row) and the field; a well-formed row that carries no
//! usable label (FMA's tracks without a top genre, MSD's year 0, a
//! Last.fm-1K play without a track MBID) is left out, counted by reason in
//! the metadata (`rejected`, `rejected_rows`) and reported as a warning
//! naming its first lines. The first is a wrong or damaged file, which a
//! user must see; the second is how the dataset is, which a user can only
//! accept. Each module says where its format falls.

mod file_tags;
mod fma;
mod folders;
mod lastfm_1k;
mod lastfm_tags;
mod msd_summary;
mod musixmatch;
mod tagtraum;
mod taste_profile;

#[cfg(test)]
mod test_files;

pub use file_tags::ImportFileTags;
pub use fma::ImportFma;
pub use folders::ImportFolders;
pub use lastfm_1k::ImportLastfm1k;
pub use lastfm_tags::ImportLastfmTags;
pub use msd_summary::ImportMsdSummary;
pub use musixmatch::ImportMusixmatch;
pub use tagtraum::ImportTagtraum;
pub use taste_profile::ImportTasteProfile;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{Field, Schema};

use crate::api::*;
use crate::contracts::{track_id_is_safe, validate, Contract};
use crate::table::{summarise_first, SUMMARISED};

/// The one output every importer declares.
const TABLE: &[OutputSpec] = &[OutputSpec {
    name: "table",
    kind: FileKind::Table,
    doc: "the contract table, checked as `load_table` / `load_labels` check one",
}];

/// An error at a place in a file: "tags.db, table `tid_tag`, row 7: ...".
fn at(file: &str, place: impl std::fmt::Display, message: impl std::fmt::Display) -> StageError {
    StageError::Data(format!("{file}, {place}: {message}"))
}

/// A file's lines, numbered from 1 (a byte-order mark dropped; `\n` or
/// `\r\n` ends them).
fn lines<'a>(
    file: &str,
    bytes: &'a [u8],
) -> Result<impl Iterator<Item = (usize, &'a str)>, StageError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        at(file, format_args!("line {line}"), "not UTF-8 text")
    })?;
    Ok(text.lines().enumerate().map(|(i, line)| (i + 1, line)))
}

/// `id` if it can be a track id, else an error at `place`.
fn track_id<'a>(
    file: &str,
    place: impl std::fmt::Display,
    id: &'a str,
) -> Result<&'a str, StageError> {
    track_id_is_safe(id).map_err(|why| at(file, place, format!("track id {id:?} {why}")))?;
    Ok(id)
}

/// How many rows were left out for one reason, and the first few places
/// (place, what the row holds).
type Rejected = (usize, Vec<(String, String)>);

/// Rows left out, by reason, with the first few places.
#[derive(Default)]
struct Rejections {
    by_reason: BTreeMap<&'static str, Rejected>,
}

impl Rejections {
    /// Leaves a row out; `place` says where it is and what it is about
    /// (`line 4`, `TRAAAAK128F9318786`), asked for the first few only.
    fn reject(&mut self, reason: &'static str, place: impl FnOnce() -> (String, String)) {
        let (count, first) = self.by_reason.entry(reason).or_default();
        *count += 1;
        if first.len() < SUMMARISED {
            first.push(place());
        }
    }

    fn total(&self) -> usize {
        self.by_reason.values().map(|(n, _)| n).sum()
    }

    /// The counts, and a warning per reason, in `outputs`' metadata.
    fn report(self, file: &str, outputs: Outputs) -> Outputs {
        let counts: serde_json::Map<String, serde_json::Value> = self
            .by_reason
            .iter()
            .map(|(reason, (n, _))| (reason.to_string(), (*n).into()))
            .collect();
        let warnings: Vec<String> = self
            .by_reason
            .iter()
            .map(|(reason, (n, first))| {
                let first: Vec<(&str, &str)> = first
                    .iter()
                    .map(|(p, d)| (p.as_str(), d.as_str()))
                    .collect();
                format!(
                    "{file}: {n} {reason}, left out: {}",
                    summarise_first(&first, *n)
                )
            })
            .collect();
        let outputs = outputs
            .meta("rejected_rows", self.total())
            .meta("rejected", counts);
        if warnings.is_empty() {
            outputs
        } else {
            outputs.meta("warnings", warnings)
        }
    }
}

/// The output of an importer: `columns` checked as `contract` (the node
/// fails on an empty table, which no stage downstream could use), the
/// rejections reported.
fn finish(
    contract: Contract,
    file: &str,
    columns: Vec<(&str, ArrayRef)>,
    rejections: Rejections,
) -> Result<Outputs, StageError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    let table = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    if table.num_rows() == 0 {
        let why = match rejections.total() {
            0 => String::new(),
            n => format!(": all {n} rows were left out"),
        };
        return Err(StageError::Data(format!("{file}: nothing to import{why}")));
    }
    let table = validate(contract, file, &table)?;
    let outputs = Outputs::default().meta("rows", table.num_rows());
    Ok(rejections.report(file, outputs.table("table", table)))
}

/// Rows of three columns, two of text and a count: label counts
/// (track_id, item, count) or interactions (user_id, track_id, count).
struct Triples {
    contract: Contract,
    first: StringBuilder,
    second: StringBuilder,
    count: Float64Builder,
}

impl Triples {
    fn new(contract: Contract) -> Triples {
        Triples {
            contract,
            first: StringBuilder::new(),
            second: StringBuilder::new(),
            count: Float64Builder::new(),
        }
    }

    /// (track_id, item, count) or (user_id, track_id, count), as the
    /// contract orders them.
    fn push(&mut self, first: &str, second: &str, count: f64) {
        self.first.append_value(first);
        self.second.append_value(second);
        self.count.append_value(count);
    }

    fn finish(mut self, file: &str, rejections: Rejections) -> Result<Outputs, StageError> {
        let names = match self.contract {
            Contract::Interactions => ["user_id", "track_id"],
            _ => ["track_id", "item"],
        };
        let columns: Vec<(&str, ArrayRef)> = vec![
            (names[0], Arc::new(self.first.finish())),
            (names[1], Arc::new(self.second.finish())),
            ("count", Arc::new(self.count.finish())),
        ];
        finish(self.contract, file, columns, rejections)
    }
}

/// Declares a `path` file parameter.
const fn path_param(doc: &'static str) -> ParamSpec {
    ParamSpec {
        name: "path",
        ty: ParamType::File,
        default: None,
        doc,
        in_key: true,
    }
}

/// The given file parameter's name and bytes.
fn source<'a>(ctx: &'a StageContext, param: &str) -> Result<(&'a str, &'a [u8]), StageError> {
    Ok((ctx.params.str(param)?, ctx.file(param)?))
}
