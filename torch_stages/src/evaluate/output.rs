//! The two tables both evaluation stages write.
//!
//! * `scores`: representation Utf8, dataset Utf8, task Utf8, repeat Int64
//!   (0-based), metric Utf8 ("accuracy", "r2" or "ndcg@k"), value Float64,
//!   n_train Int64, n_test Int64 (tracks, or items for recommendation);
//!   one row per repeat.
//! * `splits`: repeat Int64, track_id Utf8, part Utf8 ("train" | "test"):
//!   every split used, so that results can be audited and reproduced.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;

use super::splits::Part;

/// One row of `scores`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub repeat: usize,
    pub metric: String,
    pub value: f64,
    pub n_train: usize,
    pub n_test: usize,
}

pub fn scores_table(
    representation: &str,
    dataset: &str,
    task: &str,
    rows: &[ScoreRow],
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let constant = |v: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n)))
    };
    let int = |f: fn(&ScoreRow) -> usize| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| f(r) as i64),
        ))
    };
    let schema = Schema::new(vec![
        Field::new("representation", DataType::Utf8, false),
        Field::new("dataset", DataType::Utf8, false),
        Field::new("task", DataType::Utf8, false),
        Field::new("repeat", DataType::Int64, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("n_train", DataType::Int64, false),
        Field::new("n_test", DataType::Int64, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            constant(representation),
            constant(dataset),
            constant(task),
            int(|r| r.repeat),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.metric.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.value))),
            int(|r| r.n_train),
            int(|r| r.n_test),
        ],
    )
}

/// `parts[repeat][track]` for the tracks `ids`.
pub fn splits_table(ids: &[String], parts: &[Vec<Part>]) -> Result<RecordBatch, ArrowError> {
    let mut repeat = Vec::new();
    let mut track = Vec::new();
    let mut part = Vec::new();
    for (r, split) in parts.iter().enumerate() {
        for (id, p) in ids.iter().zip(split) {
            repeat.push(r as i64);
            track.push(id.as_str());
            part.push(p.name());
        }
    }
    let schema = Schema::new(vec![
        Field::new("repeat", DataType::Int64, false),
        Field::new("track_id", DataType::Utf8, false),
        Field::new("part", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(repeat)),
            Arc::new(StringArray::from(track)),
            Arc::new(StringArray::from(part)),
        ],
    )
}
