//! Feeding the network (SPEC 5): standardised mels held in memory, random
//! 216-frame crops, per-source batches and `self` pairs, drawn in an order
//! that depends only on the seed and the epoch, so that a resumed run sees
//! exactly the batches an uninterrupted one would.
//!
//! Mels are held as f32 `[2, frames, 128]` (2.65 MB per 30 s track). f16
//! would halve that; `benches/mel_storage.rs` measured the feeding cost of
//! either: 7-24 ms per batch of 128 crops, f16 at most a few ms more, on a
//! prefetch thread beside a ~0.8 s train step (BENCHMARKS.md). f32 is kept
//! because the corpora this runs on fit in memory; at the paper's scale
//! (46k tracks: 123 GB in f32, 61 GB in f16) f16 storage would be needed.

use std::sync::mpsc::{sync_channel, Receiver};

use stages::audio::{MelDb, Scaler, N_MELS};
use stages::study::Source;

use super::net::{CROP_FRAMES, TOPICS};

/// Values in one crop: `[2, 216, 128]`.
pub const CROP_LEN: usize = 2 * CROP_FRAMES as usize * N_MELS;

/// Standardised mels of a set of tracks.
pub struct MelBank {
    pub ids: Vec<String>,
    /// Per track `[2, frames, 128]` row-major.
    mels: Vec<Vec<f32>>,
}

impl MelBank {
    pub fn new() -> MelBank {
        MelBank {
            ids: Vec::new(),
            mels: Vec::new(),
        }
    }

    /// Adds a track, standardised with `scaler`.
    pub fn push(&mut self, id: String, mel: &MelDb, scaler: &Scaler) {
        self.ids.push(id);
        self.mels.push(scaler.apply(mel).data);
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Frames of track `i`.
    pub fn frames(&self, i: usize) -> usize {
        self.mels[i].len() / (2 * N_MELS)
    }

    /// Copies a 216-frame window of track `i` starting at `start` (which
    /// may be negative or run past the end: zeros there) into `out`.
    pub fn window_into(&self, i: usize, start: isize, out: &mut [f32]) {
        let frames = self.frames(i) as isize;
        let crop = CROP_FRAMES as isize;
        out.fill(0.0);
        let from = start.max(0);
        let to = (start + crop).min(frames);
        if from >= to {
            return;
        }
        let mel = &self.mels[i];
        for c in 0..2 {
            let src = (c as isize * frames + from) as usize * N_MELS;
            let dst = (c as isize * crop + from - start) as usize * N_MELS;
            let len = (to - from) as usize * N_MELS;
            out[dst..dst + len].copy_from_slice(&mel[src..src + len]);
        }
    }

    /// A random crop of track `i`: a random window of a long track, or the
    /// whole of a short track zero-padded at a random offset.
    pub fn random_crop_into(&self, i: usize, rng: &mut fastrand::Rng, out: &mut [f32]) {
        let frames = self.frames(i);
        let crop = CROP_FRAMES as usize;
        let start = if frames >= crop {
            rng.usize(..=frames - crop) as isize
        } else {
            -(rng.usize(..=crop - frames) as isize)
        };
        self.window_into(i, start, out);
    }
}

impl Default for MelBank {
    fn default() -> Self {
        MelBank::new()
    }
}

/// The training examples of one source.
pub struct SourceData {
    pub source: Source,
    /// Indices into the [`MelBank`].
    pub tracks: Vec<usize>,
    /// `[tracks, 50]`: each track's target distribution (empty for `self`).
    pub z: Vec<f32>,
}

/// One batch for one source: `x` `[rows, 2, 216, 128]`, `z` `[targets, k]`
/// (for `self`, rows = 2 pairs: first crops, then second crops; targets =
/// pairs, k = 2 with [1, 0] = same track).
pub struct Batch {
    pub source: usize,
    pub x: Vec<f32>,
    pub rows: usize,
    pub z: Vec<f32>,
    pub k: usize,
}

/// A seed for one purpose, derived from the run's seed.
pub fn derive_seed(seed: u64, purpose: &str, index: u64) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seed.to_le_bytes());
    hasher.update(purpose.as_bytes());
    hasher.update(&index.to_le_bytes());
    let bytes = hasher.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Draws the batches of one epoch: sources take turns in rounds (each
/// round of m iterations visits every source once, in a random order), and
/// each source's tracks come in a fresh shuffled order (reshuffled when
/// used up). The authors draw every iteration's source independently;
/// rounds keep each source's share of an epoch's m * l iterations at
/// exactly l, where independent draws would scatter it by about 1/sqrt(l).
pub struct EpochSampler<'a> {
    bank: &'a MelBank,
    sources: &'a [SourceData],
    batch: usize,
    rng: fastrand::Rng,
    orders: Vec<Vec<usize>>,
    cursors: Vec<usize>,
    /// The sources yet to take their turn in this round.
    round: Vec<usize>,
}

