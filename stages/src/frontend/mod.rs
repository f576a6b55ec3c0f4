//! The audio front end as pipeline stages (SPEC 2-3): `fetch` brings each
//! track's bytes into the store, `mel` turns them into dB mel spectrograms
//! and the MFCC baseline, `scaler` fits the per-band standardisation on the
//! training tracks. The numerics live in [`crate::audio`]; this module wires
//! them to the engine: per-track outputs emitted as they are ready, per-track
//! failures listed in tables (never a silently smaller result), resumption of
//! an interrupted node, progress.
//!
//! ```yaml
//! - name: tracks
//!   stage: load_table
//!   params: {path: tracks.csv}
//! - name: audio
//!   stage: fetch
//!   params: {jobs: 16}
//!   inputs: {tracks: tracks}
//! - name: mels
//!   stage: mel
//!   inputs: {audio: audio}
//! - name: scaler
//!   stage: scaler
//!   inputs: {mel: mels, tracks: tracks}
//! ```

mod access;
mod fetch;
mod journal;
mod mel_stage;
pub mod mel_table;
pub mod retry;
mod scaler_stage;
pub mod source;

#[cfg(test)]
mod test_sink;

pub use access::{mel_tracks, read_mel, read_scaler};
pub use fetch::Fetch;
pub use mel_stage::MelSpectrograms;
pub use scaler_stage::FitScaler;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

use crate::api::StageError;

/// A text column of an input table, as Utf8.
pub(crate) fn text_column(table: &RecordBatch, name: &str, slot: &str) -> Result<StringArray, StageError> {
    optional_text_column(table, name, slot)?.ok_or_else(|| {
        let schema = table.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        StageError::Input {
            slot: slot.into(),
            reason: format!("has no column `{name}` (columns: {})", names.join(", ")),
        }
    })
}

/// A text column if the table has it.
fn optional_text_column(
    table: &RecordBatch,
    name: &str,
    slot: &str,
) -> Result<Option<StringArray>, StageError> {
    let Some(column) = table.column_by_name(name) else {
        return Ok(None);
    };
    let as_text = cast(column, &DataType::Utf8).map_err(|e| StageError::Input {
        slot: slot.into(),
        reason: format!("column `{name}` is not text: {e}"),
    })?;
    Ok(Some(
        as_text
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8 yields StringArray")
            .clone(),
    ))
}

/// The track ids of an input table, in order; nulls are an error.
pub fn track_ids(table: &RecordBatch, slot: &str) -> Result<Vec<String>, StageError> {
    let ids = text_column(table, "track_id", slot)?;
    (0..ids.len())
        .map(|i| {
            if ids.is_null(i) {
                Err(StageError::Input {
                    slot: slot.into(),
                    reason: format!("row {}: empty track_id", i + 1),
                })
            } else {
                Ok(ids.value(i).to_string())
            }
        })
        .collect()
}

/// The `failures` table (track_id, error) of a per-track analysis of
/// `tracks` tracks, and the warning naming them when there are any.
pub fn failures_table(
    failed: &[(&str, String)],
    tracks: usize,
) -> Result<(RecordBatch, Option<String>), StageError> {
    let table = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("error", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(
                failed.iter().map(|(id, _)| *id),
            )),
            Arc::new(StringArray::from_iter_values(
                failed.iter().map(|(_, e)| e.as_str()),
            )),
        ],
    )?;
    let warning = (!failed.is_empty()).then(|| {
        let listed: Vec<(&str, &str)> = failed.iter().map(|(id, e)| (*id, e.as_str())).collect();
        format!(
            "{} of {tracks} tracks could not be analysed and are listed in `failures`: {}",
            failed.len(),
            summarise(&listed)
        )
    });
    Ok((table, warning))
}

/// How many items [`summarise`] names.
pub const SUMMARISED: usize = 5;

/// "t1 (why), t2 (why), ... and 7 more" for warnings and errors.
pub fn summarise(items: &[(&str, &str)]) -> String {
    summarise_first(items, items.len())
}

/// As [`summarise`], of `total` items of which `first` are the first.
pub fn summarise_first(first: &[(&str, &str)], total: usize) -> String {
    let shown = first.len().min(SUMMARISED);
    let mut text = first[..shown]
        .iter()
        .map(|(id, why)| format!("{id} ({why})"))
        .collect::<Vec<_>>()
        .join(", ");
    if total > shown {
        text.push_str(&format!(" and {} more", total - shown));
    }
    text
}
