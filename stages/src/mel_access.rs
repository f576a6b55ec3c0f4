//! Reading what the front end produced, for the stages downstream of it
//! (scaler, train, extract, embed): which tracks a `mel` node analysed, one
//! track's mel, and a fitted scaler.

use std::collections::HashSet;

use arrow::array::{Array, Float64Array, RecordBatch};

use crate::api::{StageError, Upstream};
use crate::audio::{MelDb, Scaler, N_MELS};
use crate::frontend::mel_table;
use crate::table::track_ids;

/// The tracks a `mel` node has a mel for (its `index`).
pub fn mel_tracks(mel: &Upstream, slot: &str) -> Result<HashSet<String>, StageError> {
    let index = mel.files.table("index").map_err(|e| StageError::Input {
        slot: slot.into(),
        reason: format!("node {} (expected a mel node): {e}", mel.node),
    })?;
    Ok(track_ids(&index, slot)?.into_iter().collect())
}

/// The dB mel of one track of a `mel` node: `[2, frames, 128]`.
pub fn read_mel(mel: &Upstream, slot: &str, id: &str) -> Result<MelDb, StageError> {
    let name = format!("mel/{id}");
    let table = mel.files.table(&name).map_err(|e| StageError::Input {
        slot: slot.into(),
        reason: format!("node {}: {e}", mel.node),
    })?;
    mel_table::from_table(&table).map_err(|e| StageError::Data(format!("{name}: {e}")))
}

/// The per-band scaler of a `scaler` node (its `scaler` table).
pub fn read_scaler(scaler: &Upstream, slot: &str) -> Result<Scaler, StageError> {
    let bad = |reason: String| StageError::Input {
        slot: slot.into(),
        reason: format!("node {} (expected a scaler node): {reason}", scaler.node),
    };
    let table = scaler.files.table("scaler").map_err(bad)?;
    let column = |name: &str| -> Result<Vec<f64>, StageError> {
        float_column(&table, name).ok_or_else(|| bad(format!("no Float64 column `{name}`")))
    };
    let (mean, std) = (column("mean")?, column("std")?);
    if mean.len() != N_MELS || std.len() != N_MELS {
        return Err(bad(format!("{} rows, expected {N_MELS}", mean.len())));
    }
    let mut scaler = Scaler {
        mean: [0.0; N_MELS],
        std: [0.0; N_MELS],
    };
    scaler.mean.copy_from_slice(&mean);
    scaler.std.copy_from_slice(&std);
    Ok(scaler)
}

fn float_column(table: &RecordBatch, name: &str) -> Option<Vec<f64>> {
    let column = table.column_by_name(name)?;
    let values = column.as_any().downcast_ref::<Float64Array>()?;
    (values.null_count() == 0).then(|| values.values().to_vec())
}
