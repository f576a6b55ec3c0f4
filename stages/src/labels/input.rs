//! Reading the long-form label tables into matrices and vectors, with the
//! checks that keep bad labels from reaching the models.
//!
//! Defined behaviour for missing labels: a track listed only with null or
//! zero counts (or a null item), or a null value, has no label for that
//! source: it is left out and counted. Anything that is not a label
//! (negative, NaN or infinite counts and values; a null track id; a track
//! with two different values or artists) is an error naming the source, row
//! and track.

use std::collections::HashMap;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use super::csr::Csr;
use crate::api::StageError;

/// Where a table came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The stage's input slot.
    pub slot: &'a str,
    /// The learning source (tag, bpm, ...).
    pub source: &'a str,
}

impl Origin<'_> {
    pub fn error(&self, reason: impl std::fmt::Display) -> StageError {
        StageError::Input {
            slot: self.slot.into(),
            reason: format!("source {}: {reason}", self.source),
        }
    }
}

/// Count labels as a `tracks x items` matrix.
#[derive(Debug, Clone)]
pub struct CountLabels {
    /// Row names: the tracks with at least one positive count, sorted.
    pub tracks: Vec<String>,
    /// Column names: the items with at least one positive count, sorted.
    pub items: Vec<String>,
    pub counts: Csr,
    /// Tracks listed without any positive count.
    pub left_out: usize,
}

/// One scalar per track.
#[derive(Debug, Clone)]
pub struct ScalarLabels {
    /// The tracks with a value, sorted.
    pub tracks: Vec<String>,
    pub values: Vec<f64>,
    /// Tracks listed with a null value only.
    pub left_out: usize,
}

/// Which artist each track is by.
#[derive(Debug, Clone)]
pub struct ArtistMap {
    /// Tracks with an artist, sorted.
    pub tracks: Vec<String>,
    /// Per track, an index into `artists`.
    pub artist_of: Vec<u32>,
    /// Sorted.
    pub artists: Vec<String>,
    /// Tracks listed with a null artist only.
    pub left_out: usize,
}

/// Reads (track_id, item, count). Duplicate (track, item) rows are summed.
pub fn read_counts(batch: &RecordBatch, origin: Origin) -> Result<CountLabels, StageError> {
    let track_col = text_column(batch, "track_id", origin)?;
    let item_col = text_column(batch, "item", origin)?;
    let count_col = number_column(batch, "count", origin)?;
    let mut tracks = Interner::default();
    let mut items = Interner::default();
    let mut labelled: Vec<bool> = Vec::new();
    let mut triplets: Vec<(u32, u32, f64)> = Vec::new();
    for row in 0..batch.num_rows() {
        let track = track_id(&track_col, row, origin)?;
        let t = tracks.id(track);
        if t as usize == labelled.len() {
            labelled.push(false);
        }
        if item_col.is_null(row) || count_col.is_null(row) {
            continue;
        }
        let (item, count) = (item_col.value(row), count_col.value(row));
        if !count.is_finite() || count < 0.0 {
            return Err(origin.error(format!(
                "row {row} (track {track}, item {item}): count {count} is not a finite non-negative number"
            )));
        }
        if count > 0.0 {
            labelled[t as usize] = true;
            triplets.push((t, items.id(item), count));
        }
    }
    let (track_names, track_map) = tracks.sorted_subset(&labelled);
    let used_items = vec![true; items.names.len()];
    let (item_names, item_map) = items.sorted_subset(&used_items);
    if track_names.is_empty() {
        return Err(origin.error(format!(
            "no track has a positive count ({} rows, {} tracks listed)",
            batch.num_rows(),
            labelled.len()
        )));
    }
    for (t, i, _) in triplets.iter_mut() {
        *t = track_map[*t as usize];
        *i = item_map[*i as usize];
    }
    let counts = Csr::from_triplets(track_names.len(), item_names.len(), &triplets);
    Ok(CountLabels {
        left_out: labelled.len() - track_names.len(),
        tracks: track_names,
        items: item_names,
        counts,
    })
}

/// Reads (track_id, value). A track listed twice must carry one value.
pub fn read_scalars(batch: &RecordBatch, origin: Origin) -> Result<ScalarLabels, StageError> {
    let track_col = text_column(batch, "track_id", origin)?;
    let value_col = number_column(batch, "value", origin)?;
    // Per track: (value, the row it came from) once one is seen.
    let mut seen: HashMap<&str, Option<(f64, usize)>> = HashMap::new();
    for row in 0..batch.num_rows() {
        let track = track_id(&track_col, row, origin)?;
        let entry = seen.entry(track).or_insert(None);
        if value_col.is_null(row) {
            continue;
        }
        let value = value_col.value(row);
        if !value.is_finite() {
            return Err(origin.error(format!("row {row} (track {track}): value is {value}")));
        }
        match entry {
            Some((first, at)) if *first != value => {
                return Err(origin.error(format!(
                    "track {track} has two values: {first} (row {at}) and {value} (row {row})"
                )))
            }
            Some(_) => {}
            None => *entry = Some((value, row)),
        }
    }
    let mut labelled: Vec<(&str, f64)> = seen
        .iter()
        .filter_map(|(t, v)| v.map(|(v, _)| (*t, v)))
        .collect();
    if labelled.is_empty() {
        return Err(origin.error(format!(
            "no track has a value ({} rows, {} tracks listed)",
            batch.num_rows(),
            seen.len()
        )));
    }
    labelled.sort_unstable_by(|a, b| a.0.cmp(b.0));
    Ok(ScalarLabels {
        left_out: seen.len() - labelled.len(),
        tracks: labelled.iter().map(|(t, _)| t.to_string()).collect(),
        values: labelled.iter().map(|(_, v)| *v).collect(),
    })
}

