//! Any channel count -> exactly two channels, at the same sample rate.
//!
//! - 1 channel: duplicated into both (SPEC 3).
//! - 2 channels: kept as they are.
//! - more: mixed by speaker position, ITU-R BS.775 style: front left/right
//!   at gain 1 to their side, centre channels at 1/sqrt(2) to both, other
//!   left/right speakers (surround, side, wide, height) at 1/sqrt(2) to their
//!   side, LFE dropped. Both outputs are then divided by the larger of the
//!   two gain sums, so a full-scale input cannot clip and the balance between
//!   left and right is kept. Channels without a position (discrete,
//!   Ambisonic) count as centre; if none has a position, both outputs are
//!   the plain mean of all channels.

use std::f64::consts::FRAC_1_SQRT_2;

use super::{AudioError, Decoded};

/// Where a channel is meant to play, as far as the downmix cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// Front left.
    Left,
    /// Front right.
    Right,
    /// Any centre speaker (front, rear, top): half power to each side.
    Centre,
    /// Any other speaker on the left (surround, side, wide, height).
    SideLeft,
    /// Any other speaker on the right.
    SideRight,
    /// Low-frequency effects: left out.
    Lfe,
    /// No position known.
    Unlabelled,
}

impl Speaker {
    /// Gains (to left, to right) before normalisation.
    fn gains(self) -> (f64, f64) {
        match self {
            Speaker::Left => (1.0, 0.0),
            Speaker::Right => (0.0, 1.0),
            Speaker::Centre | Speaker::Unlabelled => (FRAC_1_SQRT_2, FRAC_1_SQRT_2),
            Speaker::SideLeft => (FRAC_1_SQRT_2, 0.0),
            Speaker::SideRight => (0.0, FRAC_1_SQRT_2),
            Speaker::Lfe => (0.0, 0.0),
        }
    }
}

/// Two channels at one sample rate: `channels: [2][samples]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stereo {
    pub channels: [Vec<f32>; 2],
    pub sample_rate: u32,
}

