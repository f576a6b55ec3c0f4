//! Extraction throughput (issue 7): tracks of 30 s (2,585 frames, 12
//! slices of 216) through an SS-R network and an MSS-CR network of eight
//! branches, in eval mode, mean and std over slices, on the CPU with 1 and
//! with 2 libtorch threads (the pipeline uses 1 and runs nodes side by
//! side). Mel reading and model loading are not included: the stage's
//! other costs are in the default study's per-node times.
//!
//! `cargo bench -p stages --bench extract -- [tracks]`

use std::time::Instant;

use stages::study::{Source, Strategy};
use torch_stages::model::extract::extract;
use torch_stages::model::optimizers::Arrangement;
use torch_stages::model::train::{init_network, TrainConfig};

#[path = "common/bank.rs"]
mod bank;
use bank::random_bank;

/// 30 s at 22,050 Hz with a hop of 256 samples.
const FRAMES_30S: usize = 2_585;

fn main() {
    let tracks = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(32);
    let (bank, _) = random_bank(tracks, FRAMES_30S);
    let (warm, _) = random_bank(16, FRAMES_30S);
    for (strategy, sources) in [
        (Strategy::SsR, vec![Source::Tag]),
        (Strategy::MssCr, Source::ALL.to_vec()),
    ] {
        let config = TrainConfig {
            strategy,
            sources,
            epochs: 0,
            max_iterations: 0,
            batch: 1,
            lr: 0.0,
            weight_decay: 0.0,
            optimizer: Arrangement::SharedTrunk,
            seed: 1,
            checkpoint_every: 0,
        };
        let (_vs, net) = init_network(&config, tch::Device::Cpu).expect("network");
        for threads in [1, 2] {
            tch::set_num_threads(threads);
            // Warm-up: full batches of slices (allocations, kernel choice).
            extract(&net, &warm, tch::Device::Cpu, &mut || {}).expect("warm-up");
            let start = Instant::now();
            extract(&net, &bank, tch::Device::Cpu, &mut || {}).expect("extract");
            let seconds = start.elapsed().as_secs_f64();
            let per_second = tracks as f64 / seconds;
            println!(
                "{:<7} {threads} thread(s): {tracks} tracks of 30 s in {seconds:.2} s: \
                 {per_second:.1} tracks/s, {:.1} tracks/s per core",
                strategy.name(),
                per_second / threads as f64
            );
        }
    }
}
