//! CSV or Parquet bytes -> one Arrow table: the one table reader of the
//! stages that read a user's file (`load_table`, `load_labels`, `read_csv`).
//! For a contract, CSV columns are read as text so that type errors are
//! reported by the contract check, with their row.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::csv::reader::{Format, ReaderBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
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
        std::str::from_utf8(bytes).map_err(|e| {
            ContractError::file(file, format!("not UTF-8 text (and not Parquet): {e}"))
        })?;
        read_csv(file, bytes, b',', CsvTypes::Text)?
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

/// How [`read_csv`] chooses column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvTypes {
    /// Every column text, so that a contract check reports a bad value with
    /// its row.
    Text,
    /// Inferred from the values (the generic `read_csv` stage).
    Inferred,
}

/// The one CSV reader of the crate: a header row, then records. A UTF-8
/// byte-order mark (which spreadsheets write, and which would otherwise
/// hide inside the first column's name) is dropped; header names may be
/// quoted, and spaces around them are trimmed.
pub fn read_csv(
    file: &str,
    bytes: &[u8],
    delimiter: u8,
    types: CsvTypes,
) -> Result<RecordBatch, ContractError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() {
        return Err(ContractError::file(file, "the file is empty"));
    }
    let unreadable = |e: ArrowError| ContractError::file(file, format!("unreadable CSV: {e}"));
    let format = Format::default()
        .with_header(true)
        .with_delimiter(delimiter);
    let sample = match types {
        CsvTypes::Text => Some(0),
        CsvTypes::Inferred => None,
    };
    let (inferred, _) = format
        .infer_schema(Cursor::new(bytes), sample)
        .map_err(unreadable)?;
    let mut fields = Vec::with_capacity(inferred.fields().len());
    for (i, field) in inferred.fields().iter().enumerate() {
        let name = field.name().trim();
        if name.is_empty() {
            return Err(ContractError::file(
                file,
                format!("bad header line: column {} has no name", i + 1),
            ));
        }
        let ty = match types {
            CsvTypes::Text => DataType::Utf8,
            CsvTypes::Inferred => field.data_type().clone(),
        };
        fields.push(Field::new(name, ty, true));
    }
    let schema = Arc::new(Schema::new(fields));
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(format)
        .build(Cursor::new(bytes))
        .map_err(unreadable)?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    concat_batches(&schema, &batches).map_err(|e| ContractError::file(file, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, StringArray};

    fn text(table: &RecordBatch, column: &str) -> Vec<String> {
        let c = table.column_by_name(column).unwrap();
        let c = c.as_any().downcast_ref::<StringArray>().unwrap();
        (0..c.len()).map(|i| c.value(i).to_string()).collect()
    }

    #[test]
    fn a_bom_quoted_names_and_spaces_in_the_header_are_read() {
        let csv = "\u{feff}\"track_id\", uri ,\"a,b\"\nt1,a.wav,x\n";
        let table = read_table("t.csv", csv.as_bytes()).unwrap();
        let schema = table.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["track_id", "uri", "a,b"]);
        assert_eq!(text(&table, "track_id"), ["t1"]);
        assert_eq!(text(&table, "uri"), ["a.wav"]);
    }

    #[test]
    fn text_or_inferred_types() {
        let csv = b"\xEF\xBB\xBFid;n\n7;1\n8;2\n";
        let inferred = read_csv("n.csv", csv, b';', CsvTypes::Inferred).unwrap();
        let n = inferred.column_by_name("n").unwrap();
        let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(n.values(), &[1, 2]);
        let texts = read_csv("n.csv", csv, b';', CsvTypes::Text).unwrap();
        assert_eq!(text(&texts, "id"), ["7", "8"]);
        let err = read_csv("n.csv", b"a,,b\n1,2,3\n", b',', CsvTypes::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "n.csv: bad header line: column 2 has no name"
        );
        let err = read_csv("n.csv", b"\xEF\xBB\xBF", b',', CsvTypes::Inferred).unwrap_err();
        assert_eq!(err.to_string(), "n.csv: the file is empty");
    }
}
