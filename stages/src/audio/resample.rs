//! Sample-rate conversion by any rational ratio with a linear-phase
//! Kaiser-windowed sinc filter, evaluated exactly at every output instant
//! (no chunking, no startup delay to trim).
//!
//! librosa.load resamples with soxr's 'hq' recipe. We do not link soxr (a C
//! library); instead the filter is shaped like it: soxr 'hq' is 20-bit
//! quality, passband flat to 0.913 of the lower Nyquist, -3 dB near 0.95,
//! stopband from 1.0 with at least 120 dB rejection, linear phase. Our
//! design has its -6 dB point at 0.9568 (soxr's (0.9136 + 1) / 2), a
//! transition 0.0815 wide and 120 dB Kaiser attenuation; those two numbers
//! were fitted to soxr's measured impulse response, which this design
//! matches to about 1e-4 of its peak (tests/reference/audio measures the
//! rest). Like `librosa.resample`, the output has `ceil(n * to / from)`
//! samples, sample 0 of the output is at time 0 of the input, and the
//! signal is taken to be zero outside its ends.

use std::f64::consts::PI;

use super::AudioError;

/// -6 dB point of the low-pass, as a fraction of the lower Nyquist frequency.
const CUTOFF: f64 = 0.9568;
/// Width of the transition band, as a fraction of the lower Nyquist.
const TRANSITION: f64 = 0.0815;
/// Stopband attenuation the Kaiser window is designed for.
const ATTENUATION_DB: f64 = 120.0;
/// Above this many coefficients, compute them per output sample instead of
/// tabulating every phase (only odd ratios such as 44,101 -> 22,050 Hz).
const MAX_TABLE: usize = 1 << 22;

/// Resamples one channel from `from_hz` to `to_hz`. Equal rates return the
/// input unchanged.
pub fn resample(signal: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    for rate in [from_hz, to_hz] {
        if rate == 0 {
            return Err(AudioError::InvalidSampleRate(rate));
        }
    }
    if from_hz == to_hz {
        return Ok(signal.to_vec());
    }
    let filter = Filter::new(from_hz, to_hz);
    let input: Vec<f64> = signal.iter().map(|&x| f64::from(x)).collect();
    let n = input.len() as u64;
    let (up, down) = (filter.up, filter.down);
    let n_out = (n * up).div_ceil(down) as usize;

    let table = filter.table();
    let mut row = vec![0.0f64; filter.taps()];
    let mut out = Vec::with_capacity(n_out);
    for i in 0..n_out as u64 {
        // Output i is at input time i * down / up = k0 + phase / up.
        let position = i * down;
        let k0 = (position / up) as i64;
        let phase = (position % up) as usize;
        let coefficients = match &table {
            Some(table) => &table[phase * filter.taps()..(phase + 1) * filter.taps()],
            None => {
                filter.fill_row(phase, &mut row);
                &row[..]
            }
        };
        // Tap j (0-based) multiplies input k0 - reach + 1 + j.
        let first = k0 - filter.reach as i64 + 1;
        let lo = first.max(0);
        let hi = (first + filter.taps() as i64).min(input.len() as i64);
        let value = if lo < hi {
            let c = &coefficients[(lo - first) as usize..(hi - first) as usize];
            dot(c, &input[lo as usize..hi as usize])
        } else {
            0.0
        };
        out.push(value as f32);
    }
    Ok(out)
}

/// The low-pass for one ratio, as a function of time in input samples.
struct Filter {
    /// Reduced ratio: `to / from = up / down`.
    up: u64,
    down: u64,
    /// Cutoff in cycles per input sample.
    cutoff: f64,
    /// The kernel is zero at |tau| >= half_width (input samples).
    half_width: f64,
    /// Taps on each side: inputs k0 - reach + 1 ..= k0 + reach.
    reach: usize,
    beta: f64,
    i0_beta: f64,
}

impl Filter {
    fn new(from_hz: u32, to_hz: u32) -> Self {
        let g = gcd(u64::from(from_hz), u64::from(to_hz));
        let (up, down) = (u64::from(to_hz) / g, u64::from(from_hz) / g);
        // Downsampling narrows the filter (in input samples) and widens it.
        let shrink = (f64::from(to_hz) / f64::from(from_hz)).min(1.0);
        // Kaiser's estimate of the length, in samples at the lower rate.
        let length = (ATTENUATION_DB - 7.95) / (2.285 * PI * TRANSITION);
        let half_width = length / 2.0 / shrink;
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        Filter {
            up,
            down,
            cutoff: 0.5 * CUTOFF * shrink,
            half_width,
            reach: half_width.floor() as usize + 1,
            beta,
            i0_beta: bessel_i0(beta),
        }
    }

