//! The whole front end for one track, streamed: the file is decoded buffer
//! by buffer, mixed to stereo and resampled piece by piece, and each frame
//! goes through the STFT and the mel filters as soon as its samples are
//! there. Besides the file's bytes, only the mel itself grows with the
//! track (decoded whole, a 1-hour 44.1 kHz stereo file held 3.85 GB of
//! samples). The results are those of the whole-signal functions
//! ([`decode`](super::decode()), [`to_stereo`](super::to_stereo),
//! [`resample`](super::resample()), [`mel_power`](super::mel_power)), bit
//! for bit.

use super::decode::{checked_limit, decode_each, Ending, Format};
use super::downmix::Downmix;
use super::mel::{into_db, power_frames};
use super::resample::Resampler;
use super::stft::frame_start;
use super::{
    frame_count, mfcc_baseline, AudioError, MelDb, MelFilterBank, MelPower, CHANNELS, HOP,
    MFCC_DIMS, N_FFT, N_MELS, SAMPLE_RATE,
};

/// Decoded samples per channel gathered before they are resampled and
/// framed: about 24 s at 44.1 kHz, 2,048 frames per channel after it, so
/// that the frames of one piece fill several cores.
const PIECE: usize = 1 << 20;

/// Frames reserved when the file does not announce its length (47 s).
const UNANNOUNCED_FRAMES: usize = 1 << 12;

/// One track through the front end.
#[derive(Debug, Clone)]
pub struct Track {
    /// `[2, T, 128]` dB at 22,050 Hz.
    pub mel: MelDb,
    /// The 120-d MFCC baseline ([`super::mfcc`]).
    pub mfcc: [f32; MFCC_DIMS],
    /// The file's own sample rate.
    pub source_sample_rate: u32,
    /// The file's own channel count.
    pub source_channels: usize,
    /// Samples per channel at 22,050 Hz.
    pub samples: usize,
    /// How decoding ended.
    pub ending: Ending,
}

/// File bytes -> mel, MFCC and what the file was. `max_seconds` stops
/// decoding early (e.g. 30 s previews). Owned bytes are freed as soon as
/// they are decoded.
pub fn analyse<B: AsRef<[u8]>>(bytes: B, max_seconds: Option<f64>) -> Result<Track, AudioError> {
    let limit = max_seconds.map(checked_limit).transpose()?;
    let mut stream: Option<Stream> = None;
    let (format, ending) = decode_each(bytes.as_ref(), limit, |format, planes| {
        let stream = match &mut stream {
            Some(stream) => stream,
            empty => empty.insert(Stream::new(format, planes.len())?),
        };
        stream.push(planes)
    })?;
    drop(bytes);
    let stream = stream.ok_or(AudioError::NoSamples {
        skipped_packets: ending.skipped_packets,
    })?;
    let source_channels = stream.source_channels;
    let (power, samples) = stream.finish()?;
    let mfcc = mfcc_baseline(&power)?;
    Ok(Track {
        mel: into_db(power),
        mfcc,
        source_sample_rate: format.sample_rate,
        source_channels,
        samples,
        ending,
    })
}

/// A track on its way through: what has been decoded but not yet framed.
struct Stream {
    source_channels: usize,
    downmix: Downmix,
    resamplers: [Resampler; CHANNELS],
    /// Decoded and mixed, not yet resampled.
    input: [Vec<f32>; CHANNELS],
    /// Resampled samples from sample `offset` on: those that frames still
    /// to come need.
    resampled: [Vec<f32>; CHANNELS],
    offset: usize,
    bank: MelFilterBank,
    power: Planes,
}

impl Stream {
    fn new(format: &Format, channels: usize) -> Result<Stream, AudioError> {
        let resampler = || Resampler::new(format.sample_rate, SAMPLE_RATE);
        let resamplers = [resampler()?, resampler()?];
        let frames = match format.announced {
            0 => UNANNOUNCED_FRAMES,
            n => frame_count(resamplers[0].output_len(n)),
        };
        Ok(Stream {
            source_channels: channels,
            downmix: Downmix::new(&format.speakers, channels)?,
            resamplers,
            input: std::array::from_fn(|_| Vec::with_capacity(PIECE)),
            resampled: std::array::from_fn(|_| Vec::new()),
            offset: 0,
            bank: MelFilterBank::standard(),
            power: Planes::new(frames),
        })
    }

