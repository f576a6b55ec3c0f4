//! musicnn's front end (musicnn 0.1.0, `extractor.batch_data`), for the
//! pre-trained baseline of the `musicnn` stage: file bytes -> the log-mel
//! patches its VGG takes. The pieces are the study's front end's, at
//! musicnn's settings, so the same librosa checks hold:
//!
//! 1. [`decode`](super::decode()) the file; the channels' plain mean
//!    (librosa.load's `mono=True`: `np.mean` over channels, in f32), not
//!    the study's stereo downmix;
//! 2. [`resample`](super::resample()) to 16,000 Hz (libsoxr 'hq', as
//!    `librosa.load(sr=16000)`);
//! 3. power STFT of 512 points, hop 256, centered with zero padding
//!    (librosa 0.11's `pad_mode='constant'`; the librosa of 2019 musicnn
//!    was made with padded by reflection, which changes the first and last
//!    frame only), and 96 Slaney mel bands over 0 .. 8,000 Hz
//!    (`librosa.feature.melspectrogram(sr=16000, hop_length=256,
//!    n_fft=512, n_mels=96)`): `T = 1 + N / 256` frames;
//! 4. `log10(10000 x + 1)` as musicnn computes it: on the mel cast to
//!    float16, in float16 arithmetic (numpy's: each step computed in f32
//!    and rounded to f16). A mel power above 6.55 makes `10000 x` overflow
//!    to inf, as it does in musicnn (0.2-0.7% of the bins of loud music);
//!    we keep that inf, because the network's answer to it is defined (see
//!    torch_stages' musicnn network: TensorFlow's ReLU turns the NaN it
//!    makes into 0), and the published model was trained with it;
//! 5. non-overlapping patches of 187 frames (~3 s): frames `0..187`,
//!    `187..374`, ...; the frames after the last whole patch are dropped,
//!    as `batch_data` drops them. A track of fewer than 187 frames (under
//!    2.98 s), which `batch_data` cannot batch at all, is repeat-padded:
//!    its log-mel repeated from the start until it fills one patch, as
//!    musicnn's training did (`pad_short: repeat-pad` in its config).
//!
//! Layout: a log-mel is `[frames, 96]` row-major (band fastest), a batch
//! of patches `[patches, 187, 96]`: time on the network's height axis, as
//! musicnn's `[N, 187, 96]` placeholder.

use half::f16;

use super::mel::{stft_mel_frames, MelFilterBank};
use super::{decode, decode_prefix, resample, AudioError, Ending};

/// musicnn's sample rate (its `configuration.SR`).
pub const SAMPLE_RATE: u32 = 16_000;
/// FFT length (`FFT_SIZE`).
pub const N_FFT: usize = 512;
/// Hop (`FFT_HOP`).
pub const HOP: usize = 256;
/// Mel bands (`N_MELS`).
pub const N_MELS: usize = 96;
/// Frames of one patch: `librosa.time_to_frames(3, sr=16000, n_fft=512,
/// hop_length=256) + 1`, the VGG's fixed input length.
pub const PATCH_FRAMES: usize = 187;
/// Floats of one patch.
pub const PATCH_LEN: usize = PATCH_FRAMES * N_MELS;

/// One track through musicnn's front end, up to its log-mel.
#[derive(Debug, Clone)]
pub struct LogMel {
    /// `[frames, 96]`, row-major.
    pub data: Vec<f32>,
    pub frames: usize,
    /// Samples at 16,000 Hz.
    pub samples: usize,
    pub source_sample_rate: u32,
    pub source_channels: usize,
    pub ending: Ending,
}

impl LogMel {
    /// The patches of this log-mel: `[patches, 187, 96]` and their count
    /// (at least one: see the module doc for a short track).
    pub fn patches(&self) -> (Vec<f32>, usize) {
        patches(&self.data, self.frames)
    }

    /// Whether this track was shorter than one patch (and repeat-padded).
    pub fn repeat_padded(&self) -> bool {
        self.frames < PATCH_FRAMES
    }
}

