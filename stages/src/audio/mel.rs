//! Mel spectrograms: the 128-band Slaney filter bank (librosa.filters.mel
//! defaults: Slaney scale, Slaney area normalisation, fmin 0, fmax sr/2),
//! its application to power spectra, and librosa's `power_to_db` with
//! `ref=1.0, amin=1e-10, top_db=80` taken over the whole `[2, T, 128]` array.
//!
//! After the FFT (f64, see [`super::stft`]) all in f32, as librosa
//! computes it (its spectrogram is complex64, its filter bank float32, its
//! mel an f32 matrix product). Frames go through STFT, power and the
//! band-limited filter sums one at a time, in blocks of frames spread over
//! rayon's threads, so a long track uses every core.

use rayon::prelude::*;

use super::stft::{centered_start, PowerStft};
use super::{frame_count, Stereo, AMIN, CHANNELS, HOP, N_FFT, N_MELS, SAMPLE_RATE, TOP_DB};

/// Frames per parallel task: large enough that planning an FFT per task
/// costs nothing, small enough to spread a 30 s preview over the cores.
const BLOCK: usize = 512;

/// A mel spectrogram: `data: [channels, frames, bands]` row-major (see the
/// module doc of [`crate::audio`]); element `(c, t, b)` is at
/// `(c * frames + t) * bands + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mel<T> {
    pub channels: usize,
    pub frames: usize,
    pub bands: usize,
    pub data: Vec<T>,
}

/// Mel power (linear), f32: `[2, T, 128]`. The MFCC baseline starts here.
pub type MelPower = Mel<f32>;
/// Mel power in dB after the 80 dB floor, f32: `[2, T, 128]`. What the
/// pipeline stores and the network sees.
pub type MelDb = Mel<f32>;

impl<T: Copy> Mel<T> {
    /// Value at channel `c`, frame `t`, band `b`.
    pub fn at(&self, c: usize, t: usize, b: usize) -> T {
        self.data[(c * self.frames + t) * self.bands + b]
    }

    /// One channel: `[frames, bands]`.
    pub fn channel(&self, c: usize) -> &[T] {
        let len = self.frames * self.bands;
        &self.data[c * len..(c + 1) * len]
    }

    /// One frame of one channel: `[bands]`.
    pub fn frame(&self, c: usize, t: usize) -> &[T] {
        let start = (c * self.frames + t) * self.bands;
        &self.data[start..start + self.bands]
    }
}

/// Slaney mel scale (librosa `hz_to_mel(htk=False)`): linear below 1 kHz,
/// logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// Triangular mel filters, stored sparsely: band `b` weights bins
/// `start[b] .. start[b] + weights[b].len()`.
#[derive(Debug, Clone)]
pub struct MelFilterBank {
    n_bins: usize,
    start: Vec<usize>,
    weights: Vec<Vec<f32>>,
}

impl MelFilterBank {
    /// The study's bank: 22,050 Hz, n_fft 1024, 128 bands, 0 .. 11,025 Hz.
    pub fn standard() -> Self {
        let sr = f64::from(SAMPLE_RATE);
        Self::slaney(sr, N_FFT, N_MELS, 0.0, sr / 2.0)
    }

    /// librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False,
    /// norm='slaney'), including its float32 weights: each weight is rounded
    /// to f32 where librosa rounds it, so the bank is bit-identical.
    pub fn slaney(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let n_bins = n_fft / 2 + 1;
        // np.fft.rfftfreq(n_fft, 1/sr)
        let bin_hz = 1.0 / (n_fft as f64 * (1.0 / sr));
        let fft_freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * bin_hz).collect();
        // np.linspace(min_mel, max_mel, n_mels + 2), then back to Hz.
        let (min_mel, max_mel) = (hz_to_mel(fmin), hz_to_mel(fmax));
        let n_points = n_mels + 2;
        let step = (max_mel - min_mel) / (n_points - 1) as f64;
        let mel_f: Vec<f64> = (0..n_points)
            .map(|i| {
                if i == n_points - 1 {
                    mel_to_hz(max_mel)
                } else {
                    mel_to_hz(i as f64 * step + min_mel)
                }
            })
            .collect();

        let mut start = Vec::with_capacity(n_mels);
        let mut weights = Vec::with_capacity(n_mels);
        for i in 0..n_mels {
            let (lo, mid, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
            let enorm = 2.0 / (hi - lo);
            let dense: Vec<f32> = fft_freqs
                .iter()
                .map(|&f| {
                    let lower = -(lo - f) / (mid - lo);
                    let upper = (hi - f) / (hi - mid);
                    let tri = 0f64.max(lower.min(upper)) as f32;
                    (f64::from(tri) * enorm) as f32
                })
                .collect();
            let first = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = dense
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(first, |l| l + 1);
            start.push(first);
            weights.push(dense[first..last].to_vec());
        }
        MelFilterBank {
            n_bins,
            start,
            weights,
        }
    }