    fn push(&mut self, planes: &[Vec<f32>]) -> Result<(), AudioError> {
        self.downmix.extend(planes, &mut self.input);
        if self.input[0].len() >= PIECE {
            self.resample(false)?;
            let settled = self.resamplers[0]
                .settled()
                .min(self.offset + self.resampled[0].len());
            // Frames whose last sample is settled: t * HOP + N_FFT / 2 < settled.
            let ready = match settled.checked_sub(N_FFT / 2) {
                Some(n) => n / HOP + 1,
                None => 0,
            };
            self.frames_until(ready);
        }
        Ok(())
    }

    /// Resamples the gathered input, both channels at once; `last` ends
    /// the input.
    fn resample(&mut self, last: bool) -> Result<(), AudioError> {
        let [r0, r1] = &mut self.resamplers;
        let [i0, i1] = &mut self.input;
        let [o0, o1] = &mut self.resampled;
        let one = |r: &mut Resampler, input: &mut Vec<f32>, out: &mut Vec<f32>| {
            r.push(input, out)?;
            input.clear();
            if last {
                r.finish(out)?;
            }
            Ok::<_, AudioError>(())
        };
        let (a, b) = rayon::join(|| one(r0, i0, o0), || one(r1, i1, o1));
        a.and(b)
    }

    /// Computes frames up to (not including) `end`, then forgets the
    /// samples no later frame needs.
    fn frames_until(&mut self, end: usize) {
        let first = self.power.frames;
        if end <= first {
            return;
        }
        let [left, right] = self.power.grow(end - first);
        let (bank, offset) = (&self.bank, self.offset);
        let [a, b] = &self.resampled;
        rayon::join(
            || power_frames(bank, a, offset, first, left),
            || power_frames(bank, b, offset, first, right),
        );
        let needed = usize::try_from(frame_start(end)).unwrap_or(0);
        if needed > offset {
            for samples in &mut self.resampled {
                samples.drain(..needed - offset);
            }
            self.offset = needed;
        }
    }

    /// Ends the stream: the mel power `[2, T, 128]` and the samples per
    /// channel at 22,050 Hz.
    fn finish(mut self) -> Result<(MelPower, usize), AudioError> {
        self.resample(true)?;
        let samples = self.offset + self.resampled[0].len();
        self.frames_until(frame_count(samples));
        Ok((self.power.finish(), samples))
    }
}

/// `[2, T, 128]` mel power while T grows: channel 1's frames sit
/// `capacity` frames into the buffer and move when it must grow, so that
/// the finished mel is one buffer with no copy of the whole.
struct Planes {
    data: Vec<f32>,
    capacity: usize,
    frames: usize,
}

impl Planes {
    fn new(capacity: usize) -> Planes {
        Planes {
            data: vec![0.0; CHANNELS * capacity * N_MELS],
            capacity,
            frames: 0,
        }
    }

    /// Room for `n` more frames: the two channels' slices for them.
    fn grow(&mut self, n: usize) -> [&mut [f32]; CHANNELS] {
        let frames = self.frames + n;
        if frames > self.capacity {
            let capacity = frames.max(self.capacity + self.capacity / 2);
            let extra = CHANNELS * capacity * N_MELS - self.data.len();
            self.data.reserve_exact(extra);
            self.data.resize(CHANNELS * capacity * N_MELS, 0.0);
            let right = self.capacity * N_MELS;
            self.data
                .copy_within(right..right + self.frames * N_MELS, capacity * N_MELS);
            self.capacity = capacity;
        }
        let (left, right) = self.data.split_at_mut(self.capacity * N_MELS);
        let range = self.frames * N_MELS..frames * N_MELS;
        self.frames = frames;
        [&mut left[range.clone()], &mut right[range]]
    }

