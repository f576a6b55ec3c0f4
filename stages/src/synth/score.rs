//! The arrangement of one track, as timed events: a chord progression
//! (one chord a bar) voiced by the accompaniment, a bass line, a melody on
//! the predominant instrument built from a repeated two-bar motif, and the
//! genre's drum pattern. Every beat falls exactly on `k * 60 / bpm`
//! seconds (up to a few milliseconds of human timing), which is what makes
//! the tempo audible and measurable.

use super::latents::TrackLatent;
use super::style::{Instrument, Mode, Rhythm};
use crate::rng::Rng;

/// Who plays a note: decides timbre, register and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Voice {
    Lead(Instrument),
    Accompaniment(Instrument),
    /// Plucked bass; `short` for pizzicato and staccato styles.
    Bass {
        short: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Note {
    pub start_s: f64,
    pub duration_s: f64,
    pub midi: i32,
    /// Linear amplitude, about 0..1.
    pub velocity: f32,
    pub voice: Voice,
}

/// Percussion, synthesised from noise bursts and pitched sines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drum {
    Kick,
    Snare,
    ClosedHat,
    OpenHat,
    Ride,
    Clap,
    Rim,
    Cowbell,
    Conga,
    Timpani,
    Brush,
    Shaker,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub time_s: f64,
    pub drum: Drum,
    pub velocity: f32,
}

#[derive(Debug, Clone, Default)]
pub struct Score {
    pub notes: Vec<Note>,
    pub hits: Vec<Hit>,
}

/// Drum hits of one bar: (drum, position in beats, velocity).
fn drum_pattern(rhythm: Rhythm, meter: u8, energy: f64) -> Vec<(Drum, f64, f32)> {
    use Drum::*;
    let busy = energy > 0.6;
    let mut hits = Vec::new();
    let beats = f64::from(meter);
    match rhythm {
        Rhythm::Orchestral => {
            hits.push((Timpani, 0.0, 1.0));
            for b in 1..meter {
                hits.push((Timpani, f64::from(b), 0.8));
            }
            for b in 0..meter {
                hits.push((Brush, f64::from(b), 1.0));
            }
        }
        Rhythm::Swing => {
            for b in 0..4 {
                let b = f64::from(b);
                hits.push((Ride, b, 0.8));
                hits.push((Kick, b, 0.55));
            }
            hits.push((Ride, 1.5, 0.4));
            hits.push((Ride, 3.5, 0.4));
            hits.push((ClosedHat, 1.0, 0.35));
            hits.push((ClosedHat, 3.0, 0.35));
        }
        Rhythm::Backbeat => {
            hits.push((Kick, 0.0, 1.0));
            hits.push((Kick, 2.0, 1.0));
            if busy {
                hits.push((Kick, 2.5, 0.55));
            }
            hits.push((Snare, 1.0, 1.0));
            hits.push((Snare, 3.0, 1.0));
            for e in 0..8 {
                let at = f64::from(e) * 0.5;
                hits.push((ClosedHat, at, if e % 2 == 0 { 0.6 } else { 0.35 }));
            }
        }
        Rhythm::FourOnFloor => {
            for b in 0..4 {
                let b = f64::from(b);
                hits.push((Kick, b, 1.0));
                hits.push((OpenHat, b + 0.5, 0.3));
                if busy {
                    hits.push((ClosedHat, b + 0.25, 0.15));
                    hits.push((ClosedHat, b + 0.75, 0.15));
                }
            }
            hits.push((Clap, 1.0, 0.8));
            hits.push((Clap, 3.0, 0.8));
        }
        Rhythm::BoomBap => {
            hits.push((Kick, 0.0, 1.0));
            hits.push((Kick, 2.0, 0.85));
            hits.push((Kick, 2.75, 0.45));
            hits.push((Snare, 1.0, 1.0));
            hits.push((Snare, 3.0, 1.0));
            for e in 0..8 {
                let at = f64::from(e) * 0.5;
                hits.push((ClosedHat, at, if e % 2 == 0 { 0.7 } else { 0.4 }));
            }
        }
        Rhythm::Waltz => {
            hits.push((Kick, 0.0, 0.7));
            for b in 1..3 {
                hits.push((Brush, f64::from(b), 1.0));
                hits.push((ClosedHat, f64::from(b), 0.7));
            }
            hits.push((ClosedHat, 0.0, 0.5));
        }
        Rhythm::Tango => {
            hits.push((Kick, 0.0, 1.0));
            hits.push((Kick, 1.0, 0.8));
            hits.push((Kick, 2.0, 0.9));
            hits.push((Kick, 3.0, 0.8));
            hits.push((Rim, 1.0, 0.6));
            hits.push((Rim, 3.0, 0.6));
            hits.push((Rim, 3.5, 0.55));
        }
        Rhythm::ChaCha => {
            for b in 0..4 {
                hits.push((Cowbell, f64::from(b), 0.7));
            }
            for e in 0..8 {
                hits.push((Shaker, f64::from(e) * 0.5, 0.3));
            }
            hits.push((Kick, 0.0, 1.0));
            hits.push((Conga, 1.0, 0.75));
            hits.push((Conga, 2.0, 0.75));
            hits.push((Clap, 3.0, 0.8));
            hits.push((Clap, 3.5, 0.6));
        }
        Rhythm::Rumba => {
            for b in 0..4 {
                hits.push((Conga, f64::from(b), 0.8));
                hits.push((Kick, f64::from(b), 0.5));
            }
            hits.push((Rim, 0.0, 0.5));
            hits.push((Rim, 1.5, 0.4));
            hits.push((Rim, 3.0, 0.5));
            for e in 0..8 {
                hits.push((Shaker, f64::from(e) * 0.5, 0.25));
            }
        }
    }
    hits.retain(|h| h.1 < beats);
    hits
}

