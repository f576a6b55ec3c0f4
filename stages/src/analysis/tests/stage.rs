//! The `analyze` stage end to end on the reference study, and its errors.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use serde_json::json;

use super::support::{fit_json, num, reference, run_analyze, runs_table, scores_table, table};
use crate::api::StageError;

fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let a = batch.column_by_name(column).unwrap();
    let a = a.as_any().downcast_ref::<StringArray>().unwrap();
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}

fn floats(batch: &RecordBatch, column: &str) -> Vec<f64> {
    let a = batch.column_by_name(column).unwrap();
    a.as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .values()
        .to_vec()
}

fn schema_of(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect()
}

#[test]
fn analyses_the_reference_study() {
    let out = run_analyze(
        json!({"bootstrap_resamples": 8, "seed": 3}),
        runs_table(),
        vec![scores_table()],
    )
    .unwrap();
    let r = reference();

    let standardized = table(&out, "standardized");
    assert_eq!(
        schema_of(&standardized),
        [
            "representation Utf8",
            "dataset Utf8",
            "strategy Utf8",
            "sources Utf8",
            "n_sources Int64",
            "n_star Float64",
            "r_star Float64",
            "y Float64",
            "y_star Float64"
        ]
    );
    assert_eq!(standardized.num_rows(), 1428);
    for (ours, theirs) in floats(&standardized, "y_star")
        .iter()
        .zip(r["standardized"]["y_star"].as_array().unwrap())
    {
        assert!((ours - num(theirs)).abs() < 1e-12);
    }

    let fixed = table(&out, "fixed_effects");
    assert_eq!(
        schema_of(&fixed),
        [
            "model Utf8",
            "term Utf8",
            "estimate Float64",
            "ci_low Float64",
            "ci_high Float64",
            "case_ci_low Float64",
            "case_ci_high Float64"
        ]
    );
    let terms = strings(&fixed, "term");
    assert_eq!(terms.len(), 11 + 4);
    assert_eq!(terms[0], "b0[SS-R]");
    assert_eq!(terms[6], "b1[MS-SR@FC]");
    assert_eq!(&terms[11..], ["b0", "b10", "b20", "b30"]);
    let estimate = floats(&fixed, "estimate");
    // The default: independent random effects.
    let lme4 = &r["independent"];
    assert!((estimate[11] - num(&lme4["model2"]["fixed"]["(Intercept)"])).abs() < 1e-4);
    assert!((estimate[0] - num(&lme4["model1"]["fixed"]["i_SSR"])).abs() < 1e-4);
    for (lo, hi) in [("ci_low", "ci_high"), ("case_ci_low", "case_ci_high")] {
        for ((l, h), e) in floats(&fixed, lo)
            .iter()
            .zip(floats(&fixed, hi))
            .zip(&estimate)
        {
            assert!(l.is_finite() && l < &h, "{lo}: {l} {h}");
            assert!(*l <= *e + 0.5 && *e - 0.5 <= h, "{lo}: {l} {e} {h}");
        }
    }

    let pairwise = table(&out, "pairwise");
    assert_eq!(
        schema_of(&pairwise),
        [
            "model Utf8",
            "effect Utf8",
            "a Utf8",
            "b Utf8",
            "difference Float64",
            "ci_low Float64",
            "ci_high Float64"
        ]
    );
    let effects = strings(&pairwise, "effect");
    assert_eq!(effects.iter().filter(|e| *e == "b0").count(), 15);
    assert_eq!(effects.iter().filter(|e| *e == "b1").count(), 10);
    let (a, b) = (strings(&pairwise, "a"), strings(&pairwise, "b"));
    let difference = floats(&pairwise, "difference");
    let at = |term: String| estimate[terms.iter().position(|t| *t == term).unwrap()];
    for i in 0..pairwise.num_rows() {
        let want =
            at(format!("{}[{}]", effects[i], a[i])) - at(format!("{}[{}]", effects[i], b[i]));
        assert!((difference[i] - want).abs() < 1e-12);
    }
    assert!(!a.contains(&"MSS-CR".to_string()) && !b.contains(&"SS-R".to_string()));

    let components = table(&out, "variance_components");
    assert_eq!(
        schema_of(&components),
        [
            "dataset Utf8",
            "source Utf8",
            "variance Float64",
            "ssr_y_star Float64"
        ]
    );
    assert_eq!(components.num_rows(), 56);
    let variance = floats(&components, "variance");
    let expected = num(&r["components"]["gtzan"]["variance"]["taste"]);
    let row = strings(&components, "dataset")
        .iter()
        .zip(strings(&components, "source"))
        .position(|(d, s)| d == "gtzan" && s == "taste")
        .unwrap();
    assert!((variance[row] - expected).abs() < 1e-3);

    let fit = fit_json(&out);
    assert_eq!(fit["model1"]["singular"], json!(false));
    assert!(
        (num(&fit["model2"]["reml_log_likelihood"]) - num(&lme4["model2"]["reml_log_likelihood"]))
            .abs()
            < 1e-4
    );
    assert_eq!(
        fit["model2"]["random_effects"][0]["structure"],
        "independent"
    );
    assert_eq!(out.metadata["random_effects"], json!("independent"));
    assert_eq!(
        fit["model1"]["bootstrap"]["parametric"]["successful"],
        json!(8)
    );
    assert_eq!(
        fit["model2"]["random_effects"][0]["columns"],
        json!(["r*", "n*", "r*:n*"])
    );
    assert!(
        (num(&fit["source_correlation"]["pooled"]["r"]) - num(&r["share_performance_correlation"]))
            .abs()
            < 1e-3
    );
    assert_eq!(out.metadata["baseline_scores_excluded"], json!(42));
    assert_eq!(out.metadata["observations"], json!(1428));
    assert_eq!(out.metadata["runs_without_scores"], json!(0));

    // The same seed, the same outputs; another seed, other intervals.
    let again = run_analyze(
        json!({"bootstrap_resamples": 8, "seed": 3}),
        runs_table(),
        vec![scores_table()],
    )
    .unwrap();
    assert_eq!(table(&again, "fixed_effects"), fixed);
    assert_eq!(table(&again, "pairwise"), pairwise);
    let other = run_analyze(
        json!({"bootstrap_resamples": 8, "seed": 4}),
        runs_table(),
        vec![scores_table()],
    )
    .unwrap();
    assert_eq!(
        floats(&table(&other, "fixed_effects"), "estimate"),
        estimate
    );
    assert_ne!(
        floats(&table(&other, "fixed_effects"), "ci_low"),
        floats(&fixed, "ci_low")
    );
}

