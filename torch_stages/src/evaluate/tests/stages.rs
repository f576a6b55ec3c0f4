//! `evaluate` and `recommend` run as the engine runs them, on in-memory
//! upstream tables.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::{json, Value};

use crate::evaluate::{Evaluate, Recommend};
use stages::api::*;
use stages::rng::Rng;
use stages::test_support::{params_with_defaults, MemoryFiles, NoProgress, NoSink};

/// Runs `stage` with `params` over the declared defaults, as the engine does.
fn run(
    stage: &dyn Stage,
    params: Value,
    inputs: Vec<(&str, &str, RecordBatch)>,
) -> Result<Outputs, StageError> {
    let mut slots: BTreeMap<String, Vec<Upstream>> = BTreeMap::new();
    for (slot, file, table) in inputs {
        let node = format!("{slot}_node");
        slots.insert(
            slot.into(),
            vec![MemoryFiles::one_table(&node, file, table)],
        );
    }
    let params = params_with_defaults(stage, params);
    let files = BTreeMap::new();
    stage.run(&StageContext {
        node: "under_test",
        params: &params,
        inputs: &slots,
        files: &files,
        progress: &NoProgress,
        sink: &NoSink,
        base_dir: std::path::Path::new("."),
        local_roots: &[],
    })
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
    .unwrap()
}

fn text(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

/// `vector` (or `name`) FixedSizeList<Float32, d> per track.
fn vectors(ids: &[String], values: Vec<f32>, d: i32, name: &str) -> RecordBatch {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let list =
        FixedSizeListArray::try_new(item.clone(), d, Arc::new(Float32Array::from(values)), None)
            .unwrap();
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new(name, DataType::FixedSizeList(item, d), false),
        ])),
        vec![text(ids.to_vec()), Arc::new(list)],
    )
    .unwrap()
}

fn table<'a>(out: &'a Outputs, name: &str) -> &'a RecordBatch {
    match out.files.get(name) {
        Some(Output::Table(t)) => t,
        _ => panic!("no table {name}"),
    }
}

fn column<'a, T: 'static>(t: &'a RecordBatch, name: &str) -> &'a T {
    t.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

/// 60 tracks of 3 classes in 8 dims (class in dims 0-1), artists of 3
/// tracks, a regression value; track t60 is in the manifest only.
fn classification_data() -> (Vec<String>, RecordBatch, RecordBatch) {
    let mut rng = Rng::new(1);
    let ids: Vec<String> = (0..61).map(|i| format!("t{i:02}")).collect();
    let class = |i: usize| i % 3;
    let mut values = Vec::new();
    for i in 0..60 {
        for k in 0..8 {
            let signal = match k {
                0 => class(i) as f64 * 2.0,
                1 => (class(i) == 1) as i32 as f64 * 3.0,
                _ => 0.0,
            };
            values.push((signal + rng.normal()) as f32);
        }
    }
    let features = vectors(&ids[..60], values, 8, "vector");
    let labels = ["jazz", "pop", "rock"];
    let manifest = batch(vec![
        ("track_id", text(ids.clone())),
        (
            "uri",
            text(ids.iter().map(|i| format!("{i}.wav")).collect()),
        ),
        (
            "label",
            text((0..61).map(|i| labels[class(i)].to_string()).collect()),
        ),
        (
            "group",
            text((0..61).map(|i| format!("artist{}", i / 3)).collect()),
        ),
    ]);
    (ids, features, manifest)
}

#[test]
fn evaluate_classifies_with_group_splits_and_reports_missing_tracks() {
    let (_, features, manifest) = classification_data();
    let params = json!({"representation": "run7", "dataset": "gtzan", "task": "classification"});
    let out = run(
        &Evaluate,
        params.clone(),
        vec![
            ("features", "vectors", features.clone()),
            ("dataset", "table", manifest.clone()),
        ],
    )
    .unwrap();
    let scores = table(&out, "scores");
    assert_eq!(scores.num_rows(), 5);
    let names: Vec<String> = scores
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "representation",
            "dataset",
            "task",
            "repeat",
            "metric",
            "value",
            "n_train",
            "n_test"
        ]
    );
    let value = column::<Float64Array>(scores, "value");
    let metric = column::<StringArray>(scores, "metric");
    let n_test = column::<Int64Array>(scores, "n_test");
    for r in 0..5 {
        assert_eq!(metric.value(r), "accuracy");
        assert!(
            value.value(r) > 0.6,
            "repeat {r}: accuracy {}",
            value.value(r)
        );
        // 20 artists in five folds: 4 tested, 3 tracks each.
        assert_eq!(n_test.value(r), 12);
    }
    assert_eq!(
        column::<StringArray>(scores, "representation").value(0),
        "run7"
    );
    assert_eq!(
        column::<StringArray>(scores, "task").value(4),
        "classification"
    );
    assert_eq!(out.metadata["scheme"], "grouped");
    assert_eq!(out.metadata["missing_tracks"], 1);
    let warning = out.metadata["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("1 of 61 dataset tracks") && warning.contains("t60"),
        "{warning}"
    );

    let splits = table(&out, "splits");
    assert_eq!(splits.num_rows(), 5 * 60);
    let parts = column::<StringArray>(splits, "part");
    let tests = (0..splits.num_rows())
        .filter(|&i| parts.value(i) == "test")
        .count();
    assert_eq!(tests, 5 * 12);

    // Same inputs, same result; another seed, other splits.
    let again = run(
        &Evaluate,
        params.clone(),
        vec![
            ("features", "vectors", features.clone()),
            ("dataset", "table", manifest.clone()),
        ],
    )
    .unwrap();
    assert_eq!(table(&again, "scores"), scores);
    let mut reseeded = params;
    reseeded["seed"] = json!(2);
    let other = run(
        &Evaluate,
        reseeded,
        vec![
            ("features", "vectors", features),
            ("dataset", "table", manifest),
        ],
    )
    .unwrap();
    assert_ne!(table(&other, "splits"), splits);
}

