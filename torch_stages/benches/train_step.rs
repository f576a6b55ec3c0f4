//! Training throughput of Algorithm 1 with feeding included (crops drawn on
//! the prefetch thread while the step runs): SS-R, batch 128, on the CPU
//! (or the GPU when there is one). The PyTorch peer is
//! benches/model/train_step_peer.py; benches/model/compare_pytorch.sh runs
//! both side by side.
//!
//! `cargo bench -p stages --bench train_step -- [steps] [tracks] [frames]`

use std::time::Instant;

use stages::study::{Source, Strategy};
use torch_stages::model::data::SourceData;
use torch_stages::model::optimizers::Arrangement;
use torch_stages::model::train::{train, Checkpoints, TrainConfig};

#[path = "common/bank.rs"]
mod bank;
use bank::random_bank;

struct NoCheckpoints;

impl Checkpoints for NoCheckpoints {
    fn save(&self, _: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        Ok(None)
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let steps = args.first().copied().unwrap_or(5);
    let frames = args.get(2).copied().unwrap_or(300);
    let batch = 128;
    let tracks = steps * batch;
    let (bank, z) = random_bank(tracks, frames);
    let sources = [SourceData {
        source: Source::Tag,
        tracks: (0..tracks).collect(),
        z,
    }];
    let device = tch::Device::cuda_if_available();
    let config = |epochs| TrainConfig {
        strategy: Strategy::SsR,
        sources: vec![Source::Tag],
        epochs,
        max_iterations: 0,
        batch,
        lr: 0.00025,
        weight_decay: 1e-6,
        optimizer: Arrangement::SharedTrunk,
        seed: 1,
        checkpoint_every: 0,
    };
    // Warm-up: one step's worth (a bank of one batch).
    let (small, small_z) = random_bank(batch, frames);
    let warm = [SourceData {
        source: Source::Tag,
        tracks: (0..batch).collect(),
        z: small_z,
    }];
    train(
        &config(1),
        &small,
        &warm,
        device,
        &NoCheckpoints,
        &mut |_| {},
    )
    .expect("warm-up");

    let start = Instant::now();
    let trained = train(
        &config(1),
        &bank,
        &sources,
        device,
        &NoCheckpoints,
        &mut |_| {},
    )
    .expect("train");
    let elapsed = start.elapsed().as_secs_f64();
    let done = trained.log.len();
    println!(
        "tch {device:?} threads={} batch={batch} steps={done}: {:.3} s/step, {:.1} samples/s",
        tch::get_num_threads(),
        elapsed / done as f64,
        (done * batch) as f64 / elapsed
    );
}