    pub fn bands(&self) -> usize {
        self.weights.len()
    }

    /// Dense weights: `[bands, bins]`.
    pub fn dense(&self) -> Vec<Vec<f32>> {
        (0..self.bands())
            .map(|b| {
                let mut row = vec![0.0; self.n_bins];
                row[self.start[b]..self.start[b] + self.weights[b].len()]
                    .copy_from_slice(&self.weights[b]);
                row
            })
            .collect()
    }

    /// `mel[b] = sum_k weights[b][k] * power[k]` for one frame, over each
    /// band's non-zero bins only (about 2 per bin instead of 128).
    pub fn apply(&self, power: &[f32], mel: &mut [f32]) {
        for ((out, &start), weights) in mel.iter_mut().zip(&self.start).zip(&self.weights) {
            *out = weights
                .iter()
                .zip(&power[start..start + weights.len()])
                .map(|(w, p)| w * p)
                .sum();
        }
    }
}

/// Mel power of both channels: `[2, T, 128]`, T = `1 + len / 256`. The
/// signal must be at 22,050 Hz (the filter bank is built for that rate).
pub fn mel_power(stereo: &Stereo) -> MelPower {
    debug_assert_eq!(stereo.sample_rate, SAMPLE_RATE, "resample before the mel");
    let bank = MelFilterBank::standard();
    let frames = frame_count(stereo.len());
    let mut data = vec![0.0f32; CHANNELS * frames * N_MELS];
    for (channel, signal) in data.chunks_exact_mut(frames * N_MELS).zip(&stereo.channels) {
        power_frames(&bank, signal, 0, 0, channel);
    }
    Mel {
        channels: CHANNELS,
        frames,
        bands: N_MELS,
        data,
    }
}

/// Mel power of frames `first ..` of one channel into `out: [frames,
/// bands]`, from `piece`, the channel's samples from sample `offset` on
/// (zeros outside it). Blocks of frames go to rayon's threads.
pub(crate) fn power_frames(
    bank: &MelFilterBank,
    piece: &[f32],
    offset: usize,
    first: usize,
    out: &mut [f32],
) {
    stft_mel_frames(bank, N_FFT, HOP, piece, offset, first, out);
}

/// [`power_frames`] for any FFT length and hop (centered frames, periodic
/// Hann window of `n_fft`): `out: [frames, bank.bands()]`. `bank` must be
/// built for `n_fft`.
pub fn stft_mel_frames(
    bank: &MelFilterBank,
    n_fft: usize,
    hop: usize,
    piece: &[f32],
    offset: usize,
    first: usize,
    out: &mut [f32],
) {
    assert_eq!(bank.n_bins, n_fft / 2 + 1, "a filter bank for another FFT");
    let bands = bank.bands();
    out.par_chunks_mut(BLOCK * bands).enumerate().for_each_init(
        || PowerStft::with_len(n_fft),
        |stft, (block, out)| {
            for (i, mel) in out.chunks_exact_mut(bands).enumerate() {
                let start = centered_start(first + block * BLOCK + i, hop, n_fft) - offset as isize;
                bank.apply(stft.frame(piece, start), mel);
            }
        },
    );
}

/// librosa `power_to_db(S, ref=1.0, amin=1e-10, top_db=80)` over the whole
/// array: `10 log10(max(S, 1e-10))`, then floored at (max - 80 dB). Total
/// silence is -100 dB everywhere.
pub fn power_to_db(power: &MelPower) -> MelDb {
    into_db(power.clone())
}

/// [`power_to_db`] in place, for a track's only copy of its mel power.
pub fn into_db(mut power: MelPower) -> MelDb {
    power
        .data
        .par_chunks_mut(BLOCK * N_MELS)
        .for_each(|c| c.iter_mut().for_each(|p| *p = decibels(*p)));
    floor_below_max(&mut power.data);
    power
}

/// `10 log10(max(p, AMIN))`, branch-free so that it vectorises (libm's
/// `log10f` does not): the exponent
/// from the bits, the log of the mantissa in [sqrt(1/2), sqrt(2)) by its
/// atanh series, good to about 1e-7 relative (f32's own rounding).
pub(crate) fn decibels(p: f32) -> f32 {
    const SQRT_HALF_BITS: u32 = 0x3F35_04F3;
    let bits = p.max(AMIN as f32).to_bits();
    let exponent = (bits.wrapping_sub(SQRT_HALF_BITS) as i32) >> 23;
    let m = f32::from_bits(bits.wrapping_sub((exponent as u32) << 23));
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 / 9.0)));
    let ln = exponent as f32 * std::f32::consts::LN_2 + 2.0 * s * series;
    ln * (10.0 / std::f32::consts::LN_10)
}

