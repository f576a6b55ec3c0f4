//! How a track's dB mel spectrogram is stored: one Parquet table per track
//! (`mel/<track_id>` of a `mel` node).
//!
//! | column    | type                          | meaning                     |
//! |-----------|-------------------------------|-----------------------------|
//! | `channel` | UInt8                         | 0 = left, 1 = right         |
//! | `frame`   | UInt32                        | 0..T (hop 256 at 22,050 Hz) |
//! | `mel`     | FixedSizeList<Float32, 128>   | dB in the 128 mel bands, low to high |
//!
//! One row per (channel, frame), `2 T` rows, ordered by channel then frame.
//! So the flattened `mel` values are exactly the `[2, T, 128]` row-major
//! array of [`crate::audio`] (band fastest): the Rust reader takes the
//! values buffer as is, and so does any other reader:
//!
//! ```python
//! import pyarrow.parquet as pq, numpy as np
//! t = pq.read_table(path)
//! mel = t["mel"].combine_chunks().flatten().to_numpy().reshape(2, -1, 128)
//! # polars: pl.read_parquet(path)["mel"].to_numpy() -> (2T, 128)
//! # pandas: np.stack(pd.read_parquet(path)["mel"]).reshape(2, -1, 128)
//! ```
//!
//! Why this layout rather than 128 float columns or one row per frame with
//! two lists: the bands of a frame stay one value (a fixed-size vector, the
//! natural unit of a spectrogram), the channel and frame are explicit columns
//! so a reader can filter or join without knowing the order, and the values
//! need no transposition on the way to the network. The schema's metadata
//! repeats the essentials (`layout`, `unit`, `sample_rate`, `hop`, `n_fft`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, FixedSizeListArray, Float32Array, RecordBatch, UInt32Array, UInt8Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;

use crate::audio::{MelDb, CHANNELS, HOP, N_FFT, N_MELS, SAMPLE_RATE};

fn schema() -> Schema {
    let metadata = HashMap::from([
        (
            "layout".to_string(),
            "one row per (channel, frame), ordered by channel then frame; mel = 128 bands, low to high".to_string(),
        ),
        ("unit".to_string(), "dB (power_to_db, ref 1.0, top_db 80)".to_string()),
        ("sample_rate".to_string(), SAMPLE_RATE.to_string()),
        ("hop".to_string(), HOP.to_string()),
        ("n_fft".to_string(), N_FFT.to_string()),
    ]);
    Schema::new(vec![
        Field::new("channel", DataType::UInt8, false),
        Field::new("frame", DataType::UInt32, false),
        Field::new(
            "mel",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, false)),
                N_MELS as i32,
            ),
            false,
        ),
    ])
    .with_metadata(metadata)
}

/// A mel `[2, T, 128]` as a table; its values become the table's, not
/// copied (a 1-hour track's mel is 318 MB).
pub fn to_table(mel: MelDb) -> Result<RecordBatch, ArrowError> {
    assert_eq!(mel.bands, N_MELS, "mels have {N_MELS} bands");
    let rows = mel.channels * mel.frames;
    let channel = UInt8Array::from_iter_values((0..rows).map(|r| (r / mel.frames.max(1)) as u8));
    let frame = UInt32Array::from_iter_values((0..rows).map(|r| (r % mel.frames.max(1)) as u32));
    let values = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, false)),
        N_MELS as i32,
        Arc::new(Float32Array::from(mel.data)),
        None,
    )?;
    RecordBatch::try_new(
        Arc::new(schema()),
        vec![Arc::new(channel), Arc::new(frame), Arc::new(values)],
    )
}

/// A stored mel table back to `[2, T, 128]`, checking the layout.
pub fn from_table(table: &RecordBatch) -> Result<MelDb, String> {
    let column = |name: &str| {
        table
            .column_by_name(name)
            .ok_or_else(|| format!("not a mel table: no column `{name}`"))
    };
    let channel = column("channel")?
        .as_any()
        .downcast_ref::<UInt8Array>()
        .ok_or("not a mel table: `channel` is not UInt8")?;
    let frame = column("frame")?
        .as_any()
        .downcast_ref::<UInt32Array>()
        .ok_or("not a mel table: `frame` is not UInt32")?;
    let mel = column("mel")?
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .filter(|m| m.value_length() == N_MELS as i32)
        .ok_or("not a mel table: `mel` is not a list of 128 values")?;
    let values = mel
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or("not a mel table: `mel` values are not Float32")?;
    let rows = table.num_rows();
    let frames = rows / CHANNELS;
    if frames * CHANNELS != rows || values.len() != rows * N_MELS || values.null_count() > 0 {
        return Err(format!(
            "not a mel table: {rows} rows and {} values",
            values.len()
        ));
    }
    for r in 0..rows {
        if usize::from(channel.value(r)) != r / frames || frame.value(r) as usize != r % frames {
            return Err(format!(
                "mel table rows out of order at row {r}: channel {}, frame {}",
                channel.value(r),
                frame.value(r)
            ));
        }
    }
    Ok(MelDb {
        channels: CHANNELS,
        frames,
        bands: N_MELS,
        data: values.values().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_parquet_layout() {
        let frames = 5;
        let data: Vec<f32> = (0..CHANNELS * frames * N_MELS).map(|i| i as f32).collect();
        let mel = MelDb {
            channels: CHANNELS,
            frames,
            bands: N_MELS,
            data,
        };
        let table = to_table(mel.clone()).unwrap();
        assert_eq!(table.num_rows(), 2 * frames);
        let channel = table
            .column(0)
            .as_any()
            .downcast_ref::<UInt8Array>()
            .unwrap();
        let frame = table
            .column(1)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap();
        assert_eq!((channel.value(6), frame.value(6)), (1, 1));
        assert_eq!(from_table(&table).unwrap(), mel);
        // (c, t, b) sits at row c * T + t, position b.
        let list = table
            .column(2)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        let row = list.value(frames + 2);
        let row = row.as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(row.value(7), mel.at(1, 2, 7));
        assert!(from_table(&table.slice(1, 4)).is_err());
    }
}