/// File bytes -> musicnn's log-mel. `max_seconds` stops decoding early.
pub fn log_mel_from_bytes(bytes: &[u8], max_seconds: Option<f64>) -> Result<LogMel, AudioError> {
    let decoded = match max_seconds {
        Some(seconds) => decode_prefix(bytes, seconds)?,
        None => decode(bytes)?,
    };
    let mono = channel_mean(&decoded.channels);
    let signal = resample(&mono, decoded.sample_rate, SAMPLE_RATE)?;
    drop(mono);
    let (data, frames) = log_mel(&signal);
    Ok(LogMel {
        data,
        frames,
        samples: signal.len(),
        source_sample_rate: decoded.sample_rate,
        source_channels: decoded.channels.len(),
        ending: Ending {
            skipped_packets: decoded.skipped_packets,
            end: decoded.end,
        },
    })
}

/// librosa's `to_mono`: `np.mean(y, axis=0)` in f32, the channels summed
/// in order and the sum divided by their count.
pub fn channel_mean(channels: &[Vec<f32>]) -> Vec<f32> {
    match channels {
        [] => Vec::new(),
        [one] => one.clone(),
        [first, rest @ ..] => {
            let mut sum = first.clone();
            for channel in rest {
                for (s, x) in sum.iter_mut().zip(channel) {
                    *s += x;
                }
            }
            let n = channels.len() as f32;
            sum.iter_mut().for_each(|s| *s /= n);
            sum
        }
    }
}

/// A 16,000 Hz signal -> musicnn's log-mel `[frames, 96]` and `frames`.
pub fn log_mel(signal: &[f32]) -> (Vec<f32>, usize) {
    let (mut data, frames) = mel_power(signal);
    data.iter_mut().for_each(|x| *x = log_compress(*x));
    (data, frames)
}

/// A 16,000 Hz signal -> its mel power `[frames, 96]` (librosa's
/// melspectrogram at musicnn's settings, transposed) and `frames`.
pub fn mel_power(signal: &[f32]) -> (Vec<f32>, usize) {
    let bank = MelFilterBank::slaney(f64::from(SAMPLE_RATE), N_FFT, N_MELS, 0.0, 8_000.0);
    let frames = 1 + signal.len() / HOP;
    let mut data = vec![0.0f32; frames * N_MELS];
    stft_mel_frames(&bank, N_FFT, HOP, signal, 0, 0, &mut data);
    (data, frames)
}