/// librosa's `top_db` floor: every value at least (max - 80 dB).
pub(crate) fn floor_below_max(db: &mut [f32]) {
    let max = db
        .par_chunks(BLOCK * N_MELS)
        .map(|c| c.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        .reduce(|| f32::NEG_INFINITY, f32::max);
    let floor = max - TOP_DB as f32;
    db.par_chunks_mut(BLOCK * N_MELS)
        .for_each(|c| c.iter_mut().for_each(|d| *d = d.max(floor)));
}

/// The mel stage's output for a 22,050 Hz stereo signal: `[2, T, 128]` dB.
pub fn mel_db(stereo: &Stereo) -> MelDb {
    power_to_db(&mel_power(stereo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips_and_is_slaney() {
        assert_eq!(hz_to_mel(0.0), 0.0);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9); // 15 + 27 log steps
        for hz in [0.0, 50.0, 999.0, 1000.0, 4321.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9 * hz.max(1.0));
        }
    }

    #[test]
    fn filter_bank_is_area_normalised_and_covers_the_band() {
        let bank = MelFilterBank::standard();
        assert_eq!(bank.bands(), N_MELS);
        let dense = bank.dense();
        let bin_hz = f64::from(SAMPLE_RATE) / N_FFT as f64;
        for (b, row) in dense.iter().enumerate() {
            assert!(row.iter().all(|&w| w >= 0.0));
            assert!(row.iter().any(|&w| w > 0.0), "band {b} is empty");
            // Slaney norm: each triangle's area in Hz is 1, which the bins
            // sample well once a triangle spans many of them.
            let area: f64 = row.iter().map(|&w| f64::from(w)).sum::<f64>() * bin_hz;
            if b >= 100 {
                assert!((area - 1.0).abs() < 0.02, "band {b} area {area}");
            }
        }
        // Band centres rise; the last band ends at Nyquist.
        let peaks: Vec<usize> = dense
            .iter()
            .map(|r| {
                (0..r.len())
                    .max_by(|&a, &b| r[a].total_cmp(&r[b]))
                    .unwrap_or(0)
            })
            .collect();
        assert!(peaks.windows(2).all(|p| p[0] <= p[1]));
        assert!(dense[N_MELS - 1][super::super::N_BINS - 2] > 0.0);
    }

    #[test]
    fn decibels_agree_with_log10() {
        let mut p = 1e-12f32;
        while p < 1e6 {
            let want = 10.0 * f64::from(p.max(AMIN as f32)).log10();
            let got = f64::from(decibels(p));
            // Within a few f32 rounding steps of the exact value.
            let tolerance = 4.0 * f64::from(f32::EPSILON) * want.abs().max(1.0);
            assert!((got - want).abs() < tolerance, "{p}: {got} vs {want}");
            p *= 1.0173;
        }
        assert_eq!(decibels(0.0), decibels(AMIN as f32));
    }

    #[test]
    fn silence_is_minus_100_db_and_never_nan() {
        let silence = Stereo {
            channels: [vec![0.0; 5000], vec![0.0; 5000]],
            sample_rate: SAMPLE_RATE,
        };
        let mel = mel_db(&silence);
        assert_eq!(
            (mel.channels, mel.frames, mel.bands),
            (2, 1 + 5000 / 256, 128)
        );
        assert!(mel.data.iter().all(|&d| d == -100.0));
    }

    #[test]
    fn floor_is_80_db_below_the_global_maximum() {
        // Loud tone in the left channel, near-silence in the right: the
        // right channel is floored at the left channel's max - 80.
        let tone: Vec<f32> = (0..22050).map(|i| (i as f32 * 0.1).sin() * 0.5).collect();
        let quiet: Vec<f32> = tone.iter().map(|x| x * 1e-6).collect();
        let mel = mel_db(&Stereo {
            channels: [tone, quiet],
            sample_rate: SAMPLE_RATE,
        });
        let max = mel.data.iter().copied().fold(f32::MIN, f32::max);
        let min = mel.data.iter().copied().fold(f32::MAX, f32::min);
        assert!((max - min - 80.0).abs() < 1e-3, "range {min} .. {max}");
        assert!(mel.channel(1).iter().all(|&d| (d - min).abs() < 1e-3));
        assert!(mel.channel(0).iter().any(|&d| d > min + 70.0));
    }

    #[test]
    fn short_and_empty_signals_have_defined_frames() {
        for n in [0usize, 1, 255, 256, 1023] {
            let mel = mel_db(&Stereo {
                channels: [vec![0.1; n], vec![-0.1; n]],
                sample_rate: SAMPLE_RATE,
            });
            assert_eq!(mel.frames, 1 + n / 256);
            assert!(mel.data.iter().all(|d| d.is_finite()));
        }
    }
}