/// Bass notes of one bar: (position, duration in beats, chord tone:
/// 0 = root, 1 = fifth, 2 = octave, 3 = passing tone a step below the
/// next root).
fn bass_pattern(rhythm: Rhythm, meter: u8) -> Vec<(f64, f64, u8)> {
    match rhythm {
        Rhythm::Orchestral => (0..meter)
            .map(|b| (f64::from(b), 0.9, if b == 0 { 0 } else { 1 }))
            .collect(),
        Rhythm::Swing => vec![(0.0, 0.9, 0), (1.0, 0.9, 1), (2.0, 0.9, 2), (3.0, 0.9, 3)],
        Rhythm::Backbeat => (0..8).map(|e| (f64::from(e) * 0.5, 0.45, 0)).collect(),
        Rhythm::FourOnFloor => (0..4)
            .map(|b| (f64::from(b) + 0.5, 0.4, (b % 2) * 2))
            .collect(),
        Rhythm::BoomBap => vec![(0.0, 1.5, 0), (2.0, 0.7, 0), (2.75, 1.0, 1)],
        Rhythm::Waltz => vec![(0.0, 0.9, 0)],
        Rhythm::Tango => vec![(0.0, 0.4, 0), (1.0, 0.4, 0), (2.0, 0.4, 1), (3.0, 0.4, 0)],
        Rhythm::ChaCha => vec![(0.0, 0.5, 0), (1.5, 0.5, 0), (3.0, 0.9, 1)],
        Rhythm::Rumba => vec![(0.0, 1.4, 0), (1.5, 0.5, 1), (3.0, 0.9, 0)],
    }
}

/// Accompaniment chord onsets of one bar: (position, duration in beats).
fn comp_pattern(rhythm: Rhythm, meter: u8) -> Vec<(f64, f64)> {
    let bar = f64::from(meter);
    match rhythm {
        // Chords restruck on every beat, as strings and winds accompany.
        Rhythm::Orchestral => (0..meter).map(|b| (f64::from(b), 0.95)).collect(),
        Rhythm::FourOnFloor | Rhythm::BoomBap => vec![(0.0, bar)],
        Rhythm::Swing => vec![(0.0, 0.6), (1.5, 0.5)],
        Rhythm::Backbeat | Rhythm::Rumba => vec![(0.0, 1.9), (2.0, 1.9)],
        Rhythm::Waltz => vec![(1.0, 0.5), (2.0, 0.5)],
        Rhythm::Tango | Rhythm::ChaCha => (0..meter).map(|b| (f64::from(b), 0.4)).collect(),
    }
}