impl<'a> EpochSampler<'a> {
    pub fn new(
        bank: &'a MelBank,
        sources: &'a [SourceData],
        batch: usize,
        seed: u64,
        epoch: u64,
    ) -> Self {
        EpochSampler {
            bank,
            sources,
            batch,
            rng: fastrand::Rng::with_seed(derive_seed(seed, "epoch", epoch)),
            orders: vec![Vec::new(); sources.len()],
            cursors: vec![0; sources.len()],
            round: Vec::new(),
        }
    }

    /// The next example (position in the source's track list) of source `s`.
    fn next_example(&mut self, s: usize) -> usize {
        if self.cursors[s] == self.orders[s].len() {
            let mut order: Vec<usize> = (0..self.sources[s].tracks.len()).collect();
            self.rng.shuffle(&mut order);
            self.orders[s] = order;
            self.cursors[s] = 0;
        }
        self.cursors[s] += 1;
        self.orders[s][self.cursors[s] - 1]
    }

    fn next_source(&mut self) -> usize {
        if self.round.is_empty() {
            self.round = (0..self.sources.len()).collect();
            self.rng.shuffle(&mut self.round);
        }
        self.round.pop().expect("a sampler has at least one source")
    }

    pub fn next_batch(&mut self) -> Batch {
        let s = self.next_source();
        if self.sources[s].source == Source::SelfSupervised {
            self.pair_batch(s)
        } else {
            self.label_batch(s)
        }
    }

    fn label_batch(&mut self, s: usize) -> Batch {
        let rows = self.batch;
        let mut x = vec![0.0; rows * CROP_LEN];
        let mut z = Vec::with_capacity(rows * TOPICS as usize);
        let k = TOPICS as usize;
        for r in 0..rows {
            let e = self.next_example(s);
            let track = self.sources[s].tracks[e];
            let out = &mut x[r * CROP_LEN..(r + 1) * CROP_LEN];
            self.bank.random_crop_into(track, &mut self.rng, out);
            z.extend_from_slice(&self.sources[s].z[e * k..(e + 1) * k]);
        }
        Batch {
            source: s,
            x,
            rows,
            z,
            k,
        }
    }

    /// Half the pairs are two crops of one track, half crops of two
    /// different tracks.
    fn pair_batch(&mut self, s: usize) -> Batch {
        let pairs = self.batch;
        let n = self.sources[s].tracks.len();
        let mut x = vec![0.0; 2 * pairs * CROP_LEN];
        let mut z = Vec::with_capacity(pairs * 2);
        for p in 0..pairs {
            let a = self.next_example(s);
            let same = p < pairs / 2 || n < 2;
            let b = if same {
                a
            } else {
                (a + 1 + self.rng.usize(..n - 1)) % n
            };
            for (slot, e) in [(p, a), (pairs + p, b)] {
                let track = self.sources[s].tracks[e];
                let out = &mut x[slot * CROP_LEN..(slot + 1) * CROP_LEN];
                self.bank.random_crop_into(track, &mut self.rng, out);
            }
            z.extend_from_slice(if same { &[1.0, 0.0] } else { &[0.0, 1.0] });
        }
        Batch {
            source: s,
            x,
            rows: 2 * pairs,
            z,
            k: 2,
        }
    }
}

