//! Power spectrogram of one channel, as librosa 0.11's `stft` with
//! `n_fft=1024, hop_length=256, window='hann', center=True,
//! pad_mode='constant'`, then `abs(.)**2`.
//!
//! The window is the periodic Hann window (scipy `get_window('hann', 1024,
//! fftbins=True)`); frame `t` covers samples `t*256 - 512 .. t*256 + 512`,
//! zeros outside the signal. The FFT runs in f64 like librosa's (its window
//! is f64, so numpy transforms in f64).

use std::f64::consts::PI;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use super::{frame_count, HOP, N_BINS, N_FFT};

/// Computes frames of the power spectrum; one instance per thread, reused
/// across channels and tracks (the FFT plan and buffers are kept).
pub struct PowerStft {
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
    input: Vec<f64>,
    output: Vec<realfft::num_complex::Complex<f64>>,
    scratch: Vec<realfft::num_complex::Complex<f64>>,
}

impl Default for PowerStft {
    fn default() -> Self {
        Self::new()
    }
}

impl PowerStft {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        PowerStft {
            window: periodic_hann(N_FFT),
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
        }
    }

    /// `power: [frames, N_BINS]` for `signal`, frames = `1 + len / HOP`,
    /// passed to `sink(t, power_of_frame_t)` in order, so a caller can reduce
    /// each frame (e.g. to mel bands) without holding the whole spectrogram.
    pub fn for_each_frame(&mut self, signal: &[f32], mut sink: impl FnMut(usize, &[f64])) {
        let mut power = vec![0.0f64; N_BINS];
        for t in 0..frame_count(signal.len()) {
            // Sample index of the frame's first point, in the unpadded signal.
            let start = (t * HOP) as isize - (N_FFT / 2) as isize;
            for (i, (slot, w)) in self.input.iter_mut().zip(&self.window).enumerate() {
                let k = start + i as isize;
                *slot = if k >= 0 && (k as usize) < signal.len() {
                    f64::from(signal[k as usize]) * w
                } else {
                    0.0
                };
            }
            // Lengths come from the plan itself, so this cannot fail.
            self.fft
                .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
                .expect("buffers sized by the FFT plan");
            for (p, x) in power.iter_mut().zip(&self.output) {
                *p = x.norm_sqr();
            }
            sink(t, &power);
        }
    }

    /// The whole power spectrogram: `power: [frames, N_BINS]`, row-major.
    pub fn power(&mut self, signal: &[f32]) -> Vec<f64> {
        let mut out = Vec::with_capacity(frame_count(signal.len()) * N_BINS);
        self.for_each_frame(signal, |_, frame| out.extend_from_slice(frame));
        out
    }
}

/// Periodic Hann window of length `n`: `0.5 - 0.5 cos(2 pi i / n)`.
pub fn periodic_hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_and_centering() {
        let mut stft = PowerStft::new();
        // One impulse at sample 1000: frames whose window covers it see it.
        let mut signal = vec![0.0f32; 2000];
        signal[1000] = 1.0;
        let power = stft.power(&signal);
        assert_eq!(power.len(), frame_count(2000) * N_BINS);
        assert_eq!(frame_count(2000), 8);
        for t in 0..8 {
            // A delta gives a flat spectrum of height window(1000 - start)^2.
            let offset = 1000 - (t * HOP) as isize + (N_FFT / 2) as isize;
            let w = if (0..N_FFT as isize).contains(&offset) {
                periodic_hann(N_FFT)[offset as usize]
            } else {
                0.0
            };
            let frame = &power[t * N_BINS..(t + 1) * N_BINS];
            assert!(frame.iter().all(|p| (p - w * w).abs() < 1e-12), "frame {t}");
        }
    }

    #[test]
    fn a_tone_lands_in_its_bin_with_parseval_energy() {
        // 16 cycles per 1024 samples: exactly bin 16.
        let signal: Vec<f32> = (0..8192)
            .map(|i| (2.0 * PI * 16.0 * i as f64 / N_FFT as f64).cos() as f32)
            .collect();
        let power = PowerStft::new().power(&signal);
        let frame = &power[10 * N_BINS..11 * N_BINS];
        let peak = (0..N_BINS).max_by(|&a, &b| frame[a].total_cmp(&frame[b]));
        assert_eq!(peak, Some(16));
        // Hann: main lobe over bins 15..=17 with amplitudes 1/4, 1/2, 1/4 of N/2.
        let amp = N_FFT as f64 / 2.0;
        assert!((frame[16] - (amp / 2.0).powi(2)).abs() / frame[16] < 1e-6);
        assert!((frame[15] - (amp / 4.0).powi(2)).abs() / frame[16] < 1e-6);
        assert!(frame[20] / frame[16] < 1e-12);
    }
}