#[test]
fn evaluate_regresses_on_a_given_split_of_the_mfcc_table() {
    let mut rng = Rng::new(2);
    let ids: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..40 {
        let row: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
        y.push(row[0] - 0.5 * row[1] + 0.1 * rng.normal());
        x.extend(row.iter().map(|&v| v as f32));
    }
    let features = vectors(&ids, x, 4, "mfcc");
    let split: Vec<String> = (0..40)
        .map(|i| ["train", "train", "valid", "train", "test"][i % 5].to_string())
        .collect();
    let manifest = batch(vec![
        ("track_id", text(ids.clone())),
        ("value", Arc::new(Float64Array::from(y))),
        ("split", text(split)),
    ]);
    let out = run(
        &Evaluate,
        json!({"representation": "mfcc", "dataset": "arousal", "task": "regression", "table": "mfcc", "repeats": 3}),
        vec![("features", "mfcc", features), ("dataset", "table", manifest)],
    )
    .unwrap();
    let scores = table(&out, "scores");
    assert_eq!(scores.num_rows(), 3);
    assert_eq!(out.metadata["scheme"], "given");
    assert_eq!(out.metadata["feature_column"], "mfcc");
    let value = column::<Float64Array>(scores, "value");
    for r in 0..3 {
        assert_eq!(column::<StringArray>(scores, "metric").value(r), "r2");
        assert_eq!(column::<Int64Array>(scores, "n_test").value(r), 8);
        assert!(value.value(r) > 0.5, "R^2 {}", value.value(r));
    }
    // The split is the dataset's in every repeat; the models differ.
    let splits = table(&out, "splits");
    let parts = column::<StringArray>(splits, "part");
    for i in 0..40 {
        assert_eq!(parts.value(i), parts.value(40 + i));
        assert_eq!(parts.value(i) == "test", i % 5 == 4);
    }
    assert_ne!(value.value(0), value.value(1));
}

#[test]
fn evaluate_refuses_bad_inputs_with_the_reason() {
    let (ids, features, manifest) = classification_data();
    let inputs = |m: RecordBatch| {
        vec![
            ("features", "vectors", features.clone()),
            ("dataset", "table", m),
        ]
    };
    let params = json!({"representation": "r", "dataset": "gtzan", "task": "classification"});
    // A regression task on a manifest without values.
    let mut p = params.clone();
    p["task"] = json!("regression");
    let err = run(&Evaluate, p, inputs(manifest.clone()))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no column `value`"), "{err}");
    // One class only.
    let one = batch(vec![
        ("track_id", text(ids.clone())),
        ("label", text(vec!["rock".into(); 61])),
    ]);
    let err = run(&Evaluate, params.clone(), inputs(one))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("every track has class `rock`"), "{err}");
    // A bad split value.
    let mut split = vec!["train".to_string(); 61];
    split[7] = "holdout".into();
    let bad = batch(vec![
        ("track_id", text(ids.clone())),
        (
            "label",
            text((0..61).map(|i| format!("c{}", i % 2)).collect()),
        ),
        ("split", text(split)),
    ]);
    let err = run(&Evaluate, params.clone(), inputs(bad))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 8: split \"holdout\""), "{err}");
    // Too few tracks with a representation.
    let few = batch(vec![
        (
            "track_id",
            text(vec!["t00".into(), "t01".into(), "t02".into(), "zz".into()]),
        ),
        (
            "label",
            text(vec!["a".into(), "b".into(), "a".into(), "b".into()]),
        ),
    ]);
    let err = run(&Evaluate, params.clone(), inputs(few))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 tracks are too few"), "{err}");
    // No track has a representation.
    let none = batch(vec![
        ("track_id", text(vec!["x".into()])),
        ("label", text(vec!["a".into()])),
    ]);
    let err = run(&Evaluate, params.clone(), inputs(none))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("none of the 1 dataset tracks"), "{err}");
    // The representation file is not there.
    let mut p = params;
    p["table"] = json!("mfcc");
    let err = run(&Evaluate, p, inputs(manifest))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no file `mfcc`"), "{err}");
}