/// Melody rhythm cells (note lengths in beats) filling one bar, sparse to
/// dense.
fn melody_cells(meter: u8) -> &'static [&'static [f64]] {
    if meter == 3 {
        &[
            &[3.0],
            &[2.0, 1.0],
            &[1.0, 1.0, 1.0],
            &[1.5, 0.5, 1.0],
            &[0.5, 0.5, 1.0, 1.0],
        ]
    } else {
        &[
            &[4.0],
            &[2.0, 2.0],
            &[2.0, 1.0, 1.0],
            &[1.0, 1.0, 1.0, 1.0],
            &[1.5, 0.5, 2.0],
            &[0.5, 0.5, 1.0, 1.0, 1.0],
            &[1.0, 0.5, 0.5, 1.0, 1.0],
            &[0.5, 0.5, 0.5, 0.5, 1.0, 1.0],
        ]
    }
}

/// MIDI pitch of scale degree `degree` (any integer) above `tonic_midi`.
pub fn degree_midi(tonic_midi: i32, mode: Mode, degree: i32) -> i32 {
    let scale = mode.scale();
    tonic_midi + 12 * degree.div_euclid(7) + scale[degree.rem_euclid(7) as usize]
}

/// The chord on `root` (a scale degree): triad or seventh, with the
/// leading tone raised on a minor key's dominant.
fn chord_midi(tonic_midi: i32, mode: Mode, root: i32, seventh: bool) -> Vec<i32> {
    let size = if seventh { 4 } else { 3 };
    (0..size)
        .map(|i| {
            let degree = root + 2 * i;
            let raise = mode == Mode::Minor && degree.rem_euclid(7) == 6 && root.rem_euclid(7) == 4;
            degree_midi(tonic_midi, mode, degree) + i32::from(raise)
        })
        .collect()
}

