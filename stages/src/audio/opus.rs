//! Opus for symphonia: an [`AudioDecoder`] over libopus itself (the
//! reference decoder, Debian's libopus through `audiopus_sys`), registered
//! beside symphonia's own codecs, so that symphonia's Ogg demuxer and every
//! decoding path (whole-signal and streamed) read Ogg Opus like any other
//! file.
//!
//! What RFC 7845 asks of a player, done here:
//! - output at 48 kHz, whatever the OpusHead's "original" rate says (the
//!   pipeline resamples to its own rate anyway);
//! - the channel count, channel mapping (family 0, or family 1's Vorbis
//!   order, reordered to symphonia's plane order) and output gain from the
//!   OpusHead (symphonia's Ogg mapper hands the header over as extra data);
//! - the first `pre_skip` samples after the start are dropped;
//! - the end: the demuxer trims the last packet to the final page's granule
//!   position (`trim_end`), which is applied here.
//!
//! Channel mapping families other than 0 and 1 (ambisonics, 255) are
//! refused by symphonia's Ogg mapper before a decoder is made.

use std::os::raw::c_int;
use std::ptr::NonNull;

use audiopus_sys as ffi;
use symphonia::core::audio::{
    AsGenericAudioBufferRef, AudioBuffer, AudioMut, AudioSpec, Channels, GenericAudioBufferRef,
    Position,
};
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{
    AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::codecs::registry::{RegisterableAudioDecoder, SupportedAudioCodec};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::errors::{decode_error, unsupported_error, Error, Result};
use symphonia::core::packet::PacketRef;

/// Opus always decodes at 48 kHz here (RFC 7845 section 5.1: the header's
/// input rate is informational).
pub const OPUS_RATE: u32 = 48_000;

/// The longest Opus packet: 120 ms at 48 kHz, per channel.
const MAX_FRAMES: usize = 5_760;

const INFO: CodecInfo = CodecInfo {
    short_name: "opus",
    long_name: "Opus (libopus)",
    profiles: &[],
};

const SUPPORTED: &[SupportedAudioCodec] = &[SupportedAudioCodec {
    id: CODEC_ID_OPUS,
    info: INFO,
}];

/// What the decoder needs of an OpusHead (RFC 7845 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    channels: usize,
    pre_skip: usize,
    /// Q7.8 dB, applied by libopus (`OPUS_SET_GAIN`) as opusfile does.
    gain: i16,
    family: u8,
    streams: usize,
    coupled: usize,
    /// Output channel -> decoded stream channel (255: silence).
    mapping: Vec<u8>,
}

impl Head {
    fn parse(bytes: &[u8]) -> Result<Head> {
        if bytes.len() < 19 || &bytes[..8] != b"OpusHead" {
            return decode_error("opus: no OpusHead header");
        }
        // Major version 0 only (RFC 7845: a version above 15 is incompatible).
        if bytes[8] > 15 {
            return unsupported_error("opus: OpusHead version above 15");
        }
        let channels = usize::from(bytes[9]);
        let pre_skip = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
        let gain = i16::from_le_bytes([bytes[16], bytes[17]]);
        let family = bytes[18];
        if channels == 0 {
            return decode_error("opus: OpusHead says 0 channels");
        }
        let (streams, coupled, mapping) = if family == 0 {
            if channels > 2 {
                return decode_error("opus: channel mapping family 0 with more than 2 channels");
            }
            (1, channels - 1, (0..channels as u8).collect())
        } else {
            let Some(table) = bytes.get(21..21 + channels) else {
                return decode_error("opus: OpusHead channel mapping table cut short");
            };
            (
                usize::from(bytes[19]),
                usize::from(bytes[20]),
                table.to_vec(),
            )
        };
        if streams == 0 || coupled > streams || streams + coupled > 255 {
            return decode_error("opus: impossible stream counts in OpusHead");
        }
        if mapping
            .iter()
            .any(|&m| m != 255 && usize::from(m) >= streams + coupled)
        {
            return decode_error("opus: OpusHead maps a channel to a stream that is not there");
        }
        Ok(Head {
            channels,
            pre_skip,
            gain,
            family,
            streams,
            coupled,
            mapping,
        })
    }
}