/// Runs `iterations` draws of `sampler` on a helper thread, two batches
/// ahead, so that cropping overlaps with the training step. Call within a
/// `std::thread::scope`.
pub fn prefetch<'scope, 'env: 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    mut sampler: EpochSampler<'env>,
    iterations: usize,
) -> Receiver<Batch> {
    let (sender, receiver) = sync_channel(2);
    scope.spawn(move || {
        for _ in 0..iterations {
            if sender.send(sampler.next_batch()).is_err() {
                break; // the trainer stopped early (an error): nothing to do
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(lengths: &[usize]) -> MelBank {
        let scaler = Scaler::identity();
        let mut bank = MelBank::new();
        for (i, &frames) in lengths.iter().enumerate() {
            let data = (0..2 * frames * N_MELS)
                .map(|v| (v / N_MELS) as f32 + 1.0)
                .collect();
            let mel = MelDb {
                channels: 2,
                frames,
                bands: N_MELS,
                data,
            };
            bank.push(format!("t{i}"), &mel, &scaler);
        }
        bank
    }

    #[test]
    fn windows_copy_both_channels_and_pad_with_zeros() {
        let bank = bank(&[300, 100]);
        let mut out = vec![0.0; CROP_LEN];
        bank.window_into(0, 10, &mut out);
        // channel 0 frame 10 holds value 11; channel 1 frame 10 holds 311.
        assert_eq!(out[0], 11.0);
        assert_eq!(out[216 * N_MELS], 311.0);
        bank.window_into(1, -16, &mut out);
        assert_eq!(out[15 * N_MELS], 0.0);
        assert_eq!(out[16 * N_MELS], 1.0);
        assert_eq!(out[(16 + 100) * N_MELS], 0.0, "zeros after the end");
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..50 {
            bank.random_crop_into(1, &mut rng, &mut out);
            let nonzero = out[..216 * N_MELS].iter().filter(|v| **v != 0.0).count();
            assert_eq!(nonzero, 100 * N_MELS, "a short track is whole in its crop");
        }
    }

    #[test]
    fn batches_depend_only_on_seed_and_epoch() {
        let bank = bank(&[250, 260, 270, 280]);
        let sources = vec![
            SourceData {
                source: Source::Bpm,
                tracks: vec![0, 1, 2],
                z: (0..150).map(|v| v as f32).collect(),
            },
            SourceData {
                source: Source::SelfSupervised,
                tracks: vec![0, 1, 2, 3],
                z: Vec::new(),
            },
        ];
        let draw = |epoch| {
            let mut s = EpochSampler::new(&bank, &sources, 4, 7, epoch);
            (0..6).map(|_| s.next_batch()).collect::<Vec<_>>()
        };
        let (a, b, c) = (draw(0), draw(0), draw(1));
        assert!(a.iter().zip(&b).all(|(x, y)| x.x == y.x && x.z == y.z));
        assert!(a.iter().zip(&c).any(|(x, y)| x.x != y.x));
        for batch in &a {
            match sources[batch.source].source {
                Source::SelfSupervised => {
                    assert_eq!((batch.rows, batch.k), (8, 2));
                    assert_eq!(&batch.z[..4], &[1.0, 0.0, 1.0, 0.0]);
                    assert_eq!(&batch.z[4..], &[0.0, 1.0, 0.0, 1.0]);
                }
                _ => assert_eq!((batch.rows, batch.z.len()), (4, 4 * 50)),
            }
        }
    }

    #[test]
    fn sources_take_turns_in_shuffled_rounds() {
        let bank = bank(&[220; 4]);
        let source = |source| SourceData {
            source,
            tracks: vec![0, 1, 2, 3],
            z: vec![0.0; 4 * 50],
        };
        let sources = vec![
            source(Source::Bpm),
            source(Source::Year),
            source(Source::Tag),
        ];
        let mut s = EpochSampler::new(&bank, &sources, 2, 5, 0);
        let order: Vec<usize> = (0..30).map(|_| s.next_batch().source).collect();
        for round in order.chunks(3) {
            let mut round = round.to_vec();
            round.sort_unstable();
            assert_eq!(round, [0, 1, 2], "{order:?}");
        }
        assert!(
            order.chunks(3).any(|r| r != order[..3].to_vec()),
            "rounds are shuffled: {order:?}"
        );
    }

    #[test]
    fn every_track_is_seen_before_any_repeats() {
        let bank = bank(&[220; 5]);
        let sources = vec![SourceData {
            source: Source::Year,
            tracks: vec![0, 1, 2, 3, 4],
            z: (0..250).map(|v| (v / 50) as f32).collect(),
        }];
        let mut s = EpochSampler::new(&bank, &sources, 5, 1, 0);
        let batch = s.next_batch();
        let mut seen: Vec<f32> = batch.z.chunks(50).map(|z| z[0]).collect();
        seen.sort_by(f32::total_cmp);
        assert_eq!(seen, [0.0, 1.0, 2.0, 3.0, 4.0]);
    }
}
