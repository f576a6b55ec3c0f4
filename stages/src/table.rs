//! Reading and writing the tables stages pass each other: a text column
//! by name (any type cast to text, its absence named with the columns
//! there are), the track ids of a table, the `failures` table, and the
//! "a (why), b (why) and 7 more" summaries of warnings and errors.

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

use crate::api::StageError;

/// A text column of an input table, as Utf8.
pub fn text_column(table: &RecordBatch, name: &str, slot: &str) -> Result<StringArray, StageError> {
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
pub fn optional_text_column(
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
    let items = first.iter().map(|(id, why)| format!("{id} ({why})"));
    first_and_count(items, total, SUMMARISED)
}

/// "a, b, c and 7 more": at most `shown` of `items`, comma-joined, then
/// how many of the `total` were not shown.
pub fn first_and_count<T: std::fmt::Display>(
    items: impl IntoIterator<Item = T>,
    total: usize,
    shown: usize,
) -> String {
    let named: Vec<String> = items
        .into_iter()
        .take(shown)
        .map(|i| i.to_string())
        .collect();
    let mut text = named.join(", ");
    if total > named.len() {
        text.push_str(&format!(" and {} more", total - named.len()));
    }
    text
}