/// f32 -> the nearest float16 (ties to even), back as f32: numpy's
/// `astype(np.float16)` and the rounding of each float16 operation.
fn half(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

/// musicnn's `np.log10(10000 * x.astype(np.float16) + 1)`, every step
/// rounded to float16 as numpy does (the product of two float16 is exact
/// in f32, so rounding it once is numpy's result); inf where `10000 x`
/// passes float16's largest value (65,504).
pub fn log_compress(power: f32) -> f32 {
    compress_half(half(power))
}

/// [`log_compress`] of a mel power already rounded to float16.
fn compress_half(h: f32) -> f32 {
    let scaled = half(10_000.0 * h);
    let shifted = half(scaled + 1.0);
    half(shifted.log10())
}

/// `[patches, 187, 96]` of a log-mel of `frames` frames (see the module
/// doc), and the patch count.
pub fn patches(log_mel: &[f32], frames: usize) -> (Vec<f32>, usize) {
    debug_assert_eq!(log_mel.len(), frames * N_MELS);
    if frames >= PATCH_FRAMES {
        let count = (frames - PATCH_FRAMES) / PATCH_FRAMES + 1;
        return (log_mel[..count * PATCH_LEN].to_vec(), count);
    }
    let frame_data = frames * N_MELS;
    if frame_data == 0 {
        return (vec![0.0; PATCH_LEN], 1);
    }
    let patch = log_mel.iter().copied().cycle().take(PATCH_LEN).collect();
    (patch, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_compress_rounds_like_numpy_float16() {
        // Silence is log10(1) = 0.
        assert_eq!(log_compress(0.0), 0.0);
        // 1.0: 10001 rounds to 10000 in float16 (spacing 8), log10 = 4.
        assert_eq!(log_compress(1.0), 4.0);
        // Values from numpy 2.4: np.log10(10000 * np.float16(x) + 1).
        assert_eq!(log_compress(1e-3), 1.041_992_2);
        // numpy: 10000 * np.float16(50) overflows to inf.
        assert_eq!(log_compress(50.0), f32::INFINITY);
        assert!(log_compress(6.5).is_finite());
        assert_eq!(log_compress(6.6), f32::INFINITY);
    }

    #[test]
    fn patches_drop_the_tail_and_repeat_pad_a_short_track() {
        let frames = 2 * PATCH_FRAMES + 10;
        let mel: Vec<f32> = (0..frames * N_MELS).map(|i| i as f32).collect();
        let (p, n) = patches(&mel, frames);
        assert_eq!((n, p.len()), (2, 2 * PATCH_LEN));
        assert_eq!(p[..], mel[..2 * PATCH_LEN]);

        let short: Vec<f32> = (0..50 * N_MELS).map(|i| i as f32).collect();
        let (p, n) = patches(&short, 50);
        assert_eq!((n, p.len()), (1, PATCH_LEN));
        for t in 0..PATCH_FRAMES {
            assert_eq!(
                p[t * N_MELS..(t + 1) * N_MELS],
                short[(t % 50) * N_MELS..(t % 50 + 1) * N_MELS],
                "frame {t}"
            );
        }
    }

    #[test]
    fn the_mean_of_channels_is_numpys() {
        let l = vec![0.1f32, -0.5, 0.25];
        let r = vec![0.3f32, 0.5, 1.0];
        assert_eq!(
            channel_mean(&[l.clone(), r.clone()]),
            vec![(0.1f32 + 0.3) / 2.0, 0.0, 0.625]
        );
        assert_eq!(channel_mean(std::slice::from_ref(&l)), l);
    }

    #[test]
    fn frames_are_centered_like_librosa() {
        // 1 s at 16 kHz: 1 + 16000 / 256 = 63 frames.
        let tone: Vec<f32> = (0..16_000)
            .map(|i| 0.1 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 16_000.0).sin())
            .collect();
        let (mel, frames) = log_mel(&tone);
        assert_eq!(frames, 63);
        assert_eq!(mel.len(), 63 * N_MELS);
        assert!(mel.iter().all(|x| x.is_finite() && *x >= 0.0));
    }
}

/// Against musicnn's own front end on the reference clip
/// (tests/reference/musicnn/make_reference.py: librosa 0.11, numpy 2.4).
#[cfg(test)]
mod reference {
    use super::*;

    fn reference(file: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/reference/musicnn/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn floats(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// float16 `h` moved by `steps` representable values.
    fn f16_step(h: f32, steps: i32) -> f32 {
        let bits = f16::from_f32(h).to_bits() as i32 + steps;
        f16::from_bits(bits.max(0) as u16).to_f32()
    }

    #[test]
    fn musicnn_log_mel_is_librosas_up_to_float16_rounding() {
        let bytes = reference("clip.flac");
        let ours = log_mel_from_bytes(&bytes, None).unwrap();
        let want = floats(&reference("logmel.f32"));
        assert_eq!(ours.frames * N_MELS, want.len());
        assert_eq!((ours.source_sample_rate, ours.source_channels), (22_050, 2));
        // Our mel power, to see where a difference comes from.
        let decoded = decode(&bytes).unwrap();
        let mono = resample(&channel_mean(&decoded.channels), 22_050, SAMPLE_RATE).unwrap();
        let (power, _) = mel_power(&mono);
        let (mut flips, mut max_err, mut infs) = (0usize, 0f32, 0usize);
        for (i, (&a, &b)) in ours.data.iter().zip(&want).enumerate() {
            let at = format!("bin {i} (frame {}, band {})", i / N_MELS, i % N_MELS);
            assert_eq!(a, log_compress(power[i]), "{at}");
            if a == b {
                infs += usize::from(a.is_infinite());
                continue;
            }
            // Where the power lies within an f32 rounding of a float16
            // boundary, `astype(float16)` may round it to the neighbour
            // (librosa's f32 sums are ordered differently from ours); and
            // f32 log10s may differ in their last bit, which can flip the
            // final float16 rounding.
            let h = half(power[i]);
            let explained = (-1..=1).any(|dh| {
                let c = compress_half(f16_step(h, dh));
                (-1..=1).any(|dc| f16_step(c, dc) == b)
            });
            assert!(explained, "{at}: {a} vs librosa's {b} (power {})", power[i]);
            flips += 1;
            max_err = max_err.max((a - b).abs());
        }
        eprintln!(
            "musicnn log-mel: {} bins, {infs} inf in both (musicnn's float16 overflow), {flips} \
             differ by one float16 rounding, max |diff| {max_err}",
            want.len()
        );
        assert!(infs > 0, "the clip's loud part overflows float16");
        assert!(flips * 1000 <= want.len(), "{flips} bins differ");
    }
}
