//! The target labels are learnable from audio, but not trivially: with
//! crude features (mean and spread of 24 log band energies) and a 1-nearest
//! -neighbour rule that may not use the same artist's tracks, genre and
//! predominant instrument come out well above chance and well below
//! perfect.

use super::mono;
use crate::synth::{plan_corpus, render_track, Role, SynthParams, TargetSet, TrackLatent};

const BANDS: usize = 24;

/// The label a case predicts.
type Labeller = fn(&TrackLatent) -> &'static str;

/// Mean and standard deviation over frames of log energy in 24
/// log-spaced bands (43 Hz .. 11 kHz), level-normalised.
fn band_features(signal: &[f32]) -> Vec<f64> {
    let n = 1024;
    let plan = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut spectrum = plan.make_output_vec();
    let edges: Vec<usize> = (0..=BANDS)
        .map(|b| ((2.0 * 256f64.powf(b as f64 / BANDS as f64)) as usize).min(n / 2))
        .collect();
    let window: Vec<f32> = (0..n)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos())
        .collect();
    let mut frames: Vec<Vec<f64>> = Vec::new();
    for start in (0..signal.len().saturating_sub(n)).step_by(n / 2) {
        let mut input: Vec<f32> = signal[start..start + n]
            .iter()
            .zip(&window)
            .map(|(v, w)| v * w)
            .collect();
        plan.process(&mut input, &mut spectrum).expect("fft");
        frames.push(
            (0..BANDS)
                .map(|b| {
                    let bins = &spectrum[edges[b]..edges[b + 1].max(edges[b] + 1)];
                    (bins.iter().map(|c| f64::from(c.norm_sqr())).sum::<f64>() + 1e-9).ln()
                })
                .collect(),
        );
    }
    let count = frames.len() as f64;
    let mut features = Vec::with_capacity(2 * BANDS);
    for b in 0..BANDS {
        let mean = frames.iter().map(|f| f[b]).sum::<f64>() / count;
        let var = frames.iter().map(|f| (f[b] - mean).powi(2)).sum::<f64>() / count;
        features.push(mean);
        features.push(var.sqrt());
    }
    let level = features.iter().step_by(2).sum::<f64>() / BANDS as f64;
    features.iter_mut().step_by(2).for_each(|m| *m -= level);
    features
}

/// Leave-one-out 1-NN accuracy on standardised features; a track's
/// neighbours exclude its own artist when `across_artists`.
fn nearest_neighbour_accuracy(
    features: &[Vec<f64>],
    labels: &[&str],
    tracks: &[&TrackLatent],
    across_artists: bool,
) -> f64 {
    let n = features.len();
    let d = features[0].len();
    let mean: Vec<f64> = (0..d)
        .map(|j| features.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let sd: Vec<f64> = (0..d)
        .map(|j| {
            let v = features
                .iter()
                .map(|r| (r[j] - mean[j]).powi(2))
                .sum::<f64>()
                / n as f64;
            v.sqrt().max(1e-9)
        })
        .collect();
    let z: Vec<Vec<f64>> = features
        .iter()
        .map(|r| (0..d).map(|j| (r[j] - mean[j]) / sd[j]).collect())
        .collect();
    let distance =
        |a: usize, b: usize| -> f64 { z[a].iter().zip(&z[b]).map(|(p, q)| (p - q).powi(2)).sum() };
    let correct = (0..n)
        .filter(|&i| {
            (0..n)
                .filter(|&k| {
                    k != i && !(across_artists && tracks[k].artist_id == tracks[i].artist_id)
                })
                .min_by(|&a, &b| distance(i, a).total_cmp(&distance(i, b)))
                .is_some_and(|k| labels[k] == labels[i])
        })
        .count();
    correct as f64 / n as f64
}

#[test]
fn genre_and_instrument_are_audible_but_not_trivial() {
    let params = SynthParams {
        target_tracks: 160,
        duration_s: 4.0,
        ..SynthParams::tiny(3)
    };
    let corpus = plan_corpus(&params).expect("valid parameters");
    let cases: [(TargetSet, usize, Labeller); 2] = [
        (TargetSet::Gtzan, 8, |t| t.genre.name()),
        (TargetSet::Irmas, 7, |t| t.instrument.name()),
    ];
    for (set, classes, label) in cases {
        let tracks: Vec<&TrackLatent> = corpus.tracks_in(Role::Target(set)).collect();
        let features: Vec<Vec<f64>> = tracks
            .iter()
            .map(|t| band_features(&mono(&render_track(t, &params).expect("renders"))))
            .collect();
        let labels: Vec<&str> = tracks.iter().map(|t| label(t)).collect();
        let across = nearest_neighbour_accuracy(&features, &labels, &tracks, true);
        let any = nearest_neighbour_accuracy(&features, &labels, &tracks, false);
        let chance = 1.0 / classes as f64;
        println!(
            "{}: 1-NN accuracy {any:.2}, across artists {across:.2} (chance {chance:.2})",
            set.name()
        );
        assert!(
            across > 1.8 * chance,
            "{}: {across} barely above chance",
            set.name()
        );
        assert!(
            across < 0.8,
            "{}: {across} is trivially separable",
            set.name()
        );
    }
}