/// The speaker of each channel in Vorbis order (RFC 7845 section 5.1.1.2),
/// as symphonia's Ogg mapper names them; `None` past eight channels.
fn vorbis_order(channels: usize) -> Option<Vec<Position>> {
    const FL: Position = Position::FRONT_LEFT;
    const FR: Position = Position::FRONT_RIGHT;
    const FC: Position = Position::FRONT_CENTER;
    const RL: Position = Position::REAR_LEFT;
    const RR: Position = Position::REAR_RIGHT;
    const SL: Position = Position::SIDE_LEFT;
    const SR: Position = Position::SIDE_RIGHT;
    const RC: Position = Position::REAR_CENTER;
    const LFE: Position = Position::LFE1;
    Some(match channels {
        1 => vec![FL],
        2 => vec![FL, FR],
        3 => vec![FL, FC, FR],
        4 => vec![FL, FR, RL, RR],
        5 => vec![FL, FC, FR, RL, RR],
        6 => vec![FL, FC, FR, RL, RR, LFE],
        7 => vec![FL, FC, FR, SL, SR, RC, LFE],
        8 => vec![FL, FC, FR, SL, SR, RL, RR, LFE],
        _ => return None,
    })
}

/// For each channel libopus writes (interleaved, in the stream's order),
/// the plane of symphonia's buffer it goes to: planes of a positioned
/// layout are in ascending position bits, not in Vorbis order.
fn plane_order(layout: &Channels, channels: usize) -> Vec<usize> {
    let identity: Vec<usize> = (0..channels).collect();
    let (Channels::Positioned(mask), Some(order)) = (layout, vorbis_order(channels)) else {
        return identity;
    };
    if mask.bits().count_ones() as usize != channels || order.iter().any(|p| !mask.contains(*p)) {
        return identity;
    }
    order
        .iter()
        .map(|p| (mask.bits() & (p.bits() - 1)).count_ones() as usize)
        .collect()
}

/// A libopus multistream decoder state (also for family 0's single stream).
struct State(NonNull<ffi::OpusMSDecoder>);

// SAFETY: libopus decoder state is plain memory with no thread affinity;
// it is only used through `&mut self`.
unsafe impl Send for State {}
unsafe impl Sync for State {}

impl State {
    fn new(head: &Head) -> Result<State> {
        let mut error: c_int = 0;
        // SAFETY: the mapping table holds `channels` entries, checked by
        // `Head::parse`; libopus copies it.
        let state = unsafe {
            ffi::opus_multistream_decoder_create(
                OPUS_RATE as i32,
                head.channels as c_int,
                head.streams as c_int,
                head.coupled as c_int,
                head.mapping.as_ptr(),
                &mut error,
            )
        };
        let Some(state) = NonNull::new(state).filter(|_| error == ffi::OPUS_OK) else {
            return decode_error("opus: libopus refused the OpusHead's channel layout");
        };
        let state = State(state);
        if head.gain != 0 {
            // SAFETY: a valid state; OPUS_SET_GAIN takes one opus_int32.
            let done = unsafe {
                ffi::opus_multistream_decoder_ctl(
                    state.0.as_ptr(),
                    ffi::OPUS_SET_GAIN_REQUEST as c_int,
                    c_int::from(head.gain),
                )
            };
            if done != ffi::OPUS_OK {
                return decode_error("opus: libopus refused the OpusHead's output gain");
            }
        }
        Ok(state)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: created by opus_multistream_decoder_create, freed once.
        unsafe { ffi::opus_multistream_decoder_destroy(self.0.as_ptr()) }
    }
}

