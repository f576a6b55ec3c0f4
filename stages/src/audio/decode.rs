//! File bytes -> f32 samples per channel at the file's own sample rate, with
//! symphonia (pure Rust): MP3, Ogg Vorbis, FLAC and WAV (PCM and float); and
//! Ogg Opus, demuxed by symphonia and decoded by libopus ([`super::opus`],
//! registered with symphonia's own codecs), at 48 kHz.
//!
//! A file in another format is an error that names what it is: the codec
//! (`AudioError::UnsupportedCodec`, e.g. ADPCM in a WAV file) or the
//! container, as far as its first bytes tell
//! (`AudioError::UnknownFormat`, e.g. "an MP4/M4A file").
//!
//! A damaged file gives as much audio as can be trusted: packets the codec
//! rejects are skipped and counted, a stream cut short ends at the cut. A
//! file with nothing decodable is an error, never an empty result.

use std::io::Cursor;
use std::sync::OnceLock;

use symphonia::core::audio::{ChannelLabel, Channels, Position};
use symphonia::core::codecs::audio::well_known::*;
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;

use super::downmix::Speaker;
use super::opus::OpusDecoder;
use super::AudioError;

/// The sample rates a file may state: from telephone-grade well below
/// 8 kHz up to the highest studio rate (768 kHz). Outside them a header is
/// damaged or hostile (a "1 Hz" WAV would pass as hours of audio, a "4 GHz"
/// one as a single frame).
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// Audio as the file holds it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The file's sample rate in Hz (> 0).
    pub sample_rate: u32,
    /// `channels: [channel][sample]`, all channels the same length (> 0);
    /// integer formats are scaled to [-1, 1) as librosa/soundfile do (i16 / 32768).
    pub channels: Vec<Vec<f32>>,
    /// Where each channel is meant to play, for the downmix to stereo.
    pub speakers: Vec<Speaker>,
    /// Packets the codec rejected as corrupt and that were left out.
    pub skipped_packets: usize,
    /// Why decoding stopped.
    pub end: StreamEnd,
}

