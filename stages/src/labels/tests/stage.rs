use std::sync::atomic::Ordering;

use arrow::array::{
    Array, FixedSizeListArray, Float32Array, Float64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::datatypes::DataType;
use serde_json::json;

use super::support::{
    counts_table, empty_table, map_table, run_stage, run_stage_with, scalar_table, Counter,
};
use crate::api::{Output, Outputs, StageError};
use crate::labels::csr::Csr;
use crate::labels::plsa::{fit, PlsaConfig};
use crate::labels::tfidf::tfidf;
use crate::labels::{Factorize, FactorizeArtist};
use crate::rng::Rng;
use crate::Registry;

fn table<'a>(out: &'a Outputs, name: &str) -> &'a RecordBatch {
    match out.files.get(name) {
        Some(Output::Table(t)) => t,
        _ => panic!("no table {name}"),
    }
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let col = batch.column_by_name(column).unwrap();
    let s = col.as_any().downcast_ref::<StringArray>().unwrap();
    s.iter().map(|v| v.unwrap().to_string()).collect()
}

/// The z column as rows of f32.
fn z_rows(out: &Outputs) -> Vec<Vec<f32>> {
    let z = table(out, "z");
    let list = z
        .column_by_name("z")
        .unwrap()
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap();
    let k = list.value_length() as usize;
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap();
    values.values().chunks(k).map(<[f32]>::to_vec).collect()
}

fn assert_distributions(rows: &[Vec<f32>]) {
    for (i, row) in rows.iter().enumerate() {
        let s: f64 = row.iter().map(|&v| v as f64).sum();
        assert!((s - 1.0).abs() < 1e-6, "row {i} sums to {s}");
        assert!(row.iter().all(|v| *v >= 0.0));
    }
}

/// Tracks t00..t59, three planted tag groups, plus unlabelled tracks.
fn tag_rows() -> Vec<(String, Option<String>, Option<f64>)> {
    let mut rng = Rng::new(42);
    let groups = [
        ["rock", "indie", "guitar"],
        ["pop", "dance", "catchy"],
        ["jazz", "swing", "sax"],
    ];
    let mut rows = Vec::new();
    for t in 0..60 {
        let g = &groups[t % 3];
        for _ in 0..8 {
            let item = g[rng.below(3)];
            rows.push((
                format!("t{t:02}"),
                Some(item.to_string()),
                Some(1.0 + rng.below(3) as f64),
            ));
        }
    }
    rows.push(("zero".into(), Some("rock".into()), Some(0.0)));
    rows.push(("nulls".into(), None, None));
    rows
}

fn as_table(rows: &[(String, Option<String>, Option<f64>)]) -> RecordBatch {
    let borrowed: Vec<(&str, Option<&str>, Option<f64>)> = rows
        .iter()
        .map(|(t, i, c)| (t.as_str(), i.as_deref(), *c))
        .collect();
    counts_table(&borrowed)
}

fn meta(out: &Outputs, key: &str) -> serde_json::Value {
    out.metadata
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("no metadata {key}"))
}

#[test]
fn factorize_tag_outputs_z_model_and_top_items() {
    let progress = Counter::default();
    let out = run_stage_with(
        &Factorize,
        json!({"source": "tag", "k": 3, "iterations": 30, "seed": 1}),
        &[("labels", as_table(&tag_rows()))],
        &progress,
    )
    .unwrap();
    assert_eq!(progress.total.load(Ordering::Relaxed), 30);
    assert_eq!(progress.done.load(Ordering::Relaxed), 30);

    let z = table(&out, "z");
    assert_eq!(
        z.schema().field_with_name("z").unwrap().data_type(),
        &DataType::FixedSizeList(
            std::sync::Arc::new(arrow::datatypes::Field::new(
                "item",
                DataType::Float32,
                false
            )),
            3
        )
    );
    let tracks = strings(z, "track_id");
    assert_eq!(tracks.len(), 60);
    assert!(tracks.windows(2).all(|w| w[0] < w[1]), "sorted");
    assert_distributions(&z_rows(&out));

    let model = table(&out, "model");
    assert_eq!(strings(model, "item").len(), 9);
    let p = model
        .column_by_name("p")
        .unwrap()
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap();
    let p = p.values().as_any().downcast_ref::<Float64Array>().unwrap();
    for topic in 0..3 {
        let s: f64 = p.values().chunks(3).map(|r| r[topic]).sum();
        assert!((s - 1.0).abs() < 1e-9, "topic {topic} sums to {s}");
    }

    let top = table(&out, "top_items");
    assert_eq!(top.num_rows(), 3 * 9, "top_n 10 > 9 items: every item");
    let rank = top
        .column_by_name("rank")
        .unwrap()
        .as_any()
        .downcast_ref::<UInt32Array>()
        .unwrap();
    let weight = top
        .column_by_name("weight")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    for i in 1..top.num_rows() {
        if rank.value(i) > 1 {
            assert!(weight.value(i) <= weight.value(i - 1));
        }
    }

    assert_eq!(meta(&out, "tracks_used"), json!(60));
    assert_eq!(meta(&out, "tracks_left_out"), json!(2));
    assert_eq!(meta(&out, "iterations_run"), json!(30));
    assert_eq!(meta(&out, "method"), json!("plsa"));
    assert!(meta(&out, "log_likelihood").as_f64().unwrap() < 0.0);
}

