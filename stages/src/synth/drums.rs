//! Percussion from filtered noise bursts and pitched sines: enough to give
//! every genre its groove and every beat a sharp onset.

use std::f64::consts::TAU;
use std::sync::OnceLock;

use super::score::Drum;
use crate::rng::Rng;

/// A burst's recipe: a pitched body (sine sweeping from `start_hz` to
/// `end_hz`) plus high-passed noise, each with its own decay.
#[derive(Debug, Clone, Copy)]
struct Recipe {
    start_hz: f64,
    end_hz: f64,
    sweep_s: f64,
    tone: f32,
    tone_decay_s: f64,
    /// A second, inharmonic partial (ratio to the body's pitch).
    overtone_ratio: f64,
    overtone: f32,
    noise: f32,
    noise_decay_s: f64,
    /// One-pole high-pass coefficient on the noise (0 = none, near 1 =
    /// only the top octave).
    noise_highpass: f32,
    /// One-pole low-pass on the noise (1 = none).
    noise_lowpass: f32,
    length_s: f64,
    /// Stereo position, -1 (left) .. 1 (right).
    pan: f32,
    gain: f32,
}

fn recipe(drum: Drum) -> Recipe {
    let base = Recipe {
        start_hz: 0.0,
        end_hz: 0.0,
        sweep_s: 0.01,
        tone: 0.0,
        tone_decay_s: 0.1,
        overtone_ratio: 1.0,
        overtone: 0.0,
        noise: 0.0,
        noise_decay_s: 0.05,
        noise_highpass: 0.0,
        noise_lowpass: 1.0,
        length_s: 0.2,
        pan: 0.0,
        gain: 1.0,
    };
    match drum {
        Drum::Kick => Recipe {
            start_hz: 150.0,
            end_hz: 50.0,
            sweep_s: 0.03,
            tone: 1.0,
            tone_decay_s: 0.18,
            noise: 0.25,
            noise_decay_s: 0.006,
            length_s: 0.45,
            gain: 1.1,
            ..base
        },
        Drum::Snare => Recipe {
            start_hz: 240.0,
            end_hz: 180.0,
            sweep_s: 0.02,
            tone: 0.45,
            tone_decay_s: 0.05,
            noise: 0.9,
            noise_decay_s: 0.12,
            noise_highpass: 0.5,
            length_s: 0.3,
            pan: -0.15,
            ..base
        },
        Drum::ClosedHat => Recipe {
            noise: 0.5,
            noise_decay_s: 0.03,
            noise_highpass: 0.92,
            length_s: 0.12,
            pan: 0.35,
            ..base
        },
        Drum::OpenHat => Recipe {
            noise: 0.45,
            noise_decay_s: 0.16,
            noise_highpass: 0.92,
            length_s: 0.5,
            pan: 0.35,
            ..base
        },
        Drum::Ride => Recipe {
            start_hz: 3200.0,
            end_hz: 3200.0,
            tone: 0.08,
            tone_decay_s: 0.3,
            overtone_ratio: 1.47,
            overtone: 0.06,
            noise: 0.35,
            noise_decay_s: 0.25,
            noise_highpass: 0.85,
            length_s: 0.6,
            pan: 0.4,
            ..base
        },
        Drum::Clap => Recipe {
            noise: 0.9,
            noise_decay_s: 0.07,
            noise_highpass: 0.6,
            noise_lowpass: 0.5,
            length_s: 0.25,
            pan: -0.1,
            ..base
        },
        Drum::Rim => Recipe {
            start_hz: 1700.0,
            end_hz: 1650.0,
            tone: 0.7,
            tone_decay_s: 0.02,
            noise: 0.3,
            noise_decay_s: 0.01,
            noise_highpass: 0.7,
            length_s: 0.1,
            pan: -0.3,
            ..base
        },
        Drum::Cowbell => Recipe {
            start_hz: 560.0,
            end_hz: 560.0,
            tone: 0.6,
            tone_decay_s: 0.09,
            overtone_ratio: 1.48,
            overtone: 0.5,
            length_s: 0.3,
            pan: 0.25,
            gain: 0.8,
            ..base
        },
        Drum::Conga => Recipe {
            start_hz: 260.0,
            end_hz: 210.0,
            sweep_s: 0.02,
            tone: 0.9,
            tone_decay_s: 0.14,
            noise: 0.2,
            noise_decay_s: 0.008,
            length_s: 0.4,
            pan: -0.3,
            ..base
        },
        Drum::Timpani => Recipe {
            start_hz: 100.0,
            end_hz: 96.0,
            sweep_s: 0.05,
            tone: 1.0,
            tone_decay_s: 0.35,
            overtone_ratio: 1.5,
            overtone: 0.35,
            noise: 0.5,
            noise_decay_s: 0.015,
            noise_lowpass: 0.6,
            length_s: 0.9,
            pan: 0.1,
            ..base
        },
        Drum::Brush => Recipe {
            noise: 0.9,
            noise_decay_s: 0.07,
            noise_highpass: 0.4,
            noise_lowpass: 0.6,
            length_s: 0.25,
            pan: -0.2,
            ..base
        },
        Drum::Shaker => Recipe {
            noise: 0.35,
            noise_decay_s: 0.04,
            noise_highpass: 0.85,
            length_s: 0.12,
            pan: 0.5,
            ..base
        },
    }
}