/// Lays out the whole track. Deterministic in (track, rng).
pub fn compose(track: &TrackLatent, duration_s: f64, rng: &mut Rng) -> Score {
    let style = track.genre.style();
    let rhythm = track.rhythm;
    let meter = track.meter;
    let beat_s = 60.0 / track.bpm;
    let bar_s = beat_s * f64::from(meter);
    let n_bars = (duration_s / bar_s).ceil() as usize + 1;
    let swing = style.swing;
    // Swung off-beats arrive late; beats stay on the grid.
    let place = |bar: usize, pos: f64| -> f64 {
        let frac = pos.fract();
        let shifted = if (frac - 0.5).abs() < 1e-9 {
            pos + swing
        } else if swing > 0.0 && ((frac - 0.25).abs() < 1e-9 || (frac - 0.75).abs() < 1e-9) {
            pos + swing * 0.5
        } else {
            pos
        };
        bar as f64 * bar_s + shifted * beat_s
    };
    let progression = *rng.pick(style.progressions);
    let key = i32::from(track.key);
    let mut score = Score::default();

    // Drums.
    let pattern = drum_pattern(rhythm, meter, track.energy);
    for bar in 0..n_bars {
        for &(drum, pos, velocity) in &pattern {
            let time_s = place(bar, pos) + rng.gauss(0.0, 0.002);
            let accent = 1.0 + 0.08 * rng.normal() as f32;
            score.hits.push(Hit {
                time_s: time_s.max(0.0),
                drum,
                velocity: (velocity * accent).clamp(0.05, 1.2),
            });
        }
    }

    // Harmony and bass.
    let short_bass = matches!(rhythm, Rhythm::Orchestral | Rhythm::Tango);
    // The waltz's "pah-pah" chords carry beats 2 and 3.
    let comp_velocity = if rhythm == Rhythm::Waltz { 0.35 } else { 0.22 };
    let comp_tonic = 48 + key;
    let bass_tonic = 36 + key;
    let roots: Vec<i32> = (0..n_bars)
        .map(|bar| i32::from(progression[bar % progression.len()]))
        .collect();
    for bar in 0..n_bars {
        let root = roots[bar];
        let chord = chord_midi(comp_tonic, track.mode, root, style.sevenths);
        for &(pos, dur) in &comp_pattern(rhythm, meter) {
            for &midi in &chord {
                score.notes.push(Note {
                    start_s: place(bar, pos),
                    duration_s: dur * beat_s,
                    midi,
                    velocity: comp_velocity,
                    voice: Voice::Accompaniment(track.accompaniment),
                });
            }
        }
        let next_root = roots.get(bar + 1).copied().unwrap_or(roots[0]);
        for &(pos, dur, tone) in &bass_pattern(rhythm, meter) {
            let root_midi = degree_midi(bass_tonic, track.mode, root);
            let midi = match tone {
                0 => root_midi,
                1 => root_midi + 7,
                2 => root_midi + 12,
                _ => degree_midi(bass_tonic, track.mode, next_root) - 1,
            };
            score.notes.push(Note {
                start_s: place(bar, pos),
                duration_s: dur * beat_s,
                midi,
                velocity: 0.55,
                voice: Voice::Bass { short: short_bass },
            });
        }
    }

    // Melody: a two-bar motif of cells and scale steps, restated on every
    // chord, with occasional rests and a new motif every eight bars.
    let (low, high) = track.instrument.melody_range_midi();
    let lead_tonic = {
        let mut t = low + (key - low).rem_euclid(12);
        if t + 7 > high {
            t -= 12;
        }
        t
    };
    let cells = melody_cells(meter);
    let lead_gain = 10f64.powf(track.production.lead_db / 20.0) as f32;
    // Energetic tracks favour the denser cells.
    let cell_weights: Vec<f64> = (0..cells.len())
        .map(|i| {
            let density = i as f64 / (cells.len() - 1) as f64;
            (-((density - track.energy) * 3.0).powi(2)).exp() + 0.05
        })
        .collect();
    let articulation = if matches!(rhythm, Rhythm::Tango) {
        0.55
    } else {
        0.92
    };
    let mut motif: Vec<(usize, Vec<i32>)> = Vec::new();
    for bar in 0..n_bars {
        if bar % 8 == 0 {
            motif = (0..2)
                .map(|_| {
                    let cell = rng.weighted(&cell_weights);
                    let steps = (0..cells[cell].len())
                        .map(|_| *rng.pick(&[-2, -1, -1, 0, 1, 1, 2, 3]))
                        .collect();
                    (cell, steps)
                })
                .collect();
        }
        let (cell, steps) = &motif[bar % 2];
        // Start each bar on a chord tone of the bar's chord.
        let mut degree = roots[bar] + 2 * rng.below(2) as i32;
        let mut pos = 0.0;
        for (i, &length) in cells[*cell].iter().enumerate() {
            if i > 0 {
                degree += steps[i];
            }
            let mut midi = degree_midi(lead_tonic, track.mode, degree);
            while midi > high {
                midi -= 12;
                degree -= 7;
            }
            while midi < low {
                midi += 12;
                degree += 7;
            }
            if !rng.chance(0.08 + 0.1 * (1.0 - track.energy)) {
                score.notes.push(Note {
                    start_s: place(bar, pos) + rng.gauss(0.0, 0.004),
                    duration_s: length * beat_s * articulation,
                    midi,
                    velocity: lead_gain * (0.8 + 0.08 * rng.normal()).clamp(0.5, 1.1) as f32,
                    voice: Voice::Lead(track.instrument),
                });
            }
            pos += length;
        }
    }
    score.notes.retain(|n| n.start_s < duration_s);
    score.hits.retain(|h| h.time_s < duration_s);
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_dominant_has_a_leading_tone() {
        // A minor: E G# B.
        assert_eq!(chord_midi(57, Mode::Minor, 4, false), vec![64, 68, 71]);
        // C major: C E G B for a seventh on the tonic.
        assert_eq!(chord_midi(60, Mode::Major, 0, true), vec![60, 64, 67, 71]);
        assert_eq!(degree_midi(60, Mode::Major, -1), 59);
        assert_eq!(degree_midi(60, Mode::Minor, 9), 75);
    }
}