impl Stereo {
    /// Samples per channel.
    pub fn len(&self) -> usize {
        self.channels[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Mixes decoded audio to two channels (see the module doc for the rule).
pub fn to_stereo(decoded: &Decoded) -> Result<Stereo, AudioError> {
    let downmix = Downmix::new(&decoded.speakers, decoded.channels.len())?;
    let mut channels = [
        Vec::with_capacity(decoded.len()),
        Vec::with_capacity(decoded.len()),
    ];
    downmix.extend(&decoded.channels, &mut channels);
    Ok(Stereo {
        channels,
        sample_rate: decoded.sample_rate,
    })
}

/// The rule for one stream's channels, fixed once so that the stream can be
/// mixed piece by piece as it is decoded.
#[derive(Debug, Clone)]
pub enum Downmix {
    /// One channel, into both.
    Duplicate,
    /// Two channels, kept.
    Keep,
    /// More: `(to left, to right)` gain of each channel.
    Mix(Vec<(f64, f64)>),
}

impl Downmix {
    /// The rule for `channels` channels placed at `speakers`.
    pub fn new(speakers: &[Speaker], channels: usize) -> Result<Downmix, AudioError> {
        Ok(match channels {
            0 => return Err(AudioError::NoChannels),
            1 => Downmix::Duplicate,
            2 => Downmix::Keep,
            many => {
                let labelled = speakers.iter().any(|s| *s != Speaker::Unlabelled);
                let mut gains: Vec<(f64, f64)> = if labelled && speakers.len() == many {
                    speakers.iter().map(|s| s.gains()).collect()
                } else {
                    vec![(1.0, 1.0); many]
                };
                let (sum_left, sum_right) = gains
                    .iter()
                    .fold((0.0, 0.0), |(l, r), (gl, gr)| (l + gl, r + gr));
                let norm = sum_left.max(sum_right);
                if norm > 0.0 {
                    gains.iter_mut().for_each(|(l, r)| {
                        *l /= norm;
                        *r /= norm;
                    });
                } else {
                    // Only LFE channels: better a mean of them than silence.
                    gains = vec![(1.0 / many as f64, 1.0 / many as f64); many];
                }
                Downmix::Mix(gains)
            }
        })
    }

    /// Appends `planes: [channel][sample]` (the channel count of
    /// [`Downmix::new`]), mixed, to the two channels of `out`.
    pub fn extend(&self, planes: &[Vec<f32>], out: &mut [Vec<f32>; 2]) {
        let [left, right] = out;
        match (self, planes) {
            (Downmix::Duplicate, [mono, ..]) => {
                left.extend_from_slice(mono);
                right.extend_from_slice(mono);
            }
            (Downmix::Keep, [l, r, ..]) => {
                left.extend_from_slice(l);
                right.extend_from_slice(r);
            }
            (Downmix::Mix(gains), many) => {
                mix(many, gains.iter().map(|g| g.0), left);
                mix(many, gains.iter().map(|g| g.1), right);
            }
            _ => unreachable!("planes of the channel count the rule was made for"),
        }
    }
}

/// Appends `sum_c gain[c] * channels[c][i]`, accumulated in f64, to `out`.
fn mix(channels: &[Vec<f32>], gains: impl Iterator<Item = f64>, out: &mut Vec<f32>) {
    let len = channels.iter().map(Vec::len).min().unwrap_or(0);
    let mut sum = vec![0.0f64; len];
    for (channel, gain) in channels.iter().zip(gains) {
        if gain != 0.0 {
            for (o, &x) in sum.iter_mut().zip(channel) {
                *o += gain * f64::from(x);
            }
        }
    }
    out.extend(sum.into_iter().map(|x| x as f32));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::StreamEnd;

    fn decoded(channels: Vec<Vec<f32>>, speakers: Vec<Speaker>) -> Decoded {
        Decoded {
            sample_rate: 8_000,
            channels,
            speakers,
            skipped_packets: 0,
            end: StreamEnd::Complete,
        }
    }

    #[test]
    fn mono_is_duplicated_and_stereo_kept() {
        let mono = to_stereo(&decoded(vec![vec![0.5, -0.25]], vec![Speaker::Centre])).unwrap();
        assert_eq!(mono.channels, [vec![0.5, -0.25], vec![0.5, -0.25]]);
        assert_eq!(mono.sample_rate, 8_000);
        let stereo = to_stereo(&decoded(
            vec![vec![0.1], vec![0.2]],
            vec![Speaker::Left, Speaker::Right],
        ))
        .unwrap();
        assert_eq!(stereo.channels, [vec![0.1], vec![0.2]]);
    }

    #[test]
    fn five_one_keeps_sides_drops_lfe_and_cannot_clip() {
        use Speaker::*;
        // FL FR FC LFE RL RR, each channel a distinct constant.
        let speakers = vec![Left, Right, Centre, Lfe, SideLeft, SideRight];
        let only = |i: usize| {
            let channels = (0..6)
                .map(|c| vec![if c == i { 1.0 } else { 0.0 }])
                .collect();
            to_stereo(&decoded(channels, speakers.clone()))
                .unwrap()
                .channels
        };
        let norm = 1.0 + 2.0 * FRAC_1_SQRT_2; // left gains: FL, FC, RL
        let close = |a: f32, b: f64| (f64::from(a) - b).abs() < 1e-6;
        assert!(close(only(0)[0][0], 1.0 / norm) && close(only(0)[1][0], 0.0));
        assert!(close(only(1)[0][0], 0.0) && close(only(1)[1][0], 1.0 / norm));
        let centre = only(2);
        assert!(close(centre[0][0], FRAC_1_SQRT_2 / norm) && centre[0] == centre[1]);
        assert_eq!(only(3), [vec![0.0], vec![0.0]]);
        assert!(close(only(4)[0][0], FRAC_1_SQRT_2 / norm) && close(only(4)[1][0], 0.0));
        // All channels at full scale: the mix stays within [-1, 1].
        let full = to_stereo(&decoded(vec![vec![1.0]; 6], speakers)).unwrap();
        assert!(full
            .channels
            .iter()
            .all(|c| c[0] <= 1.0 + 1e-6 && c[0] > 0.99));
    }

    #[test]
    fn unlabelled_channels_are_averaged() {
        let three = decoded(
            vec![vec![0.3], vec![0.6], vec![0.9]],
            vec![Speaker::Unlabelled; 3],
        );
        let out = to_stereo(&three).unwrap();
        assert!((out.channels[0][0] - 0.6).abs() < 1e-6);
        assert_eq!(out.channels[0], out.channels[1]);
    }

    #[test]
    fn no_channels_is_an_error() {
        let none = decoded(vec![], vec![]);
        assert!(matches!(to_stereo(&none), Err(AudioError::NoChannels)));
    }
}
