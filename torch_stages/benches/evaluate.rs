//! The 5-split MLP evaluation of one representation (SPEC 6) against
//! scikit-learn's MLPClassifier, side by side: 1,000 tracks x 512 dims, 10
//! classes, stratified 80/20 splits. The peer is
//! benches/evaluate/sklearn_peer.py; benches/evaluate/compare_sklearn.sh
//! runs both.
//!
//! The repeats run concurrently, as in the `evaluate` stage: the rayon
//! pool (RAYON_NUM_THREADS) and libtorch's threads (OMP_NUM_THREADS) are
//! what the comparison script varies.
//!
//! `cargo bench -p stages --bench evaluate -- DIR [rounds]` writes the data
//! set (`features.f32`: [1000, 512] little-endian float32, `labels.i64`,
//! `splits.json`: the test indices of each split) into DIR, so that the
//! peer trains on exactly the same numbers, then times `rounds` runs of
//! the evaluation: per split, standardisation on the training part, the
//! probe's training and the test predictions (data generation excluded).

use std::time::Instant;

use stages::rng::Rng;
use torch_stages::evaluate::mlp::{MlpConfig, Target};
use torch_stages::evaluate::probe::probe_repeats;
use torch_stages::evaluate::splits::{make_splits, Classes, Part, Protocol, SplitInput};

const TRACKS: usize = 1000;
const DIM: usize = 512;
const CLASSES: usize = 10;
const SUBSPACE: usize = 20;
const REPEATS: usize = 5;

/// Ten overlapping Gaussian classes in a 20-dim subspace, mixed into 512
/// dims with noise: a representation on which the probe reaches a middling
/// accuracy, as real ones do.
fn dataset() -> (Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(2024);
    let centres: Vec<f64> = (0..CLASSES * SUBSPACE)
        .map(|_| 0.45 * rng.normal())
        .collect();
    let mixing: Vec<f64> = (0..SUBSPACE * DIM)
        .map(|_| rng.normal() / (SUBSPACE as f64).sqrt())
        .collect();
    let labels: Vec<usize> = (0..TRACKS).map(|i| i % CLASSES).collect();
    let mut x = Vec::with_capacity(TRACKS * DIM);
    for &label in &labels {
        let latent: Vec<f64> = (0..SUBSPACE)
            .map(|k| centres[label * SUBSPACE + k] + rng.normal())
            .collect();
        for j in 0..DIM {
            let mixed: f64 = (0..SUBSPACE).map(|k| latent[k] * mixing[k * DIM + j]).sum();
            x.push((mixed + 0.8 * rng.normal()) as f32);
        }
    }
    (x, labels)
}

fn write(
    dir: &std::path::Path,
    x: &[f32],
    labels: &[usize],
    parts: &[Vec<Part>],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("features.f32"), bytes)?;
    let bytes: Vec<u8> = labels
        .iter()
        .flat_map(|&v| (v as i64).to_le_bytes())
        .collect();
    std::fs::write(dir.join("labels.i64"), bytes)?;
    let tests: Vec<Vec<usize>> = parts
        .iter()
        .map(|p| (0..p.len()).filter(|&i| p[i] == Part::Test).collect())
        .collect();
    let json = serde_json::json!({"tracks": TRACKS, "dim": DIM, "classes": CLASSES, "test": tests});
    std::fs::write(dir.join("splits.json"), json.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: evaluate DIR [rounds]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(1);
    let (x, labels) = dataset();
    let names: Vec<String> = (0..CLASSES).map(|c| format!("c{c}")).collect();
    let input = SplitInput {
        classes: Some(Classes {
            of_track: &labels,
            names: &names,
        }),
        ..Default::default()
    };
    let splits = make_splits(TRACKS, &input, REPEATS, 1, Protocol::Folds).expect("splits");
    if let Err(e) = write(std::path::Path::new(dir), &x, &labels, &splits.parts) {
        eprintln!("cannot write the data set to {dir}: {e}");
        std::process::exit(1);
    }
    let target = Target::Classes {
        of_sample: &labels,
        n_classes: CLASSES,
    };
    for _ in 0..rounds {
        let start = Instant::now();
        let mut accuracy = 0.0;
        let mut epochs = Vec::new();
        let repeats: Vec<(&[Part], MlpConfig)> = splits
            .parts
            .iter()
            .enumerate()
            .map(|(repeat, parts)| {
                (
                    parts.as_slice(),
                    MlpConfig {
                        seed: repeat as u64,
                        ..MlpConfig::default()
                    },
                )
            })
            .collect();
        for score in probe_repeats(&x, DIM, &target, &repeats) {
            let score = score.expect("probe");
            accuracy += score.value / REPEATS as f64;
            epochs.push(score.epochs);
        }
        println!(
            "rust (tch {} threads, rayon {} threads): {:.2} s for {REPEATS} splits, mean accuracy {accuracy:.4}, epochs {epochs:?}",
            tch::get_num_threads(),
            rayon::current_num_threads(),
            start.elapsed().as_secs_f64()
        );
    }
}
