use thiserror::Error;

/// Why a piece of audio could not be turned into features. Every variant is
/// something a user's file (or a caller's arguments) can cause; none is a bug.
#[derive(Debug, Error)]
pub enum AudioError {
    #[error("the audio file is empty (0 bytes)")]
    Empty,
    /// No reader took the bytes: what they look like (the container found,
    /// or the first bytes), then symphonia's reason.
    #[error("not a supported audio file (MP3, Ogg Vorbis or Opus, FLAC, WAV): {0}")]
    UnknownFormat(String),
    /// The container was read, but holds no stream symphonia knows as
    /// audio: what the file looks like (e.g. "an Ogg Speex stream").
    #[error("the file has no audio track that can be decoded: it is {0}")]
    NoAudioTrack(String),
    /// The container was read, but no decoder here knows its codec.
    #[error(
        "unsupported audio codec `{codec}` in {container} \
         (decoded are MP3, Vorbis, Opus, FLAC and PCM)"
    )]
    UnsupportedCodec {
        codec: String,
        container: &'static str,
    },
    /// The codec is known, but not this stream's use of it.
    #[error("unsupported feature of the `{codec}` stream: {detail}")]
    Unsupported { codec: String, detail: String },
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