impl Decoded {
    /// Samples per channel.
    pub fn len(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Never true for a value [`decode`] returns; here for completeness.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Why decoding stopped. Only `Complete` and `LimitReached` mean the audio is
/// what the file's author meant; the others are worth a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The stream ended normally.
    Complete,
    /// The bytes ended (or became unreadable) before the stream said it ends:
    /// a truncated download. The audio up to the cut is kept. (An MP3 cut
    /// between frames cannot be told from a complete one: it reads as
    /// `Complete`.)
    Truncated,
    /// The stream switched sample rate or channel layout (e.g. chained Ogg
    /// streams); only the first part is kept.
    Changed,
    /// [`decode_prefix`] reached its limit.
    LimitReached,
}

/// What a stream is, known from its first decoded buffer on.
#[derive(Debug, Clone)]
pub struct Format {
    /// Sample rate in Hz (within [`SAMPLE_RATES`]).
    pub sample_rate: u32,
    /// Where each channel is meant to play, in plane order (> 0 channels).
    pub speakers: Vec<Speaker>,
    /// Samples per channel the container announces (capped by what the
    /// file's size allows and by the decode limit); a hint for reserving
    /// memory, never trusted as the length.
    pub announced: usize,
}

/// How a decoded stream ended.
#[derive(Debug, Clone, Copy)]
pub struct Ending {
    /// Packets the codec rejected as corrupt and that were left out.
    pub skipped_packets: usize,
    /// Why decoding stopped.
    pub end: StreamEnd,
}

/// Decodes a whole file.
pub fn decode(bytes: &[u8]) -> Result<Decoded, AudioError> {
    collect(bytes, None)
}

/// Decodes the first `max_seconds` of a file (all of it if shorter): enough
/// for a preview-length crop without decoding a whole album side.
pub fn decode_prefix(bytes: &[u8], max_seconds: f64) -> Result<Decoded, AudioError> {
    collect(bytes, Some(checked_limit(max_seconds)?))
}

/// A decode limit, checked: a positive, finite number of seconds.
pub fn checked_limit(max_seconds: f64) -> Result<f64, AudioError> {
    if max_seconds.is_finite() && max_seconds > 0.0 {
        Ok(max_seconds)
    } else {
        Err(AudioError::InvalidLimit(max_seconds))
    }
}

fn collect(bytes: &[u8], max_seconds: Option<f64>) -> Result<Decoded, AudioError> {
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let (format, ending) = decode_each(bytes, max_seconds, |format, planes| {
        if channels.is_empty() {
            channels = planes
                .iter()
                .map(|_| Vec::with_capacity(format.announced))
                .collect();
        }
        for (channel, plane) in channels.iter_mut().zip(planes) {
            channel.extend_from_slice(plane);
        }
        Ok(())
    })?;
    Ok(Decoded {
        sample_rate: format.sample_rate,
        speakers: format.speakers,
        channels,
        skipped_packets: ending.skipped_packets,
        end: ending.end,
    })
}

/// Decodes a file (its first `max_seconds` if given, checked by the caller
/// with [`checked_limit`]) buffer by buffer: `each` gets the planes
/// `[channel][sample]` of every decoded buffer, all of one length (> 0), in
/// order, so that a long file never has to sit in memory whole. An error
/// from `each` stops decoding and is returned.
pub fn decode_each(
    bytes: &[u8],
    max_seconds: Option<f64>,
    mut each: impl FnMut(&Format, &[Vec<f32>]) -> Result<(), AudioError>,
) -> Result<(Format, Ending), AudioError> {
    let mut reader = open(bytes)?;

    let track = reader
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::NoAudioTrack(sniff(bytes)))?;
    let track_id = track.id;
    // Capped by the file's size, as a header is not to be trusted with
    // memory (16-bit PCM has one frame per 4 bytes).
    let announced = track
        .num_frames
        .map_or(0, |n| n.min(2 * bytes.len() as u64) as usize);
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::NoAudioTrack(sniff(bytes)))?;
    if let Some(rate) = params.sample_rate {
        plausible(rate)?;
    }
    let codecs = codecs();
    let codec = codec_name(params.codec);
    if codecs.get_audio_decoder(params.codec).is_none() {
        return Err(AudioError::UnsupportedCodec {
            codec,
            container: container_name(bytes),
        });
    }
    let unsupported = |e: SymError| match e {
        SymError::DecodeError(_) => AudioError::Malformed(format!("{codec}: {e}")),
        _ => AudioError::Unsupported {
            codec: codec.clone(),
            detail: e.to_string(),
        },
    };
    let mut decoder = codecs
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(unsupported)?;

    // Fixed by the first decoded buffer.
    let mut spec: Option<(u32, Channels)> = None;
    let mut format: Option<Format> = None;
    let mut limit = usize::MAX;
    let mut planes: Vec<Vec<f32>> = Vec::new();
    // Samples per channel handed to `each` so far.
    let mut done = 0usize;
    let mut skipped_packets = 0;

    let end = loop {
        let packet = match reader.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break StreamEnd::Complete,
            Err(SymError::ResetRequired) => break StreamEnd::Changed,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break StreamEnd::Truncated
            }
            // The container itself is damaged past this point.
            Err(_) if done > 0 => break StreamEnd::Truncated,
            Err(e) => return Err(AudioError::Malformed(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                skipped_packets += 1;
                continue;
            }
            Err(SymError::ResetRequired) => break StreamEnd::Changed,
            Err(e) => return Err(unsupported(e)),
        };
        if buffer.frames() == 0 {
            continue;
        }
        let this = (buffer.spec().rate(), buffer.spec().channels().clone());
        match &spec {
            None => {
                if this.0 == 0 {
                    return Err(AudioError::UnknownSampleRate);
                }
                plausible(this.0)?;
                if this.1.count() == 0 {
                    return Err(AudioError::NoChannels);
                }
                if let Some(seconds) = max_seconds {
                    limit = (seconds * f64::from(this.0)).ceil() as usize;
                }
                format = Some(Format {
                    sample_rate: this.0,
                    speakers: speakers(&this.1),
                    announced: announced.min(limit),
                });
                spec = Some(this);
            }
            Some(first) if *first != this => break StreamEnd::Changed,
            Some(_) => {}
        }
        buffer.copy_to_vecs_planar::<f32>(&mut planes);
        let keep = planes[0].len().min(limit - done);
        planes.iter_mut().for_each(|p| p.truncate(keep));
        for (channel, plane) in planes.iter().enumerate() {
            if let Some(at) = plane.iter().position(|x| !x.is_finite()) {
                return Err(AudioError::NonFinite {
                    channel,
                    index: done + at,
                });
            }
        }
        let format = format.as_ref().expect("set with the spec");
        each(format, &planes)?;
        done += keep;
        if done >= limit {
            break StreamEnd::LimitReached;
        }
    };

    let format = format.ok_or(AudioError::NoSamples { skipped_packets })?;
    Ok((
        format,
        Ending {
            skipped_packets,
            end,
        },
    ))
}

