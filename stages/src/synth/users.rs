//! Simulated listeners: who plays what, and how often. Behind the `taste`
//! learning source and the Last.fm-like recommendation target (two
//! separate user pools). A listener likes a few genres (sparse Dirichlet),
//! leans towards energetic or calm and happy or sad music, has favourite
//! instruments, and some listen far more than others: all audible latents,
//! so content features can predict plays (the cold-start premise).

use std::collections::BTreeMap;

use super::latents::TrackLatent;
use super::style::{Genre, Instrument};
use crate::rng::{Categorical, Rng};

#[derive(Debug, Clone)]
pub struct Listener {
    pub id: String,
    genre_pref: Vec<f64>,
    instrument_pref: Vec<f64>,
    arousal_weight: f64,
    valence_weight: f64,
    /// Relative listening volume (log-normal).
    activity: f64,
}

/// A pool of `n` listeners named `{prefix}{index:04}`.
pub fn listeners(seed: u64, prefix: &str, n: usize) -> Vec<Listener> {
    (0..n)
        .map(|index| {
            let id = format!("{prefix}{index:04}");
            let mut rng = Rng::derive(seed, &["listener", &id]);
            Listener {
                genre_pref: rng.dirichlet(&[0.35; Genre::ALL.len()]),
                instrument_pref: rng.dirichlet(&[1.0; Instrument::ALL.len()]),
                arousal_weight: rng.gauss(0.0, 1.0),
                valence_weight: rng.gauss(0.0, 1.0),
                activity: rng.gauss(0.0, 0.7).exp(),
                id,
            }
        })
        .collect()
}

impl Listener {
    /// Log of how much this listener is drawn to a track.
    fn affinity(&self, track: &TrackLatent) -> f64 {
        (self.genre_pref[track.genre.index()] + 0.01).ln()
            + 0.5 * (self.instrument_pref[track.instrument.index()] + 0.05).ln()
            + self.arousal_weight * track.arousal
            + self.valence_weight * track.valence
            + self.activity.ln()
    }
}

/// Play counts of one track: (listener index, plays), by listener index.
/// At least one listener; more for popular tracks.
pub fn plays_of(
    seed: u64,
    stream: &str,
    track: &TrackLatent,
    pool: &[Listener],
    mean_listeners: f64,
) -> Vec<(usize, i64)> {
    let mut rng = Rng::derive(seed, &[stream, &track.track_id]);
    let weights: Vec<f64> = pool.iter().map(|u| u.affinity(track).exp()).collect();
    let chooser = Categorical::new(&weights);
    let draws = 1 + rng.poisson(mean_listeners * track.popularity) as usize;
    let mut plays: BTreeMap<usize, i64> = BTreeMap::new();
    for _ in 0..draws {
        let user = chooser.draw(&mut rng);
        // Heavy-tailed repeat listening.
        *plays.entry(user).or_default() += 1 + rng.geometric(0.35) as i64;
    }
    plays.into_iter().collect()
}