/// libopus's error codes, as symphonia's static messages.
fn libopus_error(code: c_int) -> Error {
    Error::DecodeError(match code {
        ffi::OPUS_BAD_ARG => "opus: bad argument",
        ffi::OPUS_BUFFER_TOO_SMALL => "opus: packet longer than 120 ms",
        ffi::OPUS_INTERNAL_ERROR => "opus: libopus internal error",
        ffi::OPUS_INVALID_PACKET => "opus: invalid packet",
        ffi::OPUS_UNIMPLEMENTED => "opus: unimplemented packet feature",
        ffi::OPUS_INVALID_STATE => "opus: invalid decoder state",
        ffi::OPUS_ALLOC_FAIL => "opus: out of memory",
        _ => "opus: unknown libopus error",
    })
}

/// The Opus decoder; register it with
/// `CodecRegistry::register_audio_decoder::<OpusDecoder>()`.
pub struct OpusDecoder {
    params: AudioCodecParameters,
    opts: AudioDecoderOptions,
    state: State,
    head: Head,
    /// Plane of each interleaved output channel.
    planes: Vec<usize>,
    /// Pre-skip samples still to drop.
    skip: usize,
    /// libopus's interleaved output.
    pcm: Vec<f32>,
    buf: AudioBuffer<f32>,
}

impl OpusDecoder {
    pub fn try_new(params: &AudioCodecParameters, opts: &AudioDecoderOptions) -> Result<Self> {
        if params.codec != CODEC_ID_OPUS {
            return unsupported_error("opus: not an Opus stream");
        }
        let Some(extra) = params.extra_data.as_deref() else {
            return decode_error("opus: no OpusHead header");
        };
        let head = Head::parse(extra)?;
        let layout = match &params.channels {
            Some(layout) if layout.count() == head.channels => layout.clone(),
            _ if head.family <= 1 && head.channels <= 8 => {
                let order = vorbis_order(head.channels).expect("1 to 8 channels");
                Channels::Positioned(order.into_iter().fold(Position::empty(), |m, p| m | p))
            }
            _ => Channels::Discrete(head.channels as u16),
        };
        let planes = plane_order(&layout, head.channels);
        let state = State::new(&head)?;
        let mut params = params.clone();
        params
            .with_sample_rate(OPUS_RATE)
            .with_channels(layout.clone())
            .with_max_frames_per_packet(MAX_FRAMES as u64);
        Ok(OpusDecoder {
            params,
            opts: *opts,
            state,
            skip: head.pre_skip,
            pcm: vec![0.0; MAX_FRAMES * head.channels],
            buf: AudioBuffer::new(AudioSpec::new(OPUS_RATE, layout), MAX_FRAMES),
            planes,
            head,
        })
    }

    fn decode_inner(&mut self, packet: &PacketRef<'_>) -> Result<()> {
        self.buf.clear();
        if packet.data.is_empty() {
            // Zero bytes would ask libopus for loss concealment of an
            // unknown length.
            return decode_error("opus: empty packet");
        }
        let Ok(len) = i32::try_from(packet.data.len()) else {
            return decode_error("opus: packet too large");
        };
        // SAFETY: `pcm` holds MAX_FRAMES frames of `channels` samples, the
        // frame size passed; `data` is `len` bytes.
        let frames = unsafe {
            ffi::opus_multistream_decode_float(
                self.state.0.as_ptr(),
                packet.data.as_ptr(),
                len,
                self.pcm.as_mut_ptr(),
                MAX_FRAMES as c_int,
                0,
            )
        };
        if frames < 0 {
            return Err(libopus_error(frames));
        }
        let frames = frames as usize;
        self.buf.render_uninit(Some(frames));
        let channels = self.head.channels;
        for (from, &plane) in self.planes.iter().enumerate() {
            let plane = self.buf.plane_mut(plane).expect("one plane per channel");
            for (out, frame) in plane.iter_mut().zip(self.pcm.chunks_exact(channels)) {
                *out = frame[from];
            }
        }
        if self.opts.gapless {
            // Pre-skip counts from the stream's start; the end of the last
            // packet is cut to the final granule position by the demuxer.
            let skip = self.skip.min(frames);
            self.skip -= skip;
            let start = (skip + packet.trim_start.get() as usize).min(frames);
            let end = (packet.trim_end.get() as usize).min(frames - start);
            self.buf.trim(start, end);
        }
        Ok(())
    }
}

