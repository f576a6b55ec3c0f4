//! Test helpers: a fake engine context, table builders, reference files,
//! and a Hungarian matcher.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;

use crate::api::*;
use crate::test_support::{params_with_defaults, MemoryFiles, NoSink};

/// Reads a committed reference file.
pub fn reference(name: &str) -> Value {
    let path = format!(
        "{}/../tests/reference/labels/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[derive(Default)]
pub struct Counter {
    pub total: AtomicU64,
    pub done: AtomicU64,
}

impl Progress for Counter {
    fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }
    fn advance(&self, items: u64) {
        self.done.fetch_add(items, Ordering::Relaxed);
    }
}

/// Runs `stage` with its defaults overridden by `params`, each slot fed by
/// one upstream node whose `table` is the given batch.
pub fn run_stage(
    stage: &dyn Stage,
    params: Value,
    inputs: &[(&str, RecordBatch)],
) -> Result<Outputs, StageError> {
    run_stage_with(stage, params, inputs, &Counter::default())
}

pub fn run_stage_with(
    stage: &dyn Stage,
    params: Value,
    inputs: &[(&str, RecordBatch)],
    progress: &Counter,
) -> Result<Outputs, StageError> {
    let params = params_with_defaults(stage, params);
    let inputs: BTreeMap<String, Vec<Upstream>> = inputs
        .iter()
        .map(|(slot, batch)| {
            let up = MemoryFiles::one_table(&format!("{slot}_node"), "table", batch.clone());
            (slot.to_string(), vec![up])
        })
        .collect();
    let files = BTreeMap::new();
    let ctx = StageContext {
        node: "test",
        params: &params,
        inputs: &inputs,
        files: &files,
        progress,
        sink: &NoSink,
        base_dir: std::path::Path::new("."),
        local_roots: &[],
    };
    stage.run(&ctx)
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("valid test batch")
}

/// (track_id, item, count).
pub fn counts_table(rows: &[(&str, Option<&str>, Option<f64>)]) -> RecordBatch {
    batch(vec![
        (
            "track_id",
            Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>()),
        ),
        (
            "item",
            Arc::new(rows.iter().map(|r| r.1).collect::<StringArray>()),
        ),
        (
            "count",
            Arc::new(rows.iter().map(|r| r.2).collect::<Float64Array>()),
        ),
    ])
}

/// (track_id, value).
pub fn scalar_table(rows: &[(&str, Option<f64>)]) -> RecordBatch {
    batch(vec![
        (
            "track_id",
            Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>()),
        ),
        (
            "value",
            Arc::new(rows.iter().map(|r| r.1).collect::<Float64Array>()),
        ),
    ])
}

/// (track_id, artist_id).
pub fn map_table(rows: &[(&str, Option<&str>)]) -> RecordBatch {
    batch(vec![
        (
            "track_id",
            Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>()),
        ),
        (
            "artist_id",
            Arc::new(rows.iter().map(|r| r.1).collect::<StringArray>()),
        ),
    ])
}

/// A table with the given column names and types, no rows.
pub fn empty_table(columns: &[(&str, DataType)]) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, t)| Field::new(*n, t.clone(), true))
        .collect();
    RecordBatch::new_empty(Arc::new(Schema::new(fields)))
}

/// Minimum-cost perfect matching of a square `n x n` cost matrix
/// (Hungarian algorithm with potentials, O(n³)); returns, per row, its
/// column.
pub fn hungarian(cost: &[Vec<f64>]) -> Vec<usize> {
    let n = cost.len();
    // 1-based arrays, column 0 is the virtual start.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut row_of_col = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        row_of_col[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = row_of_col[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[row_of_col[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if row_of_col[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            row_of_col[j0] = row_of_col[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut col_of_row = vec![0; n];
    for j in 1..=n {
        col_of_row[row_of_col[j] - 1] = j - 1;
    }
    col_of_row
}

#[test]
fn hungarian_finds_the_cheapest_permutation() {
    use crate::rng::Rng;
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, n - 1);
                out.push(q);
            }
        }
        out
    }
    let mut rng = Rng::new(3);
    for n in 1..=6 {
        for _ in 0..20 {
            let cost: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..n).map(|_| (rng.below(10) as f64) - 3.0).collect())
                .collect();
            let total = |p: &[usize]| p.iter().enumerate().map(|(i, &j)| cost[i][j]).sum::<f64>();
            let best = permutations(n)
                .iter()
                .map(|p| total(p))
                .fold(f64::INFINITY, f64::min);
            let found = hungarian(&cost);
            let mut sorted = found.clone();
            sorted.sort();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a permutation");
            assert_eq!(total(&found), best, "cost {cost:?}");
        }
    }
}