    fn finish(mut self) -> MelPower {
        let len = self.frames * N_MELS;
        let right = self.capacity * N_MELS;
        self.data.copy_within(right..right + len, len);
        self.data.truncate(CHANNELS * len);
        self.data.shrink_to_fit();
        MelPower {
            channels: CHANNELS,
            frames: self.frames,
            bands: N_MELS,
            data: self.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_util::{reference_bytes, sine, wav, WavFormat};
    use crate::audio::{
        decode, decode_prefix, mel_power, power_to_db, resample, to_stereo, Stereo,
    };

    /// The whole-signal chain, one step after the other: mel power and the
    /// samples per channel at 22,050 Hz.
    fn whole(bytes: &[u8], max_seconds: Option<f64>) -> (MelPower, usize) {
        let decoded = match max_seconds {
            Some(s) => decode_prefix(bytes, s).unwrap(),
            None => decode(bytes).unwrap(),
        };
        let stereo = to_stereo(&decoded).unwrap();
        let channels = stereo
            .channels
            .each_ref()
            .map(|c| resample(c, stereo.sample_rate, SAMPLE_RATE).unwrap());
        let samples = channels[0].len();
        let stereo = Stereo {
            channels,
            sample_rate: SAMPLE_RATE,
        };
        (mel_power(&stereo), samples)
    }

    #[test]
    fn streamed_track_equals_the_whole_signal_chain() {
        // 55 s: several pieces of input, and a limit inside one.
        let long = wav(
            44_100,
            &[
                sine(440.0, 44_100, 55.0, 0.5),
                sine(3_000.0, 44_100, 55.0, 0.25),
            ],
            WavFormat::Pcm16,
        );
        let mut six = vec![sine(200.0, 48_000, 2.0, 0.1); 6];
        six[0] = sine(1_000.0, 48_000, 2.0, 0.5);
        let surround = wav(48_000, &six, WavFormat::Extensible16(0x3F));
        for (what, bytes, limit) in [
            ("55 s at 44,100 Hz", long.clone(), None),
            ("the same cut at 31 s", long, Some(31.0)),
            ("5.1 at 48,000 Hz", surround, None),
            ("in_44100.flac", reference_bytes("in_44100.flac"), None),
            ("in_22050.wav", reference_bytes("in_22050.wav"), None),
            ("tone_mp3.mp3", reference_bytes("tone_mp3.mp3"), None),
            ("tone_vorbis.ogg", reference_bytes("tone_vorbis.ogg"), None),
        ] {
            let track = analyse(&bytes, limit).unwrap();
            let (power, samples) = whole(&bytes, limit);
            assert_eq!(track.samples, samples, "{what}");
            assert_eq!(track.mel.frames, frame_count(samples), "{what}");
            assert_eq!(track.mfcc, mfcc_baseline(&power).unwrap(), "{what}");
            assert!(track.mel == power_to_db(&power), "{what}: mels differ");
        }
    }

    #[test]
    fn planes_grow_past_their_capacity_and_keep_the_layout() {
        let value = |c: usize, t: usize, b: usize| (c * 100_000 + t * 128 + b) as f32;
        let mut planes = Planes::new(3);
        for n in [2, 4, 1, 10] {
            let first = planes.frames;
            for (c, plane) in planes.grow(n).into_iter().enumerate() {
                for (i, x) in plane.iter_mut().enumerate() {
                    *x = value(c, first + i / N_MELS, i % N_MELS);
                }
            }
        }
        let power = planes.finish();
        assert_eq!((power.channels, power.frames), (2, 17));
        assert_eq!(power.data.len(), 2 * 17 * N_MELS);
        for (c, t, b) in [(0, 0, 0), (0, 16, 127), (1, 0, 5), (1, 9, 64), (1, 16, 127)] {
            assert_eq!(power.at(c, t, b), value(c, t, b), "({c}, {t}, {b})");
        }
    }
}
