//! The audio front end's numerical core: bytes of an audio file in, a dB mel
//! spectrogram (and the MFCC baseline) out, as pure functions. SPEC section 3;
//! every constant below is librosa 0.11's default for the call the study
//! makes, and the tests compare against librosa itself
//! (`tests/reference/audio/make_reference.py`).
//!
//! The chain, one module per step:
//!
//! 1. [`decode`](mod@decode): file bytes -> f32 samples per channel at the file's rate
//!    (symphonia; MP3, Ogg Vorbis, FLAC, WAV; Ogg Opus through libopus, [`opus`]).
//! 2. [`downmix`]: any channel count -> exactly two (mono duplicated, more
//!    than two mixed by speaker position).
//! 3. [`resample`](mod@resample): -> 22,050 Hz with libsoxr's 'hq' recipe
//!    (librosa.load's default).
//! 4. [`stft`] + [`mel`]: power spectrogram, 128 Slaney mel bands, dB with an
//!    80 dB floor below the track's maximum.
//! 5. [`mfcc`]: the 120-dimensional MFCC baseline of a track.
//! 6. [`scaler`]: per-band mean and std over a training set, and applying it.
//!
//! [`musicnn`](mod@musicnn) is the same pieces at musicnn's settings (mono,
//! 16 kHz, 512-point FFT, 96 bands, its float16 log), for the pre-trained
//! baseline.
//!
//! [`track`] runs steps 1 to 5 on one file streamed, piece by piece, so
//! that a long track's samples never sit in memory whole; the mel stage
//! uses it.
//!
//! # Layout
//!
//! A mel spectrogram is `mel: [channels = 2, frames = T, bands = 128]`,
//! row-major: band is the fastest index, so one frame of one channel is 128
//! contiguous values and element `(c, t, b)` sits at `(c * T + t) * 128 + b`.
//! A track of `N` samples at 22,050 Hz has `T = 1 + N / 256` frames (centered
//! frames, zero padding of 512 samples each side), so a 30 s preview has
//! T = 2,584.
//!
//! # Defined results for odd input
//!
//! Empty, non-audio or undecodable bytes are an [`AudioError`]; a file cut
//! short decodes up to the cut ([`decode::StreamEnd::Truncated`]); a clip of
//! any length >= 1 sample gives a mel spectrogram as is (padding to a crop
//! length is the cropper's business); digital silence gives -100 dB
//! everywhere (power 0 -> 10 log10(1e-10)), never NaN.

mod error;

pub mod decode;
pub mod downmix;
pub mod mel;
pub mod mfcc;
pub mod musicnn;
pub mod opus;
pub mod resample;
pub mod scaler;
pub mod stft;
pub mod tags;
pub mod track;

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod test_util;

pub use decode::{decode, decode_prefix, Decoded, Ending, StreamEnd};
pub use downmix::{to_stereo, Downmix, Speaker, Stereo};
pub use error::AudioError;
pub use mel::{into_db, mel_db, mel_power, power_to_db, Mel, MelDb, MelFilterBank, MelPower};
pub use mfcc::{mfcc_baseline, MFCC_DIMS, N_MFCC};
pub use resample::{resample, Resampler};
pub use scaler::{Scaler, ScalerAccumulator};
pub use track::{analyse, Track};

/// The study's sample rate (librosa's default `sr`).
pub const SAMPLE_RATE: u32 = 22_050;
/// Channels kept per track.
pub const CHANNELS: usize = 2;
/// FFT length and Hann window length.
pub const N_FFT: usize = 1024;
/// Hop between frames, in samples.
pub const HOP: usize = 256;
/// Frequency bins of one frame: `N_FFT / 2 + 1`.
pub const N_BINS: usize = N_FFT / 2 + 1;
/// Mel bands.
pub const N_MELS: usize = 128;
/// Dynamic range kept below a track's maximum (librosa `top_db`).
pub const TOP_DB: f64 = 80.0;
/// Smallest power before the logarithm (librosa `amin`): silence is -100 dB.
pub const AMIN: f64 = 1e-10;

/// Frames of a centered STFT over `n_samples` samples: `1 + n_samples / HOP`.
pub fn frame_count(n_samples: usize) -> usize {
    1 + n_samples / HOP
}

/// The whole front end for one track: file bytes -> `mel: [2, T, 128]` dB
/// at 22,050 Hz. `max_seconds` stops decoding early (e.g. 30 s previews).
pub fn mel_from_bytes(bytes: &[u8], max_seconds: Option<f64>) -> Result<MelDb, AudioError> {
    let stereo = stereo_from_bytes(bytes, max_seconds)?;
    Ok(mel_db(&stereo))
}

/// Decode, downmix and resample: file bytes -> two channels at 22,050 Hz.
pub fn stereo_from_bytes(bytes: &[u8], max_seconds: Option<f64>) -> Result<Stereo, AudioError> {
    let decoded = match max_seconds {
        Some(seconds) => decode_prefix(bytes, seconds)?,
        None => decode(bytes)?,
    };
    let stereo = to_stereo(&decoded)?;
    let [left, right] = &stereo.channels;
    Ok(Stereo {
        channels: [
            resample(left, stereo.sample_rate, SAMPLE_RATE)?,
            resample(right, stereo.sample_rate, SAMPLE_RATE)?,
        ],
        sample_rate: SAMPLE_RATE,
    })
}
