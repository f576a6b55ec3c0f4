//! A bank of random mels with random target distributions, for the model
//! benchmarks (throughput does not depend on what the mels hold).

use stages::audio::{MelDb, Scaler, N_MELS};
use torch_stages::model::data::MelBank;

/// `tracks` stereo mels of `frames` frames (standardised as they are) and
/// one 50-topic distribution per track.
pub fn random_bank(tracks: usize, frames: usize) -> (MelBank, Vec<f32>) {
    let mut rng = fastrand::Rng::with_seed(0);
    let scaler = Scaler::identity();
    let mut bank = MelBank::new();
    let mut z = Vec::new();
    for t in 0..tracks {
        let data = (0..2 * frames * N_MELS)
            .map(|_| rng.f32() * 2.0 - 1.0)
            .collect();
        bank.push(
            format!("t{t}"),
            &MelDb {
                channels: 2,
                frames,
                bands: N_MELS,
                data,
            },
            &scaler,
        );
        let raw: Vec<f32> = (0..50).map(|_| rng.f32() + 1e-3).collect();
        let sum: f32 = raw.iter().sum();
        z.extend(raw.iter().map(|v| v / sum));
    }
    (bank, z)
}