impl AudioDecoder for OpusDecoder {
    fn reset(&mut self) {
        // SAFETY: a valid state; OPUS_RESET_STATE takes no argument.
        unsafe {
            ffi::opus_multistream_decoder_ctl(
                self.state.0.as_ptr(),
                ffi::OPUS_RESET_STATE as c_int,
            );
        }
        // A reset follows a seek, away from the stream's start: the
        // packets after it have no pre-skip.
        self.skip = 0;
        self.buf.clear();
    }

    fn codec_info(&self) -> &CodecInfo {
        &SUPPORTED[0].info
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> Result<GenericAudioBufferRef<'_>> {
        match self.decode_inner(packet) {
            Ok(()) => Ok(self.buf.as_generic_audio_buffer_ref()),
            Err(e) => {
                self.buf.clear();
                Err(e)
            }
        }
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
        self.buf.as_generic_audio_buffer_ref()
    }
}

impl RegisterableAudioDecoder for OpusDecoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        opts: &AudioDecoderOptions,
    ) -> Result<Box<dyn AudioDecoder>> {
        Ok(Box::new(OpusDecoder::try_new(params, opts)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        SUPPORTED
    }
}

/// libopus's version, e.g. "libopus 1.3.1".
pub fn libopus_version() -> String {
    // SAFETY: a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(ffi::opus_get_version_string()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(channels: u8, family: u8, table: &[u8]) -> Vec<u8> {
        let mut bytes = b"OpusHead".to_vec();
        bytes.extend([1, channels]);
        bytes.extend(312u16.to_le_bytes());
        bytes.extend(44_100u32.to_le_bytes());
        bytes.extend((-256i16).to_le_bytes());
        bytes.push(family);
        bytes.extend(table);
        bytes
    }

    #[test]
    fn audio_opus_head_is_read_and_checked() {
        let stereo = Head::parse(&head(2, 0, &[])).unwrap();
        assert_eq!(
            stereo,
            Head {
                channels: 2,
                pre_skip: 312,
                gain: -256,
                family: 0,
                streams: 1,
                coupled: 1,
                mapping: vec![0, 1],
            }
        );
        // 5.1: 4 streams, 2 coupled, mapping table.
        let surround = Head::parse(&head(6, 1, &[4, 2, 0, 4, 1, 2, 3, 5])).unwrap();
        assert_eq!((surround.streams, surround.coupled), (4, 2));
        assert!(Head::parse(&head(3, 0, &[])).is_err());
        assert!(Head::parse(&head(0, 0, &[])).is_err());
        assert!(Head::parse(&head(6, 1, &[4, 2, 0, 4])).is_err());
        assert!(Head::parse(&head(2, 1, &[1, 0, 0, 1])).is_err());
        assert!(Head::parse(&head(2, 0, &[])[..18]).is_err());
    }

    #[test]
    fn audio_opus_vorbis_order_goes_to_symphonia_planes() {
        let order = vorbis_order(6).unwrap();
        let mask = order.iter().fold(Position::empty(), |m, p| m | *p);
        // FL FC FR RL RR LFE -> planes FL FR FC LFE RL RR.
        assert_eq!(
            plane_order(&Channels::Positioned(mask), 6),
            vec![0, 2, 1, 4, 5, 3]
        );
        assert_eq!(plane_order(&Channels::Discrete(3), 3), vec![0, 1, 2]);
        assert!(libopus_version().starts_with("libopus"));
    }
}
