//! A study made elsewhere, given as a user's runs and scores files through
//! `load_table`, is analysed bit for bit as the same numbers given as the
//! design's `runs` and the evaluations' `scores` tables, whatever the order
//! of the user's rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::json;

use super::support::{fit_json, observations, run_analyze_on, run_stage, table};
use crate::api::{Outputs, Upstream};
use crate::contracts::LoadTable;
use crate::rng::Rng;
use crate::study::{Source, Strategy};
use crate::test_support::MemoryFiles;

const DATASETS: [(&str, &str, &str); 3] = [
    ("ballroom", "classification", "accuracy"),
    ("arousal", "regression", "r2"),
    ("lastfm", "recommendation", "ndcg@500"),
];
const REPEATS: i64 = 3;
const BASELINES: [&str; 2] = ["mfcc", "rand:SS-R"];

/// The runs: every strategy, multi-source runs on 2..8 sources.
fn runs() -> Vec<(String, Strategy, Vec<Source>)> {
    observations(1)
        .into_iter()
        .map(|o| (o.representation, o.strategy, o.sources))
        .collect()
}

/// One score per (representation, dataset, repeat): a strategy and size
/// effect per dataset plus noise.
fn scores() -> Vec<(String, usize, i64, f64)> {
    let mut rng = Rng::new(11);
    let mut rows = Vec::new();
    let reps = runs()
        .into_iter()
        .map(|(id, strategy, sources)| (id, strategy.ordinal(), sources.len() as f64))
        .chain(BASELINES.iter().map(|b| (b.to_string(), 0.0, 0.0)));
    for (id, r_star, n) in reps {
        for d in 0..DATASETS.len() {
            for repeat in 0..REPEATS {
                let effect = 0.1 * (d as f64 + 1.0) * r_star + 0.01 * n;
                rows.push((id.clone(), d, repeat, 0.4 + effect + rng.gauss(0.0, 0.03)));
            }
        }
    }
    rows
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| Field::new(*name, a.data_type().clone(), false))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn texts<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn ints(values: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(values))
}

/// The design node, as the design stage writes its `runs`.
fn design_node() -> Upstream {
    let runs = runs();
    let phase = |(_, strategy, sources): &(String, Strategy, Vec<Source>)| match strategy {
        Strategy::SsR => 1,
        _ if sources.len() == 8 => 2,
        _ => 3,
    };
    let table = batch(vec![
        ("run_id", texts(runs.iter().map(|r| &r.0))),
        ("phase", ints(runs.iter().map(phase))),
        ("strategy", texts(runs.iter().map(|r| r.1.name()))),
        (
            "sources",
            texts(runs.iter().map(|r| Source::format_set(&r.2))),
        ),
        ("n_sources", ints(runs.iter().map(|r| r.2.len() as i64))),
        ("seed", ints(0..runs.len() as i64)),
    ]);
    MemoryFiles::one_table("design", "runs", table)
}

/// One evaluation node per (representation, dataset), as evaluate and
/// recommend write their `scores`.
fn evaluation_nodes() -> Vec<Upstream> {
    let mut by_node: BTreeMap<(String, usize), Vec<(i64, f64)>> = BTreeMap::new();
    for (id, d, repeat, value) in scores() {
        by_node.entry((id, d)).or_default().push((repeat, value));
    }
    by_node
        .into_iter()
        .map(|((id, d), rows)| {
            let (dataset, task, metric) = DATASETS[d];
            let n = rows.len();
            let constant = |v: &str| texts(std::iter::repeat_n(v, n));
            let table = batch(vec![
                ("representation", constant(&id)),
                ("dataset", constant(dataset)),
                ("task", constant(task)),
                ("repeat", ints(rows.iter().map(|r| r.0))),
                ("metric", constant(metric)),
                (
                    "value",
                    Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1))),
                ),
                ("n_train", ints(std::iter::repeat_n(80, n))),
                ("n_test", ints(std::iter::repeat_n(20, n))),
            ]);
            MemoryFiles::one_table(&format!("eval_{id}_{dataset}"), "scores", table)
        })
        .collect()
}

/// A `load_table` node of `csv` under `contract`.
fn load_table(node: &str, contract: &str, csv: String) -> Upstream {
    let files = BTreeMap::from([("path".to_string(), csv.into_bytes())]);
    let params = json!({"path": format!("{node}.csv"), "contract": contract});
    let out = run_stage(&LoadTable, params, &BTreeMap::new(), &files).unwrap();
    MemoryFiles::one_table(node, "table", table(&out, "table"))
}

/// The user's runs file: a 0/1 column per source, in another column
/// order than the contract's, without phase or seed.
fn runs_csv() -> String {
    let mut csv = String::from("strategy,run");
    let columns = [7, 0, 3, 1, 6, 2, 5, 4].map(|i| Source::ALL[i]);
    for s in columns {
        csv += &format!(",{s}");
    }
    for (id, strategy, sources) in runs() {
        csv += &format!("\n{strategy},{id}");
        for s in columns {
            csv += if sources.contains(&s) { ",1" } else { ",0" };
        }
    }
    csv + "\n"
}

/// The user's scores file: the same numbers (shortest round-trip text),
/// rows in reverse order.
fn scores_csv() -> String {
    let mut csv = String::from("run,dataset,repeat,metric,value\n");
    for (id, d, repeat, value) in scores().into_iter().rev() {
        let (dataset, _, metric) = DATASETS[d];
        csv += &format!("{id},{dataset},{repeat},{metric},{value}\n");
    }
    csv
}

/// A table's columns, floats as their bits.
fn cells(out: &Outputs, name: &str) -> Vec<(String, Vec<String>)> {
    let t = table(out, name);
    let schema = t.schema();
    schema
        .fields()
        .iter()
        .zip(t.columns())
        .map(|(field, column)| {
            let values = match column.data_type() {
                DataType::Float64 => {
                    let floats = column.as_any().downcast_ref::<Float64Array>().unwrap();
                    floats
                        .values()
                        .iter()
                        .map(|v| format!("{:#x}", v.to_bits()))
                        .collect()
                }
                _ => (0..column.len())
                    .map(|i| arrow::util::display::array_value_to_string(column, i).unwrap())
                    .collect(),
            };
            (field.name().clone(), values)
        })
        .collect()
}

#[test]
fn a_study_from_user_tables_is_analysed_as_the_stages_own() {
    let params = json!({"bootstrap_resamples": 3, "seed": 5});
    let own = run_analyze_on(params.clone(), design_node(), evaluation_nodes()).unwrap();
    let users = run_analyze_on(
        params,
        load_table("my_runs", "runs", runs_csv()),
        vec![load_table("my_scores", "scores", scores_csv())],
    )
    .unwrap();
    for name in [
        "fixed_effects",
        "variance_components",
        "standardized",
        "pairwise",
    ] {
        let expected = cells(&own, name);
        assert!(expected[0].1.len() > 1, "{name} is empty");
        assert_eq!(expected, cells(&users, name), "{name}");
    }
    assert_eq!(fit_json(&own), fit_json(&users));
    assert_eq!(own.metadata, users.metadata);
    assert_eq!(users.metadata["baseline_scores_excluded"], json!(18));
    assert_eq!(users.metadata["observations"], json!(39 * 3));
}
