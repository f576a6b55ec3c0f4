use thiserror::Error;

/// Why a piece of audio could not be turned into features. Every variant is
/// something a user's file (or a caller's arguments) can cause; none is a bug.
#[derive(Debug, Error)]
pub enum AudioError {
    #[error("the audio file is empty (0 bytes)")]
    Empty,
    #[error("not a supported audio file (MP3, Ogg Vorbis, FLAC, WAV): {0}")]
    UnknownFormat(String),
    #[error("the file has no audio track")]
    NoAudioTrack,
    #[error("unsupported audio codec or feature: {0}")]
    Unsupported(String),
    #[error("the audio stream is malformed: {0}")]
    Malformed(String),
    #[error("the file decodes to no samples ({skipped_packets} packets could not be decoded)")]
    NoSamples { skipped_packets: usize },
    #[error("the file does not state its sample rate")]
    UnknownSampleRate,
    #[error("a decode limit must be a positive number of seconds, not {0}")]
    InvalidLimit(f64),
    #[error("invalid sample rate: {0} Hz")]
    InvalidSampleRate(u32),
    #[error("the resampler failed: {0}")]
    Resample(String),
    #[error(
        "the file says its sample rate is {0} Hz, outside the {min}..={max} Hz of real audio",
        min = super::decode::SAMPLE_RATES.start(),
        max = super::decode::SAMPLE_RATES.end()
    )]
    ImplausibleSampleRate(u32),
    #[error("sample {index} of channel {channel} is not a finite number")]
    NonFinite { channel: usize, index: usize },
    #[error("the audio stream has no channels")]
    NoChannels,
    #[error("the clip has {frames} frames; at least {needed} are needed for {what}")]
    TooShort {
        frames: usize,
        needed: usize,
        what: &'static str,
    },
    #[error("the scaler saw no frames")]
    EmptyScaler,
}
