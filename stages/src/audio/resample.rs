//! Sample-rate conversion with libsoxr's 'hq' recipe, the resampler
//! librosa.load uses by default (`res_type='soxr_hq'`): linear phase,
//! 20-bit quality, passband flat to 0.913 of the lower Nyquist. Linking the
//! library itself (Debian's libsoxr, LGPL-2.1, through the `soxr` crate)
//! gives librosa's samples, not an imitation of them, at soxr's speed
//! (multi-stage half-band and FFT filters instead of one long FIR).
//!
//! Like `librosa.resample`, the output has `ceil(n * to / from)` samples
//! (soxr's output cut or zero-padded to that, librosa's `fix_length`) and
//! sample 0 of the output is at time 0 of the input (soxr removes its own
//! delay).

use soxr::format::Mono;
use soxr::params::{QualityRecipe, QualitySpec, RuntimeSpec};
use soxr::Soxr;

use super::AudioError;

/// Input samples handed to soxr per call: its buffers stay in cache
/// (one call with a whole track measured about three times slower).
const CHUNK: usize = 1 << 14;

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
    let failed = |e: soxr::Error| AudioError::Resample(format!("{from_hz} -> {to_hz} Hz: {e}"));
    let mut soxr = Soxr::<Mono<f32>>::new_with_params(
        f64::from(from_hz),
        f64::from(to_hz),
        QualitySpec::new(QualityRecipe::high()),
        RuntimeSpec::new(1),
    )
    .map_err(failed)?;
    let n_out = (signal.len() as u64 * u64::from(to_hz)).div_ceil(u64::from(from_hz)) as usize;
    // Room for soxr's own rounding of the length; the rest is cut below.
    let mut out = vec![0.0f32; n_out + 64];
    let (mut consumed, mut produced) = (0, 0);
    while consumed < signal.len() && produced < out.len() {
        let chunk = &signal[consumed..(consumed + CHUNK).min(signal.len())];
        let step = soxr.process(chunk, &mut out[produced..]).map_err(failed)?;
        if step.input_frames == 0 && step.output_frames == 0 {
            break;
        }
        consumed += step.input_frames;
        produced += step.output_frames;
    }
    while produced < out.len() {
        let step = soxr.drain(&mut out[produced..]).map_err(failed)?;
        if step == 0 {
            break;
        }
        produced += step;
    }
    out.truncate(produced.min(n_out));
    out.resize(n_out, 0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

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
            (44_101, 1_000.0),
        ] {
            let out = resample(&tone(hz, from, from as usize / 2), from, 22_050).unwrap();
            let err = tone_error(&out, hz, 22_050, 500);
            // soxr 'hq' allows 0.01 dB of passband ripple: 0.12% of amplitude.
            assert!(err < 1.2e-3, "{from} Hz, {hz} Hz tone: error {err}");
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
