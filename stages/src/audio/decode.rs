//! File bytes -> f32 samples per channel at the file's own sample rate, with
//! symphonia (pure Rust): MP3, Ogg Vorbis, FLAC and WAV (PCM and float).
//! Opus is not decoded: symphonia 0.6 has no Opus decoder and there is no
//! maintained pure-Rust one; an Opus file is [`AudioError::Unsupported`].
//!
//! A damaged file gives as much audio as can be trusted: packets the codec
//! rejects are skipped and counted, a stream cut short ends at the cut. A
//! file with nothing decodable is an error, never an empty result.

use std::io::Cursor;

use symphonia::core::audio::{ChannelLabel, Channels, Position};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;

use super::downmix::Speaker;
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
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let mut reader = probe(MediaSourceStream::new(
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
    })?;

    let track = reader
        .default_track(TrackType::Audio)
        .ok_or(AudioError::NoAudioTrack)?;
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
        .ok_or(AudioError::NoAudioTrack)?;
    if let Some(rate) = params.sample_rate {
        plausible(rate)?;
    }
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::Unsupported(e.to_string()))?;

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
            Err(e) => return Err(AudioError::Unsupported(e.to_string())),
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

fn probe(source: MediaSourceStream<'_>) -> Result<Box<dyn FormatReader + '_>, AudioError> {
    symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::DecodeError(_) => AudioError::Malformed(e.to_string()),
            _ => AudioError::UnknownFormat(e.to_string()),
        })
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

    #[test]
    fn audio_opus_is_reported_unsupported() {
        let result = decode(&reference_bytes("tone_opus.opus"));
        assert!(
            matches!(result, Err(AudioError::Unsupported(_))),
            "{result:?}"
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