fn plausible(rate: u32) -> Result<(), AudioError> {
    if SAMPLE_RATES.contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::ImplausibleSampleRate(rate))
    }
}

/// The container reader of a file's bytes (its tags read as it opens: see
/// [`super::tags`]).
pub(super) fn open(bytes: &[u8]) -> Result<Box<dyn FormatReader + '_>, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    probe(MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        Default::default(),
    ))
    .or_else(|first| {
        // Some readers (Ogg) look for the stream's end when they can seek,
        // and fail on a file cut short; read such a file front to back.
        let unseekable = ReadOnlySource::new(Cursor::new(bytes));
        probe(MediaSourceStream::new(
            Box::new(unseekable),
            Default::default(),
        ))
        .map_err(|_| first)
    })
    .map_err(|e| match e {
        SymError::DecodeError(_) => AudioError::Malformed(e.to_string()),
        _ => AudioError::UnknownFormat(format!("{}; {e}", sniff(bytes))),
    })
}

fn probe(source: MediaSourceStream<'_>) -> Result<Box<dyn FormatReader + '_>, SymError> {
    symphonia::default::get_probe().probe(
        &Hint::new(),
        source,
        FormatOptions::default(),
        MetadataOptions::default(),
    )
}

/// symphonia's codecs (those its enabled features build) and Opus.
fn codecs() -> &'static CodecRegistry {
    static CODECS: OnceLock<CodecRegistry> = OnceLock::new();
    CODECS.get_or_init(|| {
        let mut codecs = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut codecs);
        codecs.register_audio_decoder::<OpusDecoder>();
        codecs
    })
}

/// A codec's short name, e.g. `adpcm_ima_wav`; symphonia's number for one
/// it has no name for.
fn codec_name(id: AudioCodecId) -> String {
    if let Some(known) = codecs().get_audio_decoder(id) {
        return known.codec.info.short_name.to_string();
    }
    let name = match id {
        CODEC_ID_ADPCM_G722 => "adpcm_g722",
        CODEC_ID_ADPCM_G726 | CODEC_ID_ADPCM_G726LE => "adpcm_g726",
        CODEC_ID_ADPCM_MS => "adpcm_ms",
        CODEC_ID_ADPCM_IMA_WAV => "adpcm_ima_wav",
        CODEC_ID_ADPCM_IMA_QT => "adpcm_ima_qt",
        CODEC_ID_VORBIS => "vorbis",
        CODEC_ID_OPUS => "opus",
        CODEC_ID_SPEEX => "speex",
        CODEC_ID_MUSEPACK => "musepack",
        CODEC_ID_MP1 => "mp1",
        CODEC_ID_MP2 => "mp2",
        CODEC_ID_MP3 => "mp3",
        CODEC_ID_AAC => "aac",
        CODEC_ID_AC3 => "ac3",
        CODEC_ID_EAC3 => "eac3",
        CODEC_ID_AC4 => "ac4",
        CODEC_ID_DCA => "dts",
        CODEC_ID_ATRAC1 | CODEC_ID_ATRAC3 | CODEC_ID_ATRAC3PLUS | CODEC_ID_ATRAC9 => "atrac",
        CODEC_ID_WMA => "wma",
        CODEC_ID_FLAC => "flac",
        CODEC_ID_WAVPACK => "wavpack",
        CODEC_ID_MONKEYS_AUDIO => "ape",
        CODEC_ID_ALAC => "alac",
        CODEC_ID_TTA => "tta",
        CODEC_ID_TRUEHD => "truehd",
        other => return format!("with symphonia codec id {other}"),
    };
    name.to_string()
}

