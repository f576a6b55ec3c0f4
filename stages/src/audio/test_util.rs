//! Test helpers: WAV files built in memory, reference files read from disk.

/// Directory of the librosa reference files (tests/reference/audio).
pub const REFERENCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/reference/audio/");

pub fn reference_bytes(name: &str) -> Vec<u8> {
    let path = format!("{REFERENCE_DIR}{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// A raw little-endian f32 file.
pub fn reference_f32(name: &str) -> Vec<f32> {
    reference_bytes(name)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub fn reference_meta() -> serde_json::Value {
    serde_json::from_slice(&reference_bytes("meta.json")).expect("meta.json is JSON")
}

/// How samples are stored in a test WAV.
#[derive(Clone, Copy)]
pub enum WavFormat {
    Pcm16,
    Float32,
    /// 16-bit PCM in WAVE_FORMAT_EXTENSIBLE with this speaker mask.
    Extensible16(u32),
}

/// A WAV file holding `channels: [channel][sample]`.
pub fn wav(rate: u32, channels: &[Vec<f32>], format: WavFormat) -> Vec<u8> {
    let n_channels = channels.len() as u16;
    let frames = channels.first().map_or(0, Vec::len);
    let (tag, bits): (u16, u16) = match format {
        WavFormat::Pcm16 => (1, 16),
        WavFormat::Float32 => (3, 32),
        WavFormat::Extensible16(_) => (0xFFFE, 16),
    };
    let block = n_channels * bits / 8;
    let mut data = Vec::with_capacity(frames * block as usize);
    for i in 0..frames {
        for channel in channels {
            let x = channel[i];
            match format {
                WavFormat::Float32 => data.extend_from_slice(&x.to_le_bytes()),
                _ => {
                    let q = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                    data.extend_from_slice(&q.to_le_bytes());
                }
            }
        }
    }
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&n_channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    // Wrapping: a test may write an absurd rate on purpose.
    fmt.extend_from_slice(&rate.wrapping_mul(u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if let WavFormat::Extensible16(mask) = format {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&mask.to_le_bytes());
        // KSDATAFORMAT_SUBTYPE_PCM
        fmt.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// A sine of `hz` at `rate`, `seconds` long, amplitude `amp`.
pub fn sine(hz: f64, rate: u32, seconds: f64, amp: f64) -> Vec<f32> {
    let n = (seconds * f64::from(rate)).round() as usize;
    (0..n)
        .map(|i| {
            (amp * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin()) as f32
        })
        .collect()
}