    fn taps(&self) -> usize {
        2 * self.reach
    }

    /// `h(tau)`: windowed sinc with unit gain at DC.
    fn kernel(&self, tau: f64) -> f64 {
        let r = tau / self.half_width;
        if r.abs() >= 1.0 {
            return 0.0;
        }
        let x = 2.0 * self.cutoff * tau;
        let sinc = if x == 0.0 {
            1.0
        } else {
            (PI * x).sin() / (PI * x)
        };
        2.0 * self.cutoff * sinc * bessel_i0(self.beta * (1.0 - r * r).sqrt()) / self.i0_beta
    }

    /// Coefficients for one phase: tap j multiplies input k0 - reach + 1 + j,
    /// which lies `phase / up + reach - 1 - j` input samples before the output.
    fn fill_row(&self, phase: usize, row: &mut [f64]) {
        let offset = phase as f64 / self.up as f64;
        for (j, c) in row.iter_mut().enumerate() {
            *c = self.kernel(offset + self.reach as f64 - 1.0 - j as f64);
        }
    }

    /// All phases, `[up, taps]`, when that is small enough to hold.
    fn table(&self) -> Option<Vec<f64>> {
        let size = self.up as usize * self.taps();
        (size <= MAX_TABLE).then(|| {
            let mut table = vec![0.0; size];
            for (phase, row) in table.chunks_exact_mut(self.taps()).enumerate() {
                self.fill_row(phase, row);
            }
            table
        })
    }
}

/// Dot product with four running sums (faster without auto-vectorisation).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-17 * sum {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * PI * hz * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    /// Max abs error against the ideal tone away from the ends.
    fn tone_error(out: &[f32], hz: f64, rate: u32, margin: usize) -> f64 {
        let ideal = tone(hz, rate, out.len());
        out[margin..out.len() - margin]
            .iter()
            .zip(&ideal[margin..])
            .map(|(a, b)| f64::from(a - b).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn lengths_follow_librosa() {
        for (n, from, to, want) in [
            (44_100, 44_100, 22_050, 22_050),
            (44_101, 44_100, 22_050, 22_051),
            (1_000, 48_000, 22_050, 460),
            (10, 11_025, 22_050, 20),
            (0, 44_100, 22_050, 0),
        ] {
            assert_eq!(resample(&vec![0.0; n], from, to).unwrap().len(), want);
        }
    }

    #[test]
    fn passband_tones_survive_with_no_delay() {
        for (from, hz) in [
            (44_100, 440.0),
            (48_000, 5_000.0),
            (32_000, 9_000.0),
            (8_000, 3_000.0),
        ] {
            let out = resample(&tone(hz, from, from as usize / 2), from, 22_050).unwrap();
            let err = tone_error(&out, hz, 22_050, 500);
            assert!(err < 1e-4, "{from} Hz, {hz} Hz tone: error {err}");
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_are_removed() {
        // 11,500 Hz cannot exist at 22,050 Hz; without filtering it would
        // alias to 10,550 Hz at full amplitude.
        let out = resample(&tone(11_500.0, 44_100, 22_050), 44_100, 22_050).unwrap();
        let rms = (out[500..10_500]
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            / 1e4)
            .sqrt();
        assert!(rms < 1e-5, "alias rms {rms}");
    }

    #[test]
    fn odd_ratios_without_a_table_agree_with_the_table() {
        // 44,101 -> 22,050 has 22,050 phases: computed per output sample.
        let filter = Filter::new(44_101, 22_050);
        assert!(filter.table().is_none());
        let out = resample(&tone(1_000.0, 44_101, 8_000), 44_101, 22_050).unwrap();
        assert!(tone_error(&out, 1_000.0, 22_050, 500) < 1e-4);
    }

    #[test]
    fn zero_rates_are_errors() {
        assert!(matches!(
            resample(&[0.0], 0, 22_050),
            Err(AudioError::InvalidSampleRate(0))
        ));
        assert!(matches!(
            resample(&[0.0], 22_050, 0),
            Err(AudioError::InvalidSampleRate(0))
        ));
        assert_eq!(
            resample(&[0.25, 0.5], 22_050, 22_050).unwrap(),
            vec![0.25, 0.5]
        );
    }
}