/// The container symphonia read, for an unsupported codec's message.
fn container_name(bytes: &[u8]) -> &'static str {
    match bytes.get(..4) {
        Some(b"RIFF") => "a WAV file",
        Some(b"OggS") => "an Ogg file",
        Some(b"fLaC") => "a FLAC file",
        _ => "the file",
    }
}

/// What a file that no reader took looks like from its first bytes: the
/// container (and, for WAV and Ogg, the codec inside), or the bytes.
pub(crate) fn sniff(bytes: &[u8]) -> String {
    let at = |range: std::ops::Range<usize>| bytes.get(range).unwrap_or_default();
    let found = match at(0..4) {
        b"RIFF" if at(8..12) == b"WAVE" => return sniff_wav(bytes),
        b"RIFF" if at(8..12) == b"AVI " => "an AVI file",
        b"RIFF" => "a RIFF file that is not WAV",
        b"OggS" => return sniff_ogg(bytes),
        b"FORM" if matches!(at(8..12), b"AIFF" | b"AIFC") => "an AIFF file",
        b"caff" => "a CAF (Core Audio) file",
        b"MAC " => "a Monkey's Audio (APE) file",
        b"wvpk" => "a WavPack file",
        b"TTA1" => "a TTA file",
        b"MPCK" => "a Musepack file",
        b".snd" => "an AU file",
        b"MThd" => "a MIDI file",
        b"DSD " | b"FRM8" => "a DSD (DSF/DFF) file",
        b"\x1a\x45\xdf\xa3" => "a Matroska/WebM file",
        b"\x30\x26\xb2\x75" => "an ASF (WMA/WMV) file",
        b"#!AM" => "an AMR file",
        _ if at(4..8) == b"ftyp" => "an MP4/M4A file",
        _ if at(0..3) == b"MP+" => "a Musepack file",
        // ADTS: 12 sync bits, then the layer bits, 00 for AAC.
        [0xFF, b, ..] if b & 0xF6 == 0xF0 => "an AAC (ADTS) stream",
        _ => {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return format!(
                "no known audio container (the file starts with bytes {})",
                head.join(" ")
            );
        }
    };
    found.to_string()
}

/// A WAV file's format tag, named.
fn sniff_wav(bytes: &[u8]) -> String {
    // Chunks from offset 12: 4-byte id, 4-byte little-endian size, data
    // padded to even length.
    let mut at = 12usize;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as usize;
        if &chunk[..4] == b"fmt " {
            let Some(tag) = bytes.get(at + 8..at + 10) else {
                break;
            };
            let tag = u16::from_le_bytes([tag[0], tag[1]]);
            let name = match tag {
                0x0001 => "PCM",
                0x0002 => "Microsoft ADPCM",
                0x0003 => "IEEE float",
                0x0006 => "A-law",
                0x0007 => "mu-law",
                0x0011 => "IMA ADPCM",
                0x0031 => "GSM 6.10",
                0x0050 => "MPEG audio",
                0x0055 => "MP3",
                0x00FF | 0x1610 | 0x4143 => "AAC",
                0x0160..=0x0163 => "WMA",
                0x2000 => "AC-3",
                0x2001 => "DTS",
                0xFFFE => "extensible",
                _ => "unknown",
            };
            return format!("a WAV file with format tag {tag:#06x} ({name})");
        }
        at = at.saturating_add(8).saturating_add(size + (size & 1));
    }
    "a WAV file without a readable format chunk".to_string()
}

/// The codec of an Ogg file's first stream, from its first packet.
fn sniff_ogg(bytes: &[u8]) -> String {
    // Page header: 27 bytes, then one lacing value per segment.
    let segments = bytes.get(26).map_or(0, |&n| usize::from(n));
    let packet = bytes.get(27 + segments..).unwrap_or_default();
    let starts = |magic: &[u8]| packet.starts_with(magic);
    let codec = if starts(b"OpusHead") {
        match packet.get(18) {
            Some(&family) if family > 1 => {
                return format!("an Ogg Opus stream with channel mapping family {family}")
            }
            _ => "Opus",
        }
    } else if starts(b"\x01vorbis") {
        "Vorbis"
    } else if starts(b"\x7fFLAC") {
        "FLAC"
    } else if starts(b"Speex   ") {
        "Speex"
    } else if starts(b"\x80theora") {
        "Theora video"
    } else if starts(b"fishead\0") {
        "Ogg Skeleton"
    } else if starts(b"OVP80") {
        "VP8 video"
    } else {
        return "an Ogg file whose first stream is of an unknown codec".to_string();
    };
    format!("an Ogg {codec} stream")
}