#[test]
fn recommend_scores_cold_start_items() {
    // 50 users of five tastes; 200 items of five kinds by 100 artists (5%
    // of the artists, held out, is five). All items are ranked, so a
    // held-out item must beat the training items of other kinds.
    let mut rng = Rng::new(5);
    let ids: Vec<String> = (0..200).map(|i| format!("i{i:03}")).collect();
    let kind = |i: usize| (i / 2) % 5;
    let x: Vec<f32> = (0..200)
        .flat_map(|i| {
            let mut v = [0.0f32; 7];
            v[kind(i)] = 1.0;
            v[5] = rng.normal() as f32;
            v[6] = rng.normal() as f32;
            v
        })
        .collect::<Vec<_>>();
    let features = vectors(&ids[..198], x[..198 * 7].to_vec(), 7, "vector");
    let items = batch(vec![
        ("track_id", text(ids.clone())),
        (
            "group",
            text((0..200).map(|i| format!("a{}", i / 2)).collect()),
        ),
    ]);
    let (mut users, mut tracks, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    for u in 0..50 {
        for (i, id) in ids.iter().enumerate() {
            if rng.chance(if kind(i) == u % 5 { 0.35 } else { 0.03 }) {
                users.push(format!("u{u}"));
                tracks.push(id.clone());
                counts.push(1 + rng.below(9) as i64);
            }
        }
    }
    users.push("u0".into());
    tracks.push("not_an_item".into());
    counts.push(3);
    let interactions = batch(vec![
        ("user_id", text(users)),
        ("track_id", text(tracks)),
        ("count", Arc::new(Int64Array::from(counts))),
    ]);
    let noise: Vec<f32> = (0..198 * 7).map(|_| rng.normal() as f32).collect();
    let noise = vectors(&ids[..198], noise, 7, "vector");
    let recommend = |features| {
        run(
            &Recommend,
            json!({"representation": "run1", "dataset": "lastfm", "factors": 6, "iterations": 8}),
            vec![
                ("features", "vectors", features),
                ("items", "table", items.clone()),
                ("interactions", "table", interactions.clone()),
            ],
        )
        .unwrap()
    };
    let out = recommend(features);
    let noise_out = recommend(noise);
    let noise_scores = column::<Float64Array>(table(&noise_out, "scores"), "value");
    let scores = table(&out, "scores");
    assert_eq!(scores.num_rows(), 5);
    let value = column::<Float64Array>(scores, "value");
    for r in 0..5 {
        assert_eq!(column::<StringArray>(scores, "metric").value(r), "ndcg@500");
        assert_eq!(
            column::<StringArray>(scores, "task").value(r),
            "recommendation"
        );
        // 99 artists with features: ceil(5%) = 5 held out, 2 items each.
        assert_eq!(column::<Int64Array>(scores, "n_test").value(r), 10);
        assert_eq!(column::<Int64Array>(scores, "n_train").value(r), 188);
    }
    // The features that say an item's kind rank a user's kind first: over
    // the repeats, the held-out items rank higher than with noise.
    let mean = |v: &Float64Array| (0..5).map(|r| v.value(r)).sum::<f64>() / 5.0;
    let (informative, noise) = (mean(value), mean(noise_scores));
    assert!(
        informative > noise + 0.05,
        "nDCG {informative} against noise {noise} ({value:?}, {noise_scores:?})"
    );
    assert_eq!(out.metadata["scheme"], "grouped");
    assert_eq!(out.metadata["missing_tracks"], 2);
    let warnings: Vec<&str> = out.metadata["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(warnings[0].contains("i198, i199"), "{warnings:?}");
    assert!(warnings[1].contains("not_an_item"), "{warnings:?}");
    let per_repeat = &out.metadata["repeats_users"][0];
    let total = per_repeat["evaluated"].as_u64().unwrap()
        + per_repeat["without_heldout"].as_u64().unwrap()
        + per_repeat["without_training"].as_u64().unwrap();
    assert_eq!(total, 50);
}

#[test]
fn recommend_refuses_bad_settings() {
    let ids: Vec<String> = (0..10).map(|i| format!("i{i}")).collect();
    let features = vectors(&ids, vec![0.5; 20], 2, "vector");
    let items = batch(vec![("track_id", text(ids.clone()))]);
    let interactions = batch(vec![
        ("user_id", text(vec!["u".into()])),
        ("track_id", text(vec!["i1".into()])),
        ("count", Arc::new(Int64Array::from(vec![1]))),
    ]);
    let inputs = || {
        vec![
            ("features", "vectors", features.clone()),
            ("items", "table", items.clone()),
            ("interactions", "table", interactions.clone()),
        ]
    };
    let err = run(
        &Recommend,
        json!({"representation": "r", "dataset": "d", "lambda_w": 0.0}),
        inputs(),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("lambda_w = 0"), "{err}");
    let err = run(
        &Recommend,
        json!({"representation": "r", "dataset": "d", "top_k": 0}),
        inputs(),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("parameter `top_k`"), "{err}");
    let err = run(
        &Recommend,
        json!({"representation": " ", "dataset": "d"}),
        inputs(),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("parameter `representation`: must not be empty"),
        "{err}"
    );
}
