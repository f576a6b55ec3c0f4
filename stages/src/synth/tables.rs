//! Arrow record batches for the label tables and target manifests, and a
//! content digest that is independent of how Arrow lays out buffers.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::SynthError;

/// One column's values.
pub enum Column {
    /// Utf8, non-null.
    Text(Vec<String>),
    /// Utf8, nullable.
    OptText(Vec<Option<String>>),
    /// Int64, non-null.
    Int(Vec<i64>),
    /// Float64, non-null.
    Float(Vec<f64>),
}

impl Column {
    fn into_array(self) -> (DataType, bool, ArrayRef) {
        match self {
            Column::Text(v) => (DataType::Utf8, false, Arc::new(StringArray::from(v))),
            Column::OptText(v) => (DataType::Utf8, true, Arc::new(StringArray::from(v))),
            Column::Int(v) => (DataType::Int64, false, Arc::new(Int64Array::from(v))),
            Column::Float(v) => (DataType::Float64, false, Arc::new(Float64Array::from(v))),
        }
    }
}

/// A record batch from named columns of equal length.
pub fn batch(columns: Vec<(&str, Column)>) -> Result<RecordBatch, SynthError> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for (name, column) in columns {
        let (ty, nullable, array) = column.into_array();
        fields.push(Field::new(name, ty, nullable));
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// blake3 over a batch's schema and values, row-major per column: equal
/// contents give equal digests whatever the buffer layout.
pub fn content_digest(batch: &RecordBatch) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        hasher.update(field.name().as_bytes());
        hasher.update(format!("|{}|{}|", field.data_type(), column.len()).as_bytes());
        let any = column.as_any();
        for row in 0..column.len() {
            if column.is_null(row) {
                hasher.update(&[0]);
                continue;
            }
            hasher.update(&[1]);
            if let Some(a) = any.downcast_ref::<StringArray>() {
                let v = a.value(row);
                hasher.update(&(v.len() as u64).to_le_bytes());
                hasher.update(v.as_bytes());
            } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                hasher.update(&a.value(row).to_le_bytes());
            } else if let Some(a) = any.downcast_ref::<Float64Array>() {
                hasher.update(&a.value(row).to_bits().to_le_bytes());
            } else {
                // Not a type this module writes: hash the display form.
                hasher.update(format!("{:?}", column.slice(row, 1)).as_bytes());
            }
        }
    }
    hasher.finalize()
}
