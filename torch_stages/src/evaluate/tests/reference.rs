//! The MLP probe against scikit-learn 1.9 (tests/reference/evaluate/,
//! made by make_mlp_reference.py).

use std::sync::OnceLock;

use serde_json::Value;

use crate::evaluate::mlp::{fit, Mlp, MlpConfig, Target};
use crate::evaluate::probe::{probe, probe_repeats};
use crate::evaluate::splits::Part;

fn reference() -> &'static Value {
    static REFERENCE: OnceLock<Value> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        serde_json::from_str(include_str!(
            "../../../../tests/reference/evaluate/mlp_reference.json"
        ))
        .expect("the reference JSON parses")
    })
}

fn floats<T: From<f32>>(v: &Value) -> Vec<T> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| T::from(x.as_f64().expect("a number") as f32))
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_u64().expect("an index") as usize)
        .collect()
}

/// The convention check: same init, no shuffling, 30 epochs.
fn convention(task: &str) -> (Vec<f64>, Vec<f64>, Mlp, &'static Value) {
    let r = reference();
    let c = &r["convention"];
    let case = &c[task];
    let d = r["d"].as_u64().unwrap() as usize;
    let hidden = indices(&c["hidden"]);
    let outputs = if task == "classification" {
        r["classes"].as_u64().unwrap() as usize
    } else {
        1
    };
    let mut sizes = vec![d];
    sizes.extend(&hidden);
    sizes.push(outputs);
    let weights: Vec<(Vec<f32>, Vec<f32>)> = case["init"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| (floats(&layer["w"]), floats(&layer["b"])))
        .collect();
    let mut mlp = Mlp::from_weights(&sizes, &weights).unwrap();
    let config = MlpConfig {
        hidden,
        max_epochs: c["epochs"].as_u64().unwrap() as usize,
        shuffle: false,
        ..MlpConfig::default()
    };
    let x: Vec<f32> = floats(&case["x_train"]);
    let values = f64s(&case["y_train"]);
    let labels: Vec<usize> = values.iter().map(|&v| v as usize).collect();
    let target = if task == "classification" {
        Target::Classes {
            of_sample: &labels,
            n_classes: outputs,
        }
    } else {
        Target::Values(&values)
    };
    let training = mlp.train(&x, &target, &config).unwrap();
    (training.loss_curve, f64s(&case["loss_curve"]), mlp, case)
}

fn assert_curves_match(ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "epochs run");
    for (epoch, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= 2e-5 * b.abs(),
            "epoch {}: loss {a} vs scikit-learn {b}",
            epoch + 1
        );
    }
}

#[test]
fn classifier_training_matches_scikit_learn_step_for_step() {
    let (ours, theirs, mlp, case) = convention("classification");
    assert_curves_match(&ours, &theirs);
    let x_test: Vec<f32> = floats(&case["x_test"]);
    let expected = indices(&case["predictions"]);
    let predicted = mlp.predict_classes(&x_test, expected.len()).unwrap();
    assert_eq!(predicted, expected);
}

#[test]
fn regressor_training_matches_scikit_learn_step_for_step() {
    let (ours, theirs, mlp, case) = convention("regression");
    assert_curves_match(&ours, &theirs);
    let x_test: Vec<f32> = floats(&case["x_test"]);
    let expected = f64s(&case["predictions"]);
    let predicted = mlp.predict_values(&x_test, expected.len()).unwrap();
    for (p, e) in predicted.iter().zip(&expected) {
        assert!((p - e).abs() < 1e-4 * (1.0 + e.abs()), "{p} vs {e}");
    }
}

