//! What holding the training mels as f16 instead of f32 would cost the
//! feeding (SPEC 5: "f16 or f32, measure"): the time to cut one batch of
//! 128 random 216-frame crops from in-memory mels of either width (f16
//! converted to f32 on the way, as the network takes f32), beside the
//! memory per track. The train step it overlaps with takes about 0.8 s on
//! 2 cores (BENCHMARKS.md).
//!
//! `cargo bench --profile dev -p stages --bench mel_storage -- [batches]`

use std::time::Instant;

use half::f16;

const BANDS: usize = 128;
const CROP: usize = 216;
const FRAMES: usize = 2584; // a 30 s track at hop 256 (22,050 Hz)
const TRACKS: usize = 256;
const BATCH: usize = 128;

fn crops<T: Copy>(mels: &[Vec<T>], batches: usize, convert: impl Fn(T) -> f32) -> f64 {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut out = vec![0.0f32; BATCH * 2 * CROP * BANDS];
    let start = Instant::now();
    for _ in 0..batches {
        for slot in out.chunks_exact_mut(2 * CROP * BANDS) {
            let mel = &mels[rng.usize(..mels.len())];
            let t0 = rng.usize(..=FRAMES - CROP);
            for c in 0..2 {
                let src = &mel[(c * FRAMES + t0) * BANDS..(c * FRAMES + t0 + CROP) * BANDS];
                let dst = &mut slot[c * CROP * BANDS..(c + 1) * CROP * BANDS];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = convert(*s);
                }
            }
        }
    }
    std::hint::black_box(&out);
    start.elapsed().as_secs_f64() / batches as f64
}

fn main() {
    let batches: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let mut rng = fastrand::Rng::with_seed(0);
    let wide: Vec<Vec<f32>> = (0..TRACKS)
        .map(|_| {
            (0..2 * FRAMES * BANDS)
                .map(|_| rng.f32() * 4.0 - 2.0)
                .collect()
        })
        .collect();
    let narrow: Vec<Vec<f16>> = wide
        .iter()
        .map(|m| m.iter().map(|&v| f16::from_f32(v)).collect())
        .collect();
    let per_track = |bytes: usize| (2 * FRAMES * BANDS * bytes) as f64 / 1e6;
    let f32_s = crops(&wide, batches, |v| v);
    let f16_s = crops(&narrow, batches, f16::to_f32);
    println!(
        "batch of {BATCH} crops ({batches} batches): f32 {:.1} ms, f16 {:.1} ms",
        f32_s * 1e3,
        f16_s * 1e3
    );
    println!(
        "memory per 30 s track: f32 {:.2} MB, f16 {:.2} MB",
        per_track(4),
        per_track(2)
    );
}
