//! Test helpers: the committed reference files as tables, simulated
//! studies, and an in-memory engine context for the stage.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::csv::reader::{Format, ReaderBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;

use crate::analysis::scores::Observation;
use crate::api::*;
use crate::study::{Source, Strategy};
use crate::test_support::{params_with_defaults, MemoryFiles, NoProgress, NoSink};

fn reference_path(name: &str) -> String {
    format!(
        "{}/../tests/reference/analysis/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The lme4 outputs.
pub fn reference() -> Value {
    let path = reference_path("reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read_csv(name: &str, fields: Vec<Field>) -> RecordBatch {
    let path = reference_path(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let schema = Arc::new(Schema::new(fields));
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(Format::default().with_header(true))
        .build(Cursor::new(bytes))
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// The design's `runs` table, as the design stage writes it.
pub fn runs_table() -> RecordBatch {
    read_csv(
        "runs.csv",
        vec![
            Field::new("run_id", DataType::Utf8, false),
            Field::new("phase", DataType::Int64, false),
            Field::new("strategy", DataType::Utf8, false),
            Field::new("sources", DataType::Utf8, false),
            Field::new("n_sources", DataType::Int64, false),
            Field::new("seed", DataType::Int64, false),
        ],
    )
}

/// An evaluation's `scores` table.
pub fn scores_table() -> RecordBatch {
    read_csv(
        "scores.csv",
        vec![
            Field::new("representation", DataType::Utf8, false),
            Field::new("dataset", DataType::Utf8, false),
            Field::new("task", DataType::Utf8, false),
            Field::new("repeat", DataType::Int64, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
        ],
    )
}

/// A reference number.
pub fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Observations of a simulated study, y* left for the caller: every
/// strategy on `datasets` datasets, multi-source runs with n = 2..8.
pub fn observations(datasets: usize) -> Vec<Observation> {
    let mut out = Vec::new();
    for d in 0..datasets {
        for (k, &strategy) in Strategy::ALL.iter().enumerate() {
            let sizes: Vec<usize> = if strategy == Strategy::SsR {
                vec![1; 4]
            } else {
                (2..=8).collect()
            };
            for (r, &n) in sizes.iter().enumerate() {
                let sources = (0..n)
                    .map(|i| Source::ALL[(i + r + k) % 8])
                    .collect::<Vec<_>>();
                let mut sources = sources;
                sources.sort();
                out.push(Observation {
                    representation: format!("run{k}_{r}"),
                    dataset: d,
                    strategy,
                    sources,
                    y: 0.0,
                    y_star: 0.0,
                });
            }
        }
    }
    out
}

/// Runs `analyze` with `params` over the defaults, one runs node and one
/// scores node per table.
pub fn run_analyze(
    params: Value,
    runs: RecordBatch,
    scores: Vec<RecordBatch>,
) -> Result<Outputs, StageError> {
    let node = MemoryFiles::one_table;
    run_analyze_on(
        params,
        node("design", "runs", runs),
        scores
            .into_iter()
            .enumerate()
            .map(|(i, t)| node(&format!("evaluate{i}"), "scores", t))
            .collect(),
    )
}

/// Runs `analyze` with `params` over the defaults on these upstream nodes.
pub fn run_analyze_on(
    params: Value,
    runs: Upstream,
    scores: Vec<Upstream>,
) -> Result<Outputs, StageError> {
    let inputs = BTreeMap::from([
        ("runs".to_string(), vec![runs]),
        ("scores".to_string(), scores),
    ]);
    run_stage(&crate::analysis::Analyze, params, &inputs, &BTreeMap::new())
}

/// Runs `stage` as the engine would, with `params` over its defaults.
pub fn run_stage(
    stage: &dyn Stage,
    params: Value,
    inputs: &BTreeMap<String, Vec<Upstream>>,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Outputs, StageError> {
    let params = params_with_defaults(stage, params);
    let ctx = StageContext {
        node: stage.name(),
        params: &params,
        inputs,
        files,
        progress: &NoProgress,
        sink: &NoSink,
        base_dir: std::path::Path::new("."),
        local_roots: &[],
    };
    stage.run(&ctx)
}

/// An output table.
pub fn table(out: &Outputs, name: &str) -> RecordBatch {
    match out.files.get(name) {
        Some(Output::Table(t)) => t.clone(),
        _ => panic!("no table {name}"),
    }
}

/// The `fit` JSON.
pub fn fit_json(out: &Outputs) -> Value {
    match out.files.get("fit") {
        Some(Output::Json(v)) => v.clone(),
        _ => panic!("no fit json"),
    }
}
