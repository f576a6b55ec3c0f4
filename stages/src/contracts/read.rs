//! CSV or Parquet bytes -> one Arrow table. CSV columns are read as text so
//! that type errors are reported by the contract check, with their row.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::csv::reader::{Format, ReaderBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::ContractError;

/// Reads a table; Parquet is recognised by its magic bytes, anything else
/// is CSV with a header row.
pub fn read_table(file: &str, bytes: &[u8]) -> Result<RecordBatch, ContractError> {
    if bytes.is_empty() {
        return Err(ContractError::file(file, "the file is empty"));
    }
    let table = if bytes.starts_with(b"PAR1") {
        read_parquet(file, bytes)?
    } else {
        read_csv(file, bytes)?
    };
    if table.num_rows() == 0 {
        return Err(ContractError::file(file, "the table has no rows"));
    }
    Ok(table)
}

fn read_parquet(file: &str, bytes: &[u8]) -> Result<RecordBatch, ContractError> {
    let unreadable =
        |e: &dyn std::fmt::Display| ContractError::file(file, format!("unreadable Parquet: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|e| unreadable(&e))?
        .build()
        .map_err(|e| unreadable(&e))?;
    let schema = arrow::array::RecordBatchReader::schema(&reader);
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    concat_batches(&schema, &batches).map_err(|e| unreadable(&e))
}

fn read_csv(file: &str, bytes: &[u8]) -> Result<RecordBatch, ContractError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ContractError::file(file, format!("not UTF-8 text (and not Parquet): {e}")))?;
    let header = text.lines().next().unwrap_or_default();
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(ContractError::file(
            file,
            format!("bad header line `{header}`"),
        ));
    }
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(Format::default().with_header(true))
        .build(Cursor::new(bytes))
        .map_err(|e| ContractError::file(file, format!("unreadable CSV: {e}")))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ContractError::file(file, format!("unreadable CSV: {e}")))?;
    concat_batches(&schema, &batches).map_err(|e| ContractError::file(file, e.to_string()))
}