#[test]
fn lyrics_are_tfidf_weighted_before_plsa() {
    let rows = tag_rows();
    let params = json!({"source": "lyrics", "k": 3, "iterations": 20, "seed": 2});
    let out = run_stage(&Factorize, params, &[("labels", as_table(&rows))]).unwrap();
    assert_eq!(meta(&out, "method"), json!("tfidf+plsa"));

    // The same fit by hand on tfidf(counts).
    let labels = crate::labels::input::read_counts(
        &as_table(&rows),
        crate::labels::input::Origin {
            slot: "labels",
            source: "lyrics",
        },
    )
    .unwrap();
    let config = PlsaConfig {
        k: 3,
        iterations: 20,
        seed: 2,
        tolerance: 0.0,
    };
    let by_hand = fit(&tfidf(&labels.counts), &config, &mut |_, _| {}).unwrap();
    let got: Vec<f32> = z_rows(&out).concat();
    let want: Vec<f32> = by_hand.theta_dk.iter().map(|&v| v as f32).collect();
    assert_eq!(got, want);
    let plain = run_stage(
        &Factorize,
        json!({"source": "tag", "k": 3, "iterations": 20, "seed": 2}),
        &[("labels", as_table(&rows))],
    )
    .unwrap();
    // The likelihood is of the weighted matrix, not the counts.
    assert_ne!(meta(&plain, "log_likelihood"), meta(&out, "log_likelihood"));
}

#[test]
fn factorize_bpm_outputs_posteriors_and_components() {
    let mut rng = Rng::new(9);
    let rows: Vec<(String, Option<f64>)> = (0..400)
        .map(|i| {
            (
                format!("t{i:03}"),
                Some(if i % 2 == 0 { 90.0 } else { 140.0 } + 10.0 * rng.uniform_open()),
            )
        })
        .chain([("none".to_string(), None)])
        .collect();
    let borrowed: Vec<(&str, Option<f64>)> = rows.iter().map(|(t, v)| (t.as_str(), *v)).collect();
    let out = run_stage(
        &Factorize,
        json!({"source": "bpm", "k": 5, "iterations": 50}),
        &[("labels", scalar_table(&borrowed))],
    )
    .unwrap();
    let z = z_rows(&out);
    assert_eq!(z.len(), 400);
    assert_eq!(z[0].len(), 5);
    assert_distributions(&z);
    let model = table(&out, "model");
    assert_eq!(model.num_rows(), 5);
    let means = model
        .column_by_name("mean")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!(means.values().windows(2).all(|m| m[0] <= m[1]));
    assert!(!out.files.contains_key("top_items"));
    assert_eq!(meta(&out, "tracks_left_out"), json!(1));
    assert_eq!(meta(&out, "method"), json!("gmm"));
    assert!(meta(&out, "mean_log_likelihood")
        .as_f64()
        .unwrap()
        .is_finite());
}

