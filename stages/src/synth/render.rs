//! From a track's latents to stereo samples: compose the score, play every
//! note and hit, apply the track's tone and EQ, add a little room and a
//! noise floor, and normalise the
//! peak to a level that grows with the track's energy (loud genres are
//! mastered hotter), always below full scale.

use super::drums;
use super::instruments::VoiceBank;
use super::latents::TrackLatent;
use super::score::{compose, Voice};
use super::wav::encode_wav;
use super::{SynthError, SynthParams};
use crate::rng::Rng;

/// Two channels of equal length at `sample_rate`, samples in (-1, 1).
#[derive(Debug, Clone, PartialEq)]
pub struct StereoAudio {
    pub sample_rate: u32,
    /// [left, right].
    pub channels: [Vec<f32>; 2],
}

impl StereoAudio {
    pub fn len(&self) -> usize {
        self.channels[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest absolute sample over both channels.
    pub fn peak(&self) -> f32 {
        self.channels
            .iter()
            .flatten()
            .fold(0f32, |m, v| m.max(v.abs()))
    }
}

/// Renders one track: `params.duration_s` seconds at `params.sample_rate`.
/// Depends only on (params.seed, track) — not on other tracks — so tracks
/// can be rendered in parallel, in any order, or on demand.
pub fn render_track(track: &TrackLatent, params: &SynthParams) -> Result<StereoAudio, SynthError> {
    params.validate()?;
    check_latents(track)?;
    let n = params.samples_per_track();
    let sr = f64::from(params.sample_rate);
    let duration_s = n as f64 / sr;
    let score = compose(
        track,
        duration_s,
        &mut Rng::derive(params.seed, &["score", &track.track_id]),
    );
    let mut rng = Rng::derive(params.seed, &["sound", &track.track_id]);
    let mut left = vec![0f32; n];
    let mut right = vec![0f32; n];

    let lead_pan = rng.range(-0.3, 0.3) as f32;
    let accompaniment_pan = (-1.5 * lead_pan).clamp(-0.6, 0.6);
    let mut bank = VoiceBank::new(params.sample_rate, track.brightness);
    for note in &score.notes {
        let pan = match note.voice {
            Voice::Lead(_) => lead_pan,
            Voice::Accompaniment(_) => accompaniment_pan,
            Voice::Bass { .. } => 0.0,
        };
        let start = (note.start_s.max(0.0) * sr).round() as usize;
        let hold = (note.duration_s * sr).round() as usize;
        bank.play(
            note.voice,
            note.midi,
            start,
            hold,
            note.velocity,
            drums::pan_gains(pan),
            &mut rng,
            &mut left,
            &mut right,
        );
    }
    let production = &track.production;
    let kit = drums::Kit {
        level: (0.7 + 0.3 * track.energy) as f32,
        brightness: track.brightness,
        pitch: production.kit_pitch,
        decay: production.kit_decay,
    };
    for hit in &score.hits {
        let start = (hit.time_s * sr).round() as usize;
        drums::play(
            hit.drum,
            start,
            hit.velocity,
            &kit,
            sr,
            &mut rng,
            &mut left,
            &mut right,
        );
    }

    // The track's brightness acts as a treble control on top of the
    // artist's EQ: the top band at 0.2 (darkest) .. 1 (brightest).
    let treble = (0.2 + 0.8 * track.brightness) as f32;
    let mut gains = production.eq_db.map(|db| 10f64.powf(db / 20.0) as f32);
    gains[2] *= treble;
    equalise(&mut left, &mut right, sr, gains);
    let room = production.room as f32;
    add_room(&mut left, (0.0297 * sr) as usize, room);
    add_room(&mut right, (0.0371 * sr) as usize, room);
    add_noise_floor(&mut left, &mut right, production.snr_db, &mut rng);

    let mut audio = StereoAudio {
        sample_rate: params.sample_rate,
        channels: [left, right],
    };
    let peak = audio.peak();
    if !peak.is_finite() {
        return Err(SynthError::Render {
            track_id: track.track_id.clone(),
            reason: "the mix is not finite".into(),
        });
    }
    let target_peak = (0.3 + 0.6 * track.energy).clamp(0.25, 0.95) as f32;
    if peak > 0.0 {
        let scale = target_peak / peak;
        audio
            .channels
            .iter_mut()
            .flatten()
            .for_each(|v| *v *= scale);
    }
    Ok(audio)
}

/// Latents built by hand (not by `plan_corpus`) could ask for the
/// impossible: a bar of zero beats, a NaN brightness. Refuse them.
fn check_latents(track: &TrackLatent) -> Result<(), SynthError> {
    let p = &track.production;
    let checks: [(&str, f64, f64, f64); 10] = [
        ("bpm", track.bpm, 20.0, 400.0),
        ("meter", f64::from(track.meter), 1.0, 12.0),
        ("key", f64::from(track.key), 0.0, 11.0),
        ("brightness", track.brightness, 0.0, 1.0),
        ("energy", track.energy, 0.0, 1.0),
        ("production.kit_pitch", p.kit_pitch, 0.25, 4.0),
        ("production.kit_decay", p.kit_decay, 0.1, 10.0),
        ("production.room", p.room, 0.0, 0.9),
        ("production.lead_db", p.lead_db, -40.0, 40.0),
        ("production.snr_db", p.snr_db, 0.0, 120.0),
    ];
    let eq = p
        .eq_db
        .iter()
        .map(|&g| ("production.eq_db", g, -40.0, 40.0));
    for (name, value, lo, hi) in checks.into_iter().chain(eq) {
        if !(value.is_finite() && (lo..=hi).contains(&value)) {
            return Err(SynthError::Render {
                track_id: track.track_id.clone(),
                reason: format!("{name} = {value} is outside {lo}..={hi}"),
            });
        }
    }
    Ok(())
}

/// Renders one track straight to 16-bit PCM WAV bytes.
pub fn render_wav(track: &TrackLatent, params: &SynthParams) -> Result<Vec<u8>, SynthError> {
    let audio = render_track(track, params)?;
    encode_wav(&audio.channels, audio.sample_rate)
}

/// A three-band EQ on both channels (split at 250 Hz and 3 kHz by
/// one-pole filters, so the bands sum back to the input at unit gains):
/// the mix engineer's habit, different for every artist. Both channels in
/// one loop: four independent recurrences run in parallel in the CPU.
fn equalise(left: &mut [f32], right: &mut [f32], sample_rate: f64, gains: [f32; 3]) {
    let coefficient = |hz: f64| (1.0 - (-std::f64::consts::TAU * hz / sample_rate).exp()) as f32;
    let (k_low, k_high) = (coefficient(250.0), coefficient(3000.0));
    let mut low = [0f32; 2];
    let mut below_high = [0f32; 2];
    for (l, r) in left.iter_mut().zip(right.iter_mut()) {
        for (c, v) in [l, r].into_iter().enumerate() {
            low[c] += k_low * (*v - low[c]);
            below_high[c] += k_high * (*v - below_high[c]);
            let high = *v - below_high[c];
            let mid = below_high[c] - low[c];
            *v = gains[0] * low[c] + gains[1] * mid + gains[2] * high;
        }
    }
}

/// A feedback comb (delay `delay` samples, feedback 0.4) mixed in at
/// `wet`: a small, cheap sense of room.
fn add_room(signal: &mut [f32], delay: usize, wet: f32) {
    if wet <= 0.0 || delay == 0 || delay >= signal.len() {
        return;
    }
    let mut echo = vec![0f32; signal.len()];
    for i in delay..signal.len() {
        echo[i] = signal[i - delay] + 0.4 * echo[i - delay];
    }
    for (s, e) in signal.iter_mut().zip(&echo) {
        *s += wet * 0.5 * e;
    }
}

/// Independent, slightly pink noise in each channel at `snr_db` below the
/// mix's RMS.
fn add_noise_floor(left: &mut [f32], right: &mut [f32], snr_db: f64, rng: &mut Rng) {
    let energy: f64 = left
        .iter()
        .chain(right.iter())
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    let count = (left.len() + right.len()).max(1) as f64;
    let rms = (energy / count).sqrt();
    let amplitude = (rms * 10f64.powf(-snr_db / 20.0) * 3f64.sqrt()) as f32;
    for channel in [left, right] {
        let mut low = 0f32;
        for v in channel.iter_mut() {
            let white = rng.noise();
            low += 0.1 * (white - low);
            *v += amplitude * (0.5 * white + 1.5 * low);
        }
    }
}