/// The speaker of each plane, in symphonia's plane order (ascending position
/// bits for a positioned layout).
fn speakers(layout: &Channels) -> Vec<Speaker> {
    match layout {
        Channels::Positioned(mask) => mask.iter().map(speaker_of).collect(),
        Channels::Custom(labels) => labels
            .iter()
            .map(|label| match label {
                ChannelLabel::Positioned(position) => speaker_of(*position),
                _ => Speaker::Unlabelled,
            })
            .collect(),
        other => vec![Speaker::Unlabelled; other.count()],
    }
}

fn speaker_of(position: Position) -> Speaker {
    const CENTRES: Position = Position::FRONT_CENTER
        .union(Position::REAR_CENTER)
        .union(Position::TOP_CENTER)
        .union(Position::TOP_FRONT_CENTER)
        .union(Position::TOP_REAR_CENTER)
        .union(Position::BOTTOM_FRONT_CENTER);
    const LEFTS: Position = Position::REAR_LEFT
        .union(Position::FRONT_LEFT_CENTER)
        .union(Position::SIDE_LEFT)
        .union(Position::TOP_FRONT_LEFT)
        .union(Position::TOP_REAR_LEFT)
        .union(Position::TOP_SIDE_LEFT)
        .union(Position::BOTTOM_FRONT_LEFT)
        .union(Position::FRONT_LEFT_WIDE);
    const RIGHTS: Position = Position::REAR_RIGHT
        .union(Position::FRONT_RIGHT_CENTER)
        .union(Position::SIDE_RIGHT)
        .union(Position::TOP_FRONT_RIGHT)
        .union(Position::TOP_REAR_RIGHT)
        .union(Position::TOP_SIDE_RIGHT)
        .union(Position::BOTTOM_FRONT_RIGHT)
        .union(Position::FRONT_RIGHT_WIDE);
    if position == Position::FRONT_LEFT {
        Speaker::Left
    } else if position == Position::FRONT_RIGHT {
        Speaker::Right
    } else if position == Position::LFE1 || position == Position::LFE2 {
        Speaker::Lfe
    } else if CENTRES.contains(position) {
        Speaker::Centre
    } else if LEFTS.contains(position) {
        Speaker::SideLeft
    } else if RIGHTS.contains(position) {
        Speaker::SideRight
    } else {
        Speaker::Unlabelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_util::{reference_bytes, sine, wav, WavFormat};
    use crate::audio::{mel_from_bytes, mel_power, mfcc_baseline, stereo_from_bytes, to_stereo};

    /// Deterministic junk (xorshift64).
    fn junk(n: usize) -> Vec<u8> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn audio_empty_bytes_are_an_error() {
        assert!(matches!(decode(&[]), Err(AudioError::Empty)));
        assert!(matches!(mel_from_bytes(&[], None), Err(AudioError::Empty)));
    }

    #[test]
    fn audio_non_audio_bytes_are_an_error() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(junk(4096));
        for (what, bytes) in [
            (
                "text",
                b"track_id,uri\n1,http://example.org/a.mp3\n".to_vec(),
            ),
            ("png", png),
            ("junk", junk(65_536)),
            ("zeros", vec![0u8; 65_536]),
        ] {
            let result = decode(&bytes);
            assert!(
                matches!(
                    result,
                    Err(AudioError::UnknownFormat(_)
                        | AudioError::Malformed(_)
                        | AudioError::NoSamples { .. })
                ),
                "{what}: {result:?}"
            );
        }
    }

    #[test]
    fn audio_wav_decodes_to_the_samples_written() {
        let left = sine(440.0, 8_000, 0.25, 0.5);
        let right = sine(1_000.0, 8_000, 0.25, 0.25);
        let pcm = decode(&wav(
            8_000,
            &[left.clone(), right.clone()],
            WavFormat::Pcm16,
        ))
        .unwrap();
        assert_eq!(
            (pcm.sample_rate, pcm.len(), pcm.end),
            (8_000, 2_000, StreamEnd::Complete)
        );
        for (decoded, written) in pcm.channels.iter().zip([&left, &right]) {
            // 16-bit quantisation, read back as i16 / 32768.
            assert!(decoded
                .iter()
                .zip(written)
                .all(|(a, b)| (a - b).abs() <= 0.5 / 32768.0));
        }
        let float = decode(&wav(8_000, &[left.clone(), right], WavFormat::Float32)).unwrap();
        assert_eq!(float.channels[0], left);
        assert_eq!(float.speakers, vec![Speaker::Left, Speaker::Right]);
    }

    #[test]
    fn audio_truncated_files_keep_what_came_before() {
        for name in [
            "in_22050.wav",
            "in_44100.flac",
            "tone_vorbis.ogg",
            "tone_mp3.mp3",
        ] {
            let bytes = reference_bytes(name);
            let full = decode(&bytes).unwrap();
            let cut = decode(&bytes[..bytes.len() * 6 / 10]).unwrap();
            eprintln!(
                "{name} cut at 60%: {} of {} samples, {:?}, {} skipped",
                cut.len(),
                full.len(),
                cut.end,
                cut.skipped_packets
            );
            assert!(
                cut.len() > full.len() / 3 && cut.len() < full.len(),
                "{name}"
            );
            if name == "in_22050.wav" {
                assert_eq!(cut.end, StreamEnd::Truncated);
            }
            if name.ends_with(".wav") || name.ends_with(".flac") {
                // Lossless: the part that survived is bit-identical.
                for (c, f) in cut.channels.iter().zip(&full.channels) {
                    assert_eq!(&c[..], &f[..c.len()], "{name}");
                }
            }
            // A file cut inside its header is not audio at all.
            assert!(decode(&bytes[..20]).is_err(), "{name} header only");
        }
    }

    /// A WAV file with format tag `tag` and a 20-byte fmt chunk (as IMA
    /// ADPCM has: 4-bit samples, 505 per 256-byte block).
    fn wav_with_tag(tag: u16) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend(tag.to_le_bytes());
        fmt.extend(1u16.to_le_bytes()); // channels
        fmt.extend(8_000u32.to_le_bytes());
        fmt.extend(4_055u32.to_le_bytes()); // bytes per second
        fmt.extend(256u16.to_le_bytes()); // block align
        fmt.extend(4u16.to_le_bytes()); // bits per sample
        fmt.extend(2u16.to_le_bytes()); // extra size
        fmt.extend(505u16.to_le_bytes()); // samples per block
        let data = junk(1_024);
        let mut bytes = b"RIFF".to_vec();
        bytes.extend((4 + 8 + fmt.len() as u32 + 8 + data.len() as u32).to_le_bytes());
        bytes.extend(b"WAVEfmt ");
        bytes.extend((fmt.len() as u32).to_le_bytes());
        bytes.extend(fmt);
        bytes.extend(b"data");
        bytes.extend((data.len() as u32).to_le_bytes());
        bytes.extend(data);
        bytes
    }

    /// Ogg page `sequence` of a stream, holding `packet` (at most 255
    /// bytes); `flags` 2 marks the first page, 4 the last.
    fn ogg_page(flags: u8, sequence: u32, packet: &[u8]) -> Vec<u8> {
        let mut page = b"OggS\0".to_vec();
        page.push(flags);
        page.extend(u64::from(sequence).to_le_bytes()); // granule position
        page.extend(0x1234u32.to_le_bytes()); // serial
        page.extend(sequence.to_le_bytes());
        page.extend(0u32.to_le_bytes()); // CRC, filled in below
        page.push(1);
        page.push(packet.len() as u8);
        page.extend(packet);
        // Ogg's CRC-32: polynomial 0x04c11db7, not reflected, from 0.
        let crc = page.iter().fold(0u32, |mut crc, &byte| {
            crc ^= u32::from(byte) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 {
                    (crc << 1) ^ 0x04c1_1db7
                } else {
                    crc << 1
                };
            }
            crc
        });
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        page
    }

    #[test]
    fn audio_unsupported_codecs_are_named() {
        // IMA ADPCM in WAV: the container is read, the codec is not built.
        let err = decode(&wav_with_tag(0x0011)).unwrap_err();
        assert!(
            matches!(&err, AudioError::UnsupportedCodec { codec, .. } if codec == "adpcm_ima_wav"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "unsupported audio codec `adpcm_ima_wav` in a WAV file \
             (decoded are MP3, Vorbis, Opus, FLAC and PCM)"
        );
        // Through the mel stage's path too.
        let err = crate::audio::analyse(wav_with_tag(0x0011), None).unwrap_err();
        assert!(err.to_string().contains("`adpcm_ima_wav`"), "{err}");
    }

    #[test]
    fn audio_unknown_containers_are_named() {
        let mut m4a = b"\0\0\0\x20ftypM4A \0\0\0\0".to_vec();
        m4a.extend(junk(4_096));
        let mut mkv = b"\x1a\x45\xdf\xa3".to_vec();
        mkv.extend(junk(4_096));
        // Ogg Speex: a header page (80 bytes), comments, one data packet.
        let mut header = b"Speex   1.2".to_vec();
        header.extend(vec![0; 69]);
        let mut speex = ogg_page(2, 0, &header);
        speex.extend(ogg_page(0, 1, &[8, 0, 0, 0, b'x', 0, 0, 0, 0]));
        speex.extend(ogg_page(4, 2, &junk(40)));
        let speex_head = ogg_page(2, 0, &header);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(junk(4_096));
        for (bytes, found) in [
            (m4a, "an MP4/M4A file"),
            (mkv, "a Matroska/WebM file"),
            (
                wav_with_tag(0x0161),
                "a WAV file with format tag 0x0161 (WMA)",
            ),
            (speex_head, "an Ogg Speex stream"),
            (
                png,
                "no known audio container (the file starts with bytes 89 50 4e 47 0d 0a 1a 0a)",
            ),
        ] {
            let err = decode(&bytes).unwrap_err();
            let text = err.to_string();
            eprintln!("{text}");
            assert!(
                text.starts_with(&format!(
                    "not a supported audio file (MP3, Ogg Vorbis or Opus, FLAC, WAV): {found}; "
                )),
                "{err:?}"
            );
        }
        // A whole Ogg Speex stream: symphonia reads its pages to the end
        // looking for a stream it knows (or, failing that, finds no audio
        // track); either way the error says what is there.
        let err = decode(&speex).unwrap_err();
        assert!(
            matches!(
                err,
                AudioError::UnknownFormat(_) | AudioError::NoAudioTrack(_)
            ) && err.to_string().contains("an Ogg Speex stream"),
            "{err:?}"
        );
    }

    #[test]
    fn audio_implausible_sample_rates_are_an_error() {
        for rate in [1, 999, 768_001, 4_000_000_000] {
            let bytes = wav(rate, &[vec![0.25; 10]], WavFormat::Pcm16);
            let result = decode(&bytes);
            assert!(
                matches!(result, Err(AudioError::ImplausibleSampleRate(r)) if r == rate),
                "{rate} Hz: {result:?}"
            );
        }
        let err = decode(&wav(1, &[vec![0.25; 10]], WavFormat::Pcm16)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the file says its sample rate is 1 Hz, outside the 1000..=768000 Hz of real audio"
        );
        for rate in [1_000, 768_000] {
            let bytes = wav(rate, &[vec![0.25; 10]], WavFormat::Pcm16);
            assert_eq!(decode(&bytes).unwrap().sample_rate, rate);
        }
    }

    #[test]
    fn audio_a_file_with_no_samples_is_an_error() {
        let empty = wav(44_100, &[vec![], vec![]], WavFormat::Pcm16);
        assert!(matches!(decode(&empty), Err(AudioError::NoSamples { .. })));
    }

    #[test]
    fn audio_short_clips_decode_as_is() {
        // 50 ms at 44.1 kHz: 2,205 samples -> 1,103 at 22,050 Hz -> 5 frames.
        let bytes = wav(44_100, &[sine(440.0, 44_100, 0.05, 0.5)], WavFormat::Pcm16);
        let stereo = stereo_from_bytes(&bytes, None).unwrap();
        assert_eq!(stereo.len(), 1_103);
        let power = mel_power(&stereo);
        assert_eq!(power.frames, 5);
        assert!(matches!(
            mfcc_baseline(&power),
            Err(AudioError::TooShort {
                frames: 5,
                needed: 9,
                ..
            })
        ));
        // 1.5 s (< 2.5 s): everything works, nothing is padded here.
        let bytes = wav(22_050, &[sine(440.0, 22_050, 1.5, 0.5)], WavFormat::Pcm16);
        let stereo = stereo_from_bytes(&bytes, None).unwrap();
        assert_eq!(mel_power(&stereo).frames, 1 + 33_075 / 256);
        assert!(mfcc_baseline(&mel_power(&stereo))
            .unwrap()
            .iter()
            .all(|x| x.is_finite()));
    }

    #[test]
    fn audio_digital_silence_is_minus_100_db_without_nan() {
        let bytes = wav(44_100, &[vec![0.0; 44_100]], WavFormat::Pcm16);
        let mel = mel_from_bytes(&bytes, None).unwrap();
        assert_eq!(mel.frames, 1 + 22_050 / 256);
        assert!(mel.data.iter().all(|&d| d == -100.0));
        let stereo = stereo_from_bytes(&bytes, None).unwrap();
        let mfcc = mfcc_baseline(&mel_power(&stereo)).unwrap();
        assert!(mfcc.iter().all(|x| x.is_finite()));
        // Only c0 is non-zero: -100 dB in every band, orthonormal DCT (a
        // sum of 128 f32 terms, as librosa's: about 1e-6 relative).
        let c0 = -100.0 * 128f64.sqrt();
        assert!(
            (f64::from(mfcc[0]) - c0).abs() < 1e-5 * c0.abs(),
            "{}",
            mfcc[0]
        );
        assert!(mfcc[1..].iter().all(|x| x.abs() < 1e-3));
    }

    #[test]
    fn audio_non_finite_samples_are_an_error() {
        let mut samples = sine(440.0, 8_000, 0.1, 0.5);
        samples[77] = f32::NAN;
        let bytes = wav(8_000, &[samples], WavFormat::Float32);
        assert!(matches!(
            decode(&bytes),
            Err(AudioError::NonFinite {
                channel: 0,
                index: 77
            })
        ));
    }

    #[test]
    fn audio_mono_and_surround_files_become_stereo() {
        let tone = sine(440.0, 8_000, 0.1, 0.5);
        let mono = decode(&wav(8_000, std::slice::from_ref(&tone), WavFormat::Pcm16)).unwrap();
        let stereo = to_stereo(&mono).unwrap();
        assert_eq!(stereo.channels[0], stereo.channels[1]);

        // 5.1 (FL FR FC LFE BL BR): a signal only in FL stays left.
        let silent = vec![0.0; tone.len()];
        let mut six = vec![silent.clone(); 6];
        six[0] = tone.clone();
        let surround = decode(&wav(8_000, &six, WavFormat::Extensible16(0x3F))).unwrap();
        use Speaker::*;
        assert_eq!(
            surround.speakers,
            vec![Left, Right, Centre, Lfe, SideLeft, SideRight]
        );
        let mixed = to_stereo(&surround).unwrap();
        assert!(mixed.channels[1].iter().all(|&x| x == 0.0));
        let peak = mixed.channels[0].iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak > 0.2 && peak < 0.5, "peak {peak}");
    }

    #[test]
    fn audio_decode_prefix_stops_at_the_limit() {
        let bytes = wav(8_000, &[sine(440.0, 8_000, 2.0, 0.5)], WavFormat::Pcm16);
        let head = decode_prefix(&bytes, 0.5).unwrap();
        assert_eq!((head.len(), head.end), (4_000, StreamEnd::LimitReached));
        let all = decode_prefix(&bytes, 60.0).unwrap();
        assert_eq!((all.len(), all.end), (16_000, StreamEnd::Complete));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                decode_prefix(&bytes, bad),
                Err(AudioError::InvalidLimit(_))
            ));
        }
    }
}