/// Our probe over the reference's 5 splits (one model seed per split, as
/// the stage runs it) against scikit-learn's mean over 10 seeds.
fn five_split_mean(task: &str) -> (f64, f64, f64) {
    let r = reference();
    let n = r["n"].as_u64().unwrap() as usize;
    let d = r["d"].as_u64().unwrap() as usize;
    let x: Vec<f32> = floats(&r["features"]);
    let labels = indices(&r["labels"]);
    let values = f64s(&r["values"]);
    let target = if task == "classification" {
        Target::Classes {
            of_sample: &labels,
            n_classes: r["classes"].as_u64().unwrap() as usize,
        }
    } else {
        Target::Values(&values)
    };
    let splits = r[task]["splits"].as_array().unwrap();
    let mut total = 0.0;
    for (k, test) in splits.iter().enumerate() {
        let mut parts = vec![Part::Train; n];
        for i in indices(test) {
            parts[i] = Part::Test;
        }
        let config = MlpConfig {
            seed: 100 + k as u64,
            ..MlpConfig::default()
        };
        total += probe(&x, d, &target, &parts, &config).unwrap().value;
    }
    let ours = total / splits.len() as f64;
    let theirs = r[task]["mean"].as_f64().unwrap();
    let spread = r[task]["seed_sd_of_mean"].as_f64().unwrap();
    eprintln!("{task}: ours {ours:.4}, scikit-learn {theirs:.4} (seed sd of its 5-split mean {spread:.4})");
    (ours, theirs, spread)
}

#[test]
fn accuracy_agrees_with_scikit_learn_within_two_points() {
    let (ours, theirs, _) = five_split_mean("classification");
    assert!((ours - theirs).abs() <= 0.02, "accuracy {ours} vs {theirs}");
}

#[test]
fn r2_agrees_with_scikit_learn_within_002() {
    let (ours, theirs, _) = five_split_mean("regression");
    assert!((ours - theirs).abs() <= 0.02, "R^2 {ours} vs {theirs}");
}

#[test]
fn the_probe_is_deterministic_and_seeded() {
    let r = reference();
    let x: Vec<f32> = floats(&r["features"]);
    let labels = indices(&r["labels"]);
    // A small, quick problem: the first 100 tracks, 8 epochs.
    let x = &x[..100 * 32];
    let labels = &labels[..100];
    let target = Target::Classes {
        of_sample: labels,
        n_classes: 4,
    };
    let run = |seed| {
        let config = MlpConfig {
            seed,
            max_epochs: 8,
            hidden: vec![32, 32],
            ..MlpConfig::default()
        };
        let (mlp, training) = fit(x, 32, &target, &config).unwrap();
        (training.loss_curve, mlp.predict_classes(x, 100).unwrap())
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7).0, run(8).0);
}

/// Each step's halves run on whichever threads are free (both in turn on
/// one thread, or one stolen by an idle one): neither a training nor the
/// concurrent repeats may depend on the number of threads. 97 samples in
/// batches of 32 leave a last batch of one sample (halves of 0 and 1 row),
/// and the 77 training samples of the split one of 13 (unequal halves).
#[test]
fn the_probe_does_not_depend_on_the_thread_count() {
    let r = reference();
    let x: Vec<f32> = floats(&r["features"]);
    let labels = indices(&r["labels"]);
    let (x, labels) = (&x[..97 * 32], &labels[..97]);
    let target = Target::Classes {
        of_sample: labels,
        n_classes: 4,
    };
    let config = |seed| MlpConfig {
        seed,
        max_epochs: 5,
        max_batch: 32,
        hidden: vec![48, 32],
        ..MlpConfig::default()
    };
    let parts: Vec<Part> = (0..97)
        .map(|i| if i % 5 == 0 { Part::Test } else { Part::Train })
        .collect();
    let repeats: Vec<(&[Part], MlpConfig)> =
        (0..3).map(|seed| (&parts[..], config(seed))).collect();
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (mlp, training) = fit(x, 32, &target, &config(7)).unwrap();
            let predicted = mlp.predict_classes(x, 97).unwrap();
            let scores = probe_repeats(x, 32, &target, &repeats);
            (training.loss_curve, predicted, scores)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}
