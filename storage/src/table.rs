//! Arrow tables <-> Parquet bytes, written deterministically so that the
//! same table always gets the same blob address.

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::{Result, StoreError};

fn table_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Table {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

/// Encodes a table as Parquet (zstd), readable by pandas, polars or DuckDB.
pub fn to_parquet(what: &str, batch: &RecordBatch) -> Result<Bytes> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| table_err(what, e))?,
        ))
        .build();
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, batch.schema(), Some(props))
        .map_err(|e| table_err(what, e))?;
    writer.write(batch).map_err(|e| table_err(what, e))?;
    writer.close().map_err(|e| table_err(what, e))?;
    Ok(Bytes::from(buffer))
}

/// Decodes Parquet bytes into one table.
pub fn from_parquet(what: &str, bytes: Bytes) -> Result<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| table_err(what, e))?
        .build()
        .map_err(|e| table_err(what, e))?;
    let schema: SchemaRef = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| table_err(what, e))?;
    arrow::compute::concat_batches(&schema, &batches).map_err(|e| table_err(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn round_trip_is_exact_and_deterministic() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("x", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(Float64Array::from(vec![1.5, -2.0])),
            ],
        )
        .unwrap();
        let a = to_parquet("t", &batch).unwrap();
        let b = to_parquet("t", &batch).unwrap();
        assert_eq!(a, b);
        assert_eq!(from_parquet("t", a).unwrap(), batch);
        assert!(from_parquet("t", Bytes::from_static(b"not parquet")).is_err());
    }
}
