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
/// (one call with a whole track measured about three times slower). The
/// streaming [`Resampler`] hands soxr the same pieces as a whole-signal
/// call, so both give the same samples.
const CHUNK: usize = 1 << 14;

/// Resamples one channel from `from_hz` to `to_hz`. Equal rates return the
/// input unchanged.
pub fn resample(signal: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    let mut resampler = Resampler::new(from_hz, to_hz)?;
    // Room for soxr's pieces past the end, so that `out` is never regrown.
    let room = resampler.output_len(signal.len()) + 2 * resampler.output_len(CHUNK) + CHUNK + 1024;
    let mut out = Vec::with_capacity(room);
    resampler.push(signal, &mut out)?;
    resampler.finish(&mut out)?;
    Ok(out)
}

/// One channel resampled as it arrives: [`Resampler::push`] the input in
/// pieces of any size, then [`Resampler::finish`]; the output is that of
/// [`resample`] on the whole input, sample for sample.
pub struct Resampler {
    /// None for equal rates.
    soxr: Option<Soxr<Mono<f32>>>,
    from_hz: u32,
    to_hz: u32,
    /// Input not yet handed to soxr (under [`CHUNK`] samples).
    pending: Vec<f32>,
    /// Input samples pushed so far.
    pushed: usize,
    /// Output samples appended so far.
    produced: usize,
}

impl Resampler {
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Resampler, AudioError> {
        for rate in [from_hz, to_hz] {
            if rate == 0 {
                return Err(AudioError::InvalidSampleRate(rate));
            }
        }
        let soxr = (from_hz != to_hz)
            .then(|| {
                Soxr::<Mono<f32>>::new_with_params(
                    f64::from(from_hz),
                    f64::from(to_hz),
                    QualitySpec::new(QualityRecipe::high()),
                    RuntimeSpec::new(1),
                )
            })
            .transpose()
            .map_err(|e| failed(from_hz, to_hz, e))?;
        Ok(Resampler {
            soxr,
            from_hz,
            to_hz,
            pending: Vec::with_capacity(CHUNK),
            pushed: 0,
            produced: 0,
        })
    }

    /// Output samples of `n` input samples: `ceil(n * to / from)`.
    pub fn output_len(&self, n: usize) -> usize {
        (n as u64 * u64::from(self.to_hz)).div_ceil(u64::from(self.from_hz)) as usize
    }

    /// Output samples that no later input changes or cuts: soxr's output is
    /// final as it comes, and the final length is at least
    /// `output_len(pushed)`, more than this.
    pub fn settled(&self) -> usize {
        (self.pushed as u64 * u64::from(self.to_hz) / u64::from(self.from_hz)) as usize
    }

    /// Resamples `input`, appending what soxr gives back to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        let before = out.len();
        self.pushed += input.len();
        let result = self.feed(input, out);
        self.produced += out.len() - before;
        result
    }

    fn feed(&mut self, mut input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        let Some(soxr) = self.soxr.as_mut() else {
            out.extend_from_slice(input);
            return Ok(());
        };
        let (from_hz, to_hz) = (self.from_hz, self.to_hz);
        if !self.pending.is_empty() {
            let take = input.len().min(CHUNK - self.pending.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() < CHUNK {
                return Ok(());
            }
            process(soxr, &self.pending, out, from_hz, to_hz)?;
            self.pending.clear();
        }
        let mut chunks = input.chunks_exact(CHUNK);
        for chunk in &mut chunks {
            process(soxr, chunk, out, from_hz, to_hz)?;
        }
        self.pending.extend_from_slice(chunks.remainder());
        Ok(())
    }

    /// Ends the input, appending the rest to `out`: `output_len(pushed)`
    /// samples in all, soxr's output cut or zero-padded to that (librosa's
    /// `fix_length`). Nothing is to be pushed after.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let want = self.output_len(self.pushed);
        let before = out.len();
        let (from_hz, to_hz) = (self.from_hz, self.to_hz);
        if let Some(soxr) = self.soxr.as_mut() {
            if !self.pending.is_empty() {
                process(soxr, &self.pending, out, from_hz, to_hz)?;
                self.pending.clear();
            }
            // soxr's own rounding of the length: room for a little more.
            while self.produced + out.len() - before < want + 64 {
                let at = out.len();
                out.resize(at + CHUNK, 0.0);
                let drained = soxr
                    .drain(&mut out[at..])
                    .map_err(|e| failed(from_hz, to_hz, e))?;
                out.truncate(at + drained);
                if drained == 0 {
                    break;
                }
            }
        }
        let produced = self.produced + out.len() - before;
        // The samples past `want` are the last ones, still in `out`.
        if produced > want {
            out.truncate(out.len() - (produced - want));
        } else {
            out.resize(out.len() + (want - produced), 0.0);
        }
        self.produced = want;
        Ok(())
    }
}

/// Hands soxr one piece of input, appending its output to `out`.
fn process(
    soxr: &mut Soxr<Mono<f32>>,
    mut input: &[f32],
    out: &mut Vec<f32>,
    from_hz: u32,
    to_hz: u32,
) -> Result<(), AudioError> {
    while !input.is_empty() {
        let at = out.len();
        // Room for all of it and more: soxr then takes the whole piece.
        let room = (input.len() as u64 * u64::from(to_hz)).div_ceil(u64::from(from_hz)) as usize;
        out.resize(at + 2 * room + 1024, 0.0);
        let step = soxr
            .process(input, &mut out[at..])
            .map_err(|e| failed(from_hz, to_hz, e))?;
        out.truncate(at + step.output_frames);
        if step.input_frames == 0 && step.output_frames == 0 {
            break;
        }
        input = &input[step.input_frames..];
    }
    Ok(())
}

fn failed(from_hz: u32, to_hz: u32, e: soxr::Error) -> AudioError {
    AudioError::Resample(format!("{from_hz} -> {to_hz} Hz: {e}"))
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
    fn streaming_in_any_pieces_gives_the_same_samples() {
        for (from, n) in [
            (44_100, 100_000),
            (48_000, 70_001),
            (8_000, 40_000),
            (22_050, 5_000),
        ] {
            let signal = tone(1_234.5, from, n);
            let whole = resample(&signal, from, 22_050).unwrap();
            let mut resampler = Resampler::new(from, 22_050).unwrap();
            let mut out = Vec::new();
            let mut rest = &signal[..];
            for size in [1, 999, 16_384, 7, 40_000].iter().cycle() {
                let (piece, tail) = rest.split_at((*size).min(rest.len()));
                resampler.push(piece, &mut out).unwrap();
                rest = tail;
                if rest.is_empty() {
                    break;
                }
            }
            resampler.finish(&mut out).unwrap();
            assert!(out == whole, "{from} Hz: streamed samples differ");
        }
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