#[test]
fn artist_tracks_inherit_their_artist_topics() {
    let tags = counts_table(&[
        ("a1", Some("rock"), Some(3.0)),
        ("a1", Some("indie"), Some(1.0)),
        ("a2", Some("rock"), Some(1.0)),
        ("b1", Some("jazz"), Some(2.0)),
        ("b1", Some("swing"), Some(2.0)),
        ("c1", Some("pop"), Some(5.0)), // tagged, but no artist in the map
        ("d1", Some("metal"), Some(0.0)), // artist D has no positive tag
    ]);
    let map = map_table(&[
        ("a1", Some("A")),
        ("a2", Some("A")),
        ("a3", Some("A")), // untagged, inherits A all the same
        ("b1", Some("B")),
        ("d1", Some("D")),
        ("e1", None),
    ]);
    let out = run_stage(
        &FactorizeArtist,
        json!({"k": 2, "iterations": 25, "seed": 3}),
        &[("artist_map", map), ("tags", tags)],
    )
    .unwrap();
    let z = table(&out, "z");
    assert_eq!(strings(z, "track_id"), vec!["a1", "a2", "a3", "b1"]);
    let rows = z_rows(&out);
    assert_distributions(&rows);
    assert_eq!(rows[0], rows[1]);
    assert_eq!(rows[0], rows[2]);

    // Artist x tag by hand: A = a1 + a2, B = b1; tags indie, jazz, rock, swing.
    let by_hand = Csr::from_triplets(2, 4, &[(0, 0, 1.0), (0, 2, 4.0), (1, 1, 2.0), (1, 3, 2.0)]);
    let config = PlsaConfig {
        k: 2,
        iterations: 25,
        seed: 3,
        tolerance: 0.0,
    };
    let model = fit(&by_hand, &config, &mut |_, _| {}).unwrap();
    let want: Vec<f32> = model.theta_dk[..2].iter().map(|&v| v as f32).collect();
    assert_eq!(rows[0], want);
    assert_eq!(
        strings(table(&out, "model"), "item"),
        vec!["indie", "jazz", "rock", "swing"]
    );

    assert_eq!(meta(&out, "artists_used"), json!(2));
    assert_eq!(meta(&out, "artists_without_tags"), json!(1));
    assert_eq!(meta(&out, "tagged_tracks_without_artist"), json!(1));
    assert_eq!(
        meta(&out, "tracks_left_out"),
        json!(2),
        "d1 (artist without tags) and e1 (no artist)"
    );
}

fn data_error(result: Result<Outputs, StageError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_labels_are_clear_errors() {
    // Empty source: no rows at all.
    let empty = empty_table(&[
        ("track_id", DataType::Utf8),
        ("item", DataType::Utf8),
        ("count", DataType::Int64),
    ]);
    let err = data_error(run_stage(
        &Factorize,
        json!({"source": "taste"}),
        &[("labels", empty)],
    ));
    assert!(
        err.contains("input `labels`") && err.contains("source taste") && err.contains("0 rows"),
        "{err}"
    );

    // Only all-zero rows.
    let zeros = counts_table(&[("t1", Some("a"), Some(0.0)), ("t2", Some("b"), Some(0.0))]);
    let err = data_error(run_stage(
        &Factorize,
        json!({"source": "cdr_tag"}),
        &[("labels", zeros)],
    ));
    assert!(err.contains("no track has a positive count"), "{err}");

    // A single distinct value cannot make 50 components.
    let rows: Vec<(String, Option<f64>)> =
        (0..100).map(|i| (format!("t{i}"), Some(2001.0))).collect();
    let borrowed: Vec<(&str, Option<f64>)> = rows.iter().map(|(t, v)| (t.as_str(), *v)).collect();
    let err = data_error(run_stage(
        &Factorize,
        json!({"source": "year"}),
        &[("labels", scalar_table(&borrowed))],
    ));
    assert!(
        err.contains("source year") && err.contains("1 distinct value"),
        "{err}"
    );

    // NaN.
    let nan = scalar_table(&[("t1", Some(120.0)), ("t2", Some(f64::NAN))]);
    let err = data_error(run_stage(
        &Factorize,
        json!({"source": "bpm"}),
        &[("labels", nan)],
    ));
    assert!(
        err.contains("source bpm") && err.contains("track t2") && err.contains("NaN"),
        "{err}"
    );

    // The wrong table for the source.
    let err = data_error(run_stage(
        &Factorize,
        json!({"source": "bpm"}),
        &[("labels", as_table(&tag_rows()))],
    ));
    assert!(err.contains("no column `value`"), "{err}");
}

#[test]
fn bad_parameters_are_errors() {
    let labels = || as_table(&tag_rows());
    for (params, name) in [
        (json!({"source": "tag", "k": 0}), "k"),
        (json!({"source": "tag", "iterations": -3}), "iterations"),
        (json!({"source": "tag", "seed": -1}), "seed"),
        (json!({"source": "tag", "tolerance": -0.5}), "tolerance"),
        (json!({"source": "artist"}), "source"),
    ] {
        match run_stage(&Factorize, params, &[("labels", labels())]) {
            Err(StageError::Param { name: got, .. }) => assert_eq!(got, name),
            Err(e) => panic!("{name}: wrong error {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
}

#[test]
fn registry_knows_both_stages() {
    let registry = Registry::standard();
    let factorize = registry.find("factorize").expect("factorize");
    let source = factorize
        .params()
        .iter()
        .find(|p| p.name == "source")
        .unwrap();
    assert!(matches!(source.ty, crate::api::ParamType::Choice(c) if c.contains(&"lyrics")));
    let artist = registry.find("factorize_artist").expect("factorize_artist");
    let slots: Vec<&str> = artist.inputs().iter().map(|i| i.name).collect();
    assert_eq!(slots, vec!["artist_map", "tags"]);
}
