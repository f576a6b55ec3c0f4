//! Running an importer in a unit test, on files the test writes.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray};
use serde_json::Value;

use crate::api::*;
use crate::test_support::{params_with_defaults, NoProgress, NoSink};

/// Runs `stage` with `params` over its defaults, its file parameters
/// given by `files` (parameter -> bytes).
pub fn run(
    stage: &dyn Stage,
    params: Value,
    files: &[(&str, &[u8])],
) -> Result<Outputs, StageError> {
    let params = params_with_defaults(stage, params);
    let files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(param, bytes)| (param.to_string(), bytes.to_vec()))
        .collect();
    let inputs = BTreeMap::new();
    stage.run(&StageContext {
        node: "import",
        params: &params,
        inputs: &inputs,
        files: &files,
        progress: &NoProgress,
        sink: &NoSink,
        base_dir: Path::new("."),
        local_roots: &[],
    })
}

/// The error a run ends with, as text.
pub fn error(result: Result<Outputs, StageError>) -> String {
    match result {
        Ok(_) => panic!("the import succeeded"),
        Err(e) => e.to_string(),
    }
}

/// The output table.
pub fn table(outputs: &Outputs) -> &RecordBatch {
    match outputs.files.get("table") {
        Some(Output::Table(table)) => table,
        _ => panic!("no output table"),
    }
}

/// A text column of the output table (null: "").
pub fn texts(outputs: &Outputs, column: &str) -> Vec<String> {
    let column = table(outputs).column_by_name(column).expect("the column");
    let column = column.as_any().downcast_ref::<StringArray>().expect("text");
    (0..column.len())
        .map(|i| {
            if column.is_valid(i) {
                column.value(i).to_string()
            } else {
                String::new()
            }
        })
        .collect()
}

/// A number column of the output table.
pub fn numbers(outputs: &Outputs, column: &str) -> Vec<f64> {
    let column = table(outputs).column_by_name(column).expect("the column");
    let column = column
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("numbers");
    column.values().to_vec()
}

/// The metadata's warnings.
pub fn warnings(outputs: &Outputs) -> Vec<String> {
    outputs
        .metadata
        .get("warnings")
        .and_then(Value::as_array)
        .map(|w| w.iter().map(|w| w.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}