/// Reads (track_id, artist_id). A track listed twice must name one artist.
pub fn read_artist_map(batch: &RecordBatch, origin: Origin) -> Result<ArtistMap, StageError> {
    let track_col = text_column(batch, "track_id", origin)?;
    let artist_col = text_column(batch, "artist_id", origin)?;
    let mut seen: HashMap<&str, Option<(&str, usize)>> = HashMap::new();
    for row in 0..batch.num_rows() {
        let track = track_id(&track_col, row, origin)?;
        let entry = seen.entry(track).or_insert(None);
        if artist_col.is_null(row) {
            continue;
        }
        let artist = artist_col.value(row);
        match entry {
            Some((first, at)) if *first != artist => {
                return Err(origin.error(format!(
                    "track {track} has two artists: {first} (row {at}) and {artist} (row {row})"
                )))
            }
            Some(_) => {}
            None => *entry = Some((artist, row)),
        }
    }
    let mut pairs: Vec<(&str, &str)> = seen
        .iter()
        .filter_map(|(t, a)| a.map(|(a, _)| (*t, a)))
        .collect();
    if pairs.is_empty() {
        return Err(origin.error(format!(
            "no track has an artist ({} rows)",
            batch.num_rows()
        )));
    }
    pairs.sort_unstable();
    let mut artists: Vec<&str> = pairs.iter().map(|(_, a)| *a).collect();
    artists.sort_unstable();
    artists.dedup();
    let index: HashMap<&str, u32> = artists
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i as u32))
        .collect();
    Ok(ArtistMap {
        left_out: seen.len() - pairs.len(),
        tracks: pairs.iter().map(|(t, _)| t.to_string()).collect(),
        artist_of: pairs.iter().map(|(_, a)| index[a]).collect(),
        artists: artists.iter().map(|a| a.to_string()).collect(),
    })
}

fn track_id<'a>(col: &'a StringArray, row: usize, origin: Origin) -> Result<&'a str, StageError> {
    if col.is_null(row) {
        Err(origin.error(format!("row {row}: track_id is null")))
    } else {
        Ok(col.value(row))
    }
}

fn column<'a>(
    batch: &'a RecordBatch,
    name: &str,
    origin: Origin,
) -> Result<&'a arrow::array::ArrayRef, StageError> {
    let index = batch.schema().index_of(name).map_err(|_| {
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        origin.error(format!(
            "no column `{name}` (columns: {})",
            names.join(", ")
        ))
    })?;
    Ok(batch.column(index))
}

/// A text column (ids may arrive as strings or integers).
fn text_column(batch: &RecordBatch, name: &str, origin: Origin) -> Result<StringArray, StageError> {
    let col = column(batch, name, origin)?;
    let ok = matches!(
        col.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || col.data_type().is_integer();
    if !ok {
        return Err(origin.error(format!(
            "column `{name}` must be text or integer, found {}",
            col.data_type()
        )));
    }
    let text = cast(col, &DataType::Utf8)?;
    text.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| origin.error(format!("column `{name}` did not convert to text")))
}

/// A numeric column as f64 (strings are refused rather than parsed, so a
/// typo cannot turn into a silent null).
fn number_column(
    batch: &RecordBatch,
    name: &str,
    origin: Origin,
) -> Result<Float64Array, StageError> {
    let col = column(batch, name, origin)?;
    if !col.data_type().is_numeric() {
        return Err(origin.error(format!(
            "column `{name}` must be numeric, found {}",
            col.data_type()
        )));
    }
    let numbers = cast(col, &DataType::Float64)?;
    numbers
        .as_any()
        .downcast_ref::<Float64Array>()
        .cloned()
        .ok_or_else(|| origin.error(format!("column `{name}` did not convert to numbers")))
}

/// Dense ids for strings in order of first appearance.
#[derive(Default)]
struct Interner<'a> {
    ids: HashMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, name: &'a str) -> u32 {
        let next = self.names.len() as u32;
        *self.ids.entry(name).or_insert_with(|| {
            self.names.push(name);
            next
        })
    }

    /// The names where `keep[id]`, sorted, and a map from old id to new
    /// position (u32::MAX for dropped ids).
    fn sorted_subset(&self, keep: &[bool]) -> (Vec<String>, Vec<u32>) {
        let mut kept: Vec<u32> = (0..self.names.len() as u32)
            .filter(|&i| keep[i as usize])
            .collect();
        kept.sort_unstable_by_key(|&i| self.names[i as usize]);
        let mut map = vec![u32::MAX; self.names.len()];
        for (new, &old) in kept.iter().enumerate() {
            map[old as usize] = new as u32;
        }
        let names = kept
            .iter()
            .map(|&i| self.names[i as usize].to_string())
            .collect();
        (names, map)
    }
}