/// How the kit is tuned and played on one track.
#[derive(Debug, Clone, Copy)]
pub struct Kit {
    /// Level of the drums in the mix.
    pub level: f32,
    /// The track's brightness: scales the noise's presence the way it
    /// scales the partials.
    pub brightness: f64,
    /// Multiplier of every pitched drum's frequencies.
    pub pitch: f64,
    /// Multiplier of every decay time.
    pub decay: f64,
}

/// Adds one hit at sample `start` into both channels.
#[allow(clippy::too_many_arguments)]
pub fn play(
    drum: Drum,
    start: usize,
    velocity: f32,
    kit: &Kit,
    sample_rate: f64,
    rng: &mut Rng,
    left: &mut [f32],
    right: &mut [f32],
) {
    let mut r = recipe(drum);
    r.start_hz *= kit.pitch;
    r.end_hz *= kit.pitch;
    r.tone_decay_s *= kit.decay;
    r.noise_decay_s *= kit.decay;
    r.length_s *= kit.decay;
    let (level, brightness) = (kit.level, kit.brightness);
    let end = (start + (r.length_s * sample_rate) as usize).min(left.len());
    if start >= end {
        return;
    }
    let gain = velocity * level * r.gain;
    let (gain_l, gain_r) = pan_gains(r.pan);
    let tone_decay = (-1.0 / (r.tone_decay_s * sample_rate)).exp();
    let noise_decay = (-1.0 / (r.noise_decay_s * sample_rate)).exp() as f32;
    let sweep = (-1.0 / (r.sweep_s * sample_rate)).exp();
    let noise_level = r.noise * (0.6 + 0.8 * brightness as f32);
    let (mut phase, mut overtone_phase) = (0.0f64, 0.0f64);
    let mut freq_offset = r.start_hz - r.end_hz;
    // A part the recipe lacks starts silent, so the early exit below
    // waits only for the parts that sound.
    let mut tone_env = if r.tone > 0.0 { 1.0f64 } else { 0.0 };
    let mut noise_env = if r.noise > 0.0 { 1.0f32 } else { 0.0 };
    let (mut prev_in, mut highpassed, mut lowpassed) = (0f32, 0f32, 0f32);
    // 1 ms fade-in: no click wider than the drum's own attack.
    let fade = (0.001 * sample_rate).max(1.0);
    for n in start..end {
        if tone_env < 1e-3 && noise_env < 1e-3 {
            break;
        }
        let age = (n - start) as f64;
        let mut sample = 0f32;
        if r.tone > 0.0 {
            let freq = r.end_hz + freq_offset;
            phase = (phase + freq / sample_rate).fract();
            let mut body = sin_cycles(phase);
            if r.overtone > 0.0 {
                overtone_phase = (overtone_phase + freq * r.overtone_ratio / sample_rate).fract();
                body += r.overtone * sin_cycles(overtone_phase);
            }
            sample += r.tone * body * tone_env as f32;
            freq_offset *= sweep;
            tone_env *= tone_decay;
        }
        if r.noise > 0.0 {
            let white = rng.noise();
            highpassed = r.noise_highpass * (highpassed + white - prev_in)
                + (1.0 - r.noise_highpass) * white;
            prev_in = white;
            lowpassed += r.noise_lowpass * (highpassed - lowpassed);
            sample += noise_level * lowpassed * noise_env;
            noise_env *= noise_decay;
        }
        let ramp = (age / fade).min(1.0) as f32;
        let out = sample * gain * ramp;
        left[n] += out * gain_l;
        right[n] += out * gain_r;
    }
}

/// sin(2 pi x) for x in [0, 1) from a table (linear interpolation; error
/// below 1e-6, far under 16-bit resolution).
fn sin_cycles(x: f64) -> f32 {
    const LEN: usize = 4096;
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=LEN)
            .map(|i| (TAU * i as f64 / LEN as f64).sin() as f32)
            .collect()
    });
    let pos = x * LEN as f64;
    let i = (pos as usize).min(LEN - 1);
    let frac = (pos - i as f64) as f32;
    table[i] + (table[i + 1] - table[i]) * frac
}

/// Constant-power pan: -1 = left only, 1 = right only.
pub fn pan_gains(pan: f32) -> (f32, f32) {
    let angle = (pan.clamp(-1.0, 1.0) + 1.0) * std::f32::consts::FRAC_PI_4;
    (angle.cos(), angle.sin())
}