/// Replaces one column of a batch.
fn with_column(batch: &RecordBatch, name: &str, column: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let i = schema.index_of(name).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new(name, column.data_type().clone(), true);
    let mut columns = batch.columns().to_vec();
    columns[i] = column;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn edit_strings(batch: &RecordBatch, name: &str, row: usize, value: &str) -> RecordBatch {
    let mut values = strings(batch, name);
    values[row] = value.into();
    with_column(batch, name, Arc::new(StringArray::from(values)))
}

fn error(runs: RecordBatch, scores: Vec<RecordBatch>) -> String {
    match run_analyze(json!({"bootstrap_resamples": 2}), runs, scores) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn unknown_strategy_or_source_names_the_row() {
    let runs = runs_table();
    let e = error(
        edit_strings(&runs, "strategy", 5, "MS-CR@3"),
        vec![scores_table()],
    );
    assert!(
        e.contains("row 5")
            && e.contains("run `run005`")
            && e.contains("unknown strategy `MS-CR@3`"),
        "{e}"
    );
    let e = error(
        edit_strings(&runs, "sources", 40, "tag,genre"),
        vec![scores_table()],
    );
    assert!(
        e.contains("row 40") && e.contains("unknown source `genre`"),
        "{e}"
    );
    let e = error(
        edit_strings(&runs, "sources", 3, "tag,bpm"),
        vec![scores_table()],
    );
    assert!(e.contains("row 3") && e.contains("n_sources is 1"), "{e}");
    let e = error(
        edit_strings(&runs, "run_id", 1, "run000"),
        vec![scores_table()],
    );
    assert!(e.contains("row 1") && e.contains("duplicate run_id"), "{e}");
}

#[test]
fn nan_scores_name_the_row() {
    let scores = scores_table();
    let mut values = floats(&scores, "value");
    values[77] = f64::NAN;
    let bad = with_column(&scores, "value", Arc::new(Float64Array::from(values)));
    let e = error(runs_table(), vec![bad]);
    assert!(
        e.contains("node evaluate0") && e.contains("row 77") && e.contains("value is NaN"),
        "{e}"
    );
}

#[test]
fn bad_score_tables_are_refused() {
    let scores = scores_table();
    // A repeat scored twice, across two evaluate nodes.
    let first = scores.slice(0, 10);
    let e = error(runs_table(), vec![scores.clone(), first]);
    assert!(
        e.contains("repeat 0 is scored twice") && e.contains("evaluate1"),
        "{e}"
    );
    // Two metrics for one dataset.
    let e = error(runs_table(), vec![edit_strings(&scores, "metric", 4, "f1")]);
    assert!(e.contains("row 4") && e.contains("metric `f1`"), "{e}");
    // A wrong column type.
    let float_repeats = with_column(&scores, "repeat", repeats_as_floats(&scores));
    let e = error(runs_table(), vec![float_repeats]);
    assert!(e.contains("column `repeat` must be Int64"), "{e}");
    let no_value = scores.project(&[0, 1, 2, 3, 4]).unwrap();
    let e = error(runs_table(), vec![no_value]);
    assert!(e.contains("missing column `value`"), "{e}");
}

/// The repeat column as Float64 instead of Int64.
fn repeats_as_floats(scores: &RecordBatch) -> ArrayRef {
    let a = scores.column_by_name("repeat").unwrap();
    let a = a.as_any().downcast_ref::<Int64Array>().unwrap();
    Arc::new(Float64Array::from_iter_values(
        a.values().iter().map(|v| *v as f64),
    ))
}

#[test]
fn too_few_datasets_or_zero_variance_are_refused() {
    let scores = scores_table();
    let datasets = strings(&scores, "dataset");
    let keep: Vec<u32> = (0..scores.num_rows() as u32)
        .filter(|&i| datasets[i as usize] == "fma")
        .collect();
    let only_fma =
        arrow::compute::take_record_batch(&scores, &arrow::array::UInt32Array::from(keep)).unwrap();
    let e = error(runs_table(), vec![only_fma]);
    assert!(
        e.contains("1 dataset(s)") && e.contains("at least 2"),
        "{e}"
    );

    let mut values = floats(&scores, "value");
    for (v, d) in values.iter_mut().zip(&datasets) {
        if d == "gtzan" {
            *v = 0.5;
        }
    }
    let flat = with_column(&scores, "value", Arc::new(Float64Array::from(values)));
    let e = error(runs_table(), vec![flat]);
    assert!(
        e.contains("dataset `gtzan`") && e.contains("zero variance"),
        "{e}"
    );
}

#[test]
fn unstructured_random_effects_are_an_option() {
    let out = run_analyze(
        json!({"bootstrap_resamples": 2, "random_effects": "unstructured"}),
        runs_table(),
        vec![scores_table()],
    )
    .unwrap();
    let r = reference();
    let fit = fit_json(&out);
    for model in ["model1", "model2"] {
        let lme4 = &r["unstructured"][model];
        let ours = num(&fit[model]["reml_log_likelihood"]);
        assert!(
            (ours - num(&lme4["reml_log_likelihood"])).abs() < 1e-4,
            "{model}"
        );
        assert_eq!(
            fit[model]["theta"].as_array().unwrap().len(),
            lme4["theta"].as_object().unwrap().len(),
            "{model}"
        );
    }
    assert_eq!(
        fit["model2"]["random_effects"][0]["structure"],
        "unstructured"
    );
    assert_eq!(out.metadata["random_effects"], json!("unstructured"));
}

#[test]
fn bad_parameters_are_refused() {
    for (params, name) in [
        (json!({"bootstrap_resamples": 0}), "bootstrap_resamples"),
        (json!({"seed": -1}), "seed"),
        (json!({"random_effects": "diagonal"}), "random_effects"),
    ] {
        match run_analyze(params, runs_table(), vec![scores_table()]) {
            Err(StageError::Param { name: n, .. }) => assert_eq!(n, name),
            Err(e) => panic!("{name}: {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
}

#[test]
fn a_slope_that_cannot_be_estimated_is_dropped_and_reported() {
    // The design keeps MS-CR@2 only where it has 8 sources: its slope is
    // not estimable, so Model 1 drops it and the node says so (the scores
    // of the runs left out count as baselines).
    let runs = runs_table();
    let strategy = strings(&runs, "strategy");
    let n = runs
        .column_by_name("n_sources")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec();
    let keep: Vec<u32> = (0..runs.num_rows())
        .filter(|&i| strategy[i] != "MS-CR@2" || n[i] == 8)
        .map(|i| i as u32)
        .collect();
    let runs =
        arrow::compute::take_record_batch(&runs, &arrow::array::UInt32Array::from(keep)).unwrap();
    let out = run_analyze(
        json!({"bootstrap_resamples": 4}),
        runs,
        vec![scores_table()],
    )
    .unwrap();
    let warnings = out.metadata["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.starts_with("model1: fixed-effect model matrix is rank deficient")
            && warning.contains("`b1[MS-CR@2]`"),
        "{warning}"
    );
    let fit = fit_json(&out);
    assert_eq!(
        fit["model1"]["dropped_fixed_effects"],
        json!(["b1[MS-CR@2]"])
    );
    assert_eq!(fit["model1"]["warnings"].as_array().unwrap().len(), 1);
    assert_eq!(fit["model2"]["warnings"], json!([]));
    let terms = strings(&table(&out, "fixed_effects"), "term");
    assert_eq!(terms.len(), 10 + 4);
    assert!(terms.contains(&"b0[MS-CR@2]".to_string()));
    assert!(!terms.contains(&"b1[MS-CR@2]".to_string()));
    // Pairwise slopes leave MS-CR@2 out: 4 strategies with a slope.
    let effects = strings(&table(&out, "pairwise"), "effect");
    assert_eq!(effects.iter().filter(|e| *e == "b1").count(), 6);
}
