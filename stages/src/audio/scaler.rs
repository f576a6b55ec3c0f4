//! Per-band standardisation of dB mels (SPEC 3): mean and population std of
//! each of the 128 bands over every frame of every channel of the training
//! mels, accumulated in f64.
//!
//! Statistics are kept as (count, mean, sum of squared deviations) per band
//! and merged with Chan et al.'s formula, so tracks can be folded in one at a
//! time or in parallel partial sums without the cancellation of sum-of-squares.

use super::{AudioError, MelDb, N_MELS};

/// Running per-band statistics; fold mels in with [`add`](Self::add), combine
/// partial results with [`merge`](Self::merge).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalerAccumulator {
    count: u64,
    mean: [f64; N_MELS],
    m2: [f64; N_MELS],
}

impl Default for ScalerAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalerAccumulator {
    pub fn new() -> Self {
        ScalerAccumulator {
            count: 0,
            mean: [0.0; N_MELS],
            m2: [0.0; N_MELS],
        }
    }

    /// Frames seen so far (each channel's frame counts once).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Folds in every frame of both channels of one mel `[2, T, 128]`.
    pub fn add(&mut self, mel: &MelDb) {
        assert_eq!(mel.bands, N_MELS, "scaler expects {N_MELS} mel bands");
        let n = mel.channels * mel.frames;
        if n == 0 {
            return;
        }
        // Two passes over this mel, then one merge.
        let mut mean = [0.0f64; N_MELS];
        for frame in mel.data.chunks_exact(N_MELS) {
            for (m, &x) in mean.iter_mut().zip(frame) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut m2 = [0.0f64; N_MELS];
        for frame in mel.data.chunks_exact(N_MELS) {
            for ((s, &x), m) in m2.iter_mut().zip(frame).zip(&mean) {
                let d = f64::from(x) - m;
                *s += d * d;
            }
        }
        self.merge(&ScalerAccumulator {
            count: n as u64,
            mean,
            m2,
        });
    }

    /// Combines another accumulator's frames into this one.
    pub fn merge(&mut self, other: &ScalerAccumulator) {
        if other.count == 0 {
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        for b in 0..N_MELS {
            let d = other.mean[b] - self.mean[b];
            self.mean[b] += d * nb / n;
            self.m2[b] += other.m2[b] + d * d * na * nb / n;
        }
        self.count += other.count;
    }

    /// The fitted scaler; an error if no frame was added.
    pub fn finish(&self) -> Result<Scaler, AudioError> {
        if self.count == 0 {
            return Err(AudioError::EmptyScaler);
        }
        let n = self.count as f64;
        let mut std = [0.0; N_MELS];
        for (s, m2) in std.iter_mut().zip(&self.m2) {
            *s = (m2 / n).sqrt();
        }
        Ok(Scaler {
            mean: self.mean,
            std,
        })
    }
}

/// Per-band mean and population std (128 each).
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    pub mean: [f64; N_MELS],
    pub std: [f64; N_MELS],
}

impl Scaler {
    /// Leaves every band as it is (mean 0, std 1): for mels that are
    /// standardised already, as the model tests' and benchmarks' are.
    pub fn identity() -> Scaler {
        Scaler {
            mean: [0.0; N_MELS],
            std: [1.0; N_MELS],
        }
    }

    /// Fits on a set of mels.
    pub fn fit<'a>(mels: impl IntoIterator<Item = &'a MelDb>) -> Result<Scaler, AudioError> {
        let mut acc = ScalerAccumulator::new();
        mels.into_iter().for_each(|m| acc.add(m));
        acc.finish()
    }

    /// `(x - mean[b]) / std[b]` for every value; a band with zero spread
    /// (e.g. always at the floor) is only centred, as scikit-learn does,
    /// so the result is never NaN or infinite.
    pub fn apply(&self, mel: &MelDb) -> MelDb {
        assert_eq!(mel.bands, N_MELS, "scaler expects {N_MELS} mel bands");
        let scale: Vec<f64> = self
            .std
            .iter()
            .map(|&s| if s > 0.0 { 1.0 / s } else { 1.0 })
            .collect();
        let mut out = mel.clone();
        for frame in out.data.chunks_exact_mut(N_MELS) {
            for ((x, m), s) in frame.iter_mut().zip(&self.mean).zip(&scale) {
                *x = ((f64::from(*x) - m) * s) as f32;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Mel;

    fn mel(frames: usize, f: impl Fn(usize, usize, usize) -> f32) -> MelDb {
        let mut data = Vec::new();
        for c in 0..2 {
            for t in 0..frames {
                for b in 0..N_MELS {
                    data.push(f(c, t, b));
                }
            }
        }
        Mel {
            channels: 2,
            frames,
            bands: N_MELS,
            data,
        }
    }

    #[test]
    fn matches_direct_statistics_and_merging_is_exact() {
        let a = mel(50, |c, t, b| {
            (b as f32) - 60.0 + ((t * 7 + c * 3) % 11) as f32
        });
        let b = mel(31, |c, t, b| {
            -(b as f32) * 0.5 + ((t * 5 + c) % 13) as f32 * 2.0
        });
        let fitted = Scaler::fit([&a, &b]).unwrap();
        for band in [0, 17, 127] {
            let all: Vec<f64> = [&a, &b]
                .iter()
                .flat_map(|m| m.data.chunks_exact(N_MELS).map(move |f| f64::from(f[band])))
                .collect();
            let n = all.len() as f64;
            let mean = all.iter().sum::<f64>() / n;
            let std = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
            assert!((fitted.mean[band] - mean).abs() < 1e-10);
            assert!((fitted.std[band] - std).abs() < 1e-10);
        }
        // Merging two partial accumulators equals adding both in one.
        let (mut left, mut right) = (ScalerAccumulator::new(), ScalerAccumulator::new());
        left.add(&a);
        right.add(&b);
        left.merge(&right);
        let merged = left.finish().unwrap();
        for band in 0..N_MELS {
            assert!((merged.mean[band] - fitted.mean[band]).abs() < 1e-10);
            assert!((merged.std[band] - fitted.std[band]).abs() < 1e-10);
        }
        assert_eq!(left.count(), 2 * (50 + 31));
    }

    #[test]
    fn applying_standardises_and_survives_constant_bands() {
        let a = mel(40, |_, t, b| {
            if b == 5 {
                -100.0
            } else {
                (t as f32) * 0.3 + b as f32
            }
        });
        let scaler = Scaler::fit([&a]).unwrap();
        assert_eq!(scaler.std[5], 0.0);
        let z = scaler.apply(&a);
        assert!(z.data.iter().all(|x| x.is_finite()));
        let fitted = Scaler::fit([&z]).unwrap();
        for band in 0..N_MELS {
            assert!(fitted.mean[band].abs() < 1e-5);
            let want = if band == 5 { 0.0 } else { 1.0 };
            assert!((fitted.std[band] - want).abs() < 1e-5);
        }
    }

    #[test]
    fn an_empty_scaler_is_an_error() {
        assert!(matches!(
            Scaler::fit(std::iter::empty::<&MelDb>()),
            Err(AudioError::EmptyScaler)
        ));
    }
}
