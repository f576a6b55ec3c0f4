//! Target-dataset manifests: each target set's own tracks (never used in
//! learning) with their audio's uri, the label or value the downstream task
//! predicts, and a split or group column in the manner of the paper's
//! datasets: the target contracts' shape, column for column.

use std::collections::BTreeSet;

use arrow::array::RecordBatch;

use super::corpus::audio_uri;
use super::latents::{TargetSet, TrackLatent};
use super::style::Genre;
use super::tables::{batch, Column};
use super::users::{listeners, plays_of};
use super::{SynthError, SynthParams};
use crate::rng::Rng;

/// Share of GTZAN-like labels that are wrong, as in the real collection.
const GTZAN_LABEL_NOISE: f64 = 0.02;
/// Annotation noise (standard deviation) on arousal and valence.
const EMOTION_NOISE_SD: f64 = 0.1;
/// Given splits: train, valid, test shares.
const SPLIT_SHARES: (f64, f64) = (0.7, 0.8);
/// The label of every Last.fm-like item: the contract needs one, and
/// recommendation uses none.
const LASTFM_LABEL: &str = "track";

/// Every manifest starts (track_id, uri = [`audio_uri`]).
#[derive(Debug, Clone)]
pub struct TargetTables {
    /// (.., label = genre, group = artist_id): artist-filtered splits.
    pub gtzan: RecordBatch,
    /// (.., label = top-level genre, split): artist-disjoint split.
    pub fma: RecordBatch,
    /// (.., label = dance style, group = artist_id): artist-filtered
    /// splits, so a probe cannot name the dance by recognising the band.
    pub ballroom: RecordBatch,
    /// (.., label = predominant instrument, split): artist-disjoint.
    pub irmas: RecordBatch,
    /// (.., value = arousal in [-1, 1], split).
    pub arousal: RecordBatch,
    /// (.., value = valence in [-1, 1], split), same tracks and split.
    pub valence: RecordBatch,
    /// (.., label = "track", group = artist_id): the items of the
    /// recommendation task.
    pub lastfm: RecordBatch,
    /// (user_id Utf8, track_id Utf8, count Int64 = plays).
    pub lastfm_interactions: RecordBatch,
}

pub fn target_tables(
    params: &SynthParams,
    tracks: &[TrackLatent],
) -> Result<TargetTables, SynthError> {
    let of = |set: TargetSet| -> Vec<&TrackLatent> {
        tracks
            .iter()
            .filter(|t| t.role == super::latents::Role::Target(set))
            .collect()
    };
    let gtzan = of(TargetSet::Gtzan);
    let gtzan_labels = gtzan
        .iter()
        .map(|t| {
            let mut rng = Rng::derive(params.seed, &["gtzan_label", &t.track_id]);
            let genre = if rng.chance(GTZAN_LABEL_NOISE) {
                *rng.pick(&Genre::ALL)
            } else {
                t.genre
            };
            genre.name().to_string()
        })
        .collect();
    let fma = of(TargetSet::Fma);
    let ballroom = of(TargetSet::Ballroom);
    let irmas = of(TargetSet::Irmas);
    let emotion = of(TargetSet::Emotion);
    let emotion_split = track_split(params.seed, &emotion);
    let noisy = |name: &str, value: fn(&TrackLatent) -> f64| -> Vec<f64> {
        emotion
            .iter()
            .map(|t| {
                let mut rng = Rng::derive(params.seed, &[name, &t.track_id]);
                let v = (value(t) + rng.gauss(0.0, EMOTION_NOISE_SD)).clamp(-1.0, 1.0);
                (v * 1e4).round() / 1e4
            })
            .collect()
    };
    let lastfm = of(TargetSet::Lastfm);
    Ok(TargetTables {
        gtzan: batch(vec![
            ("track_id", ids(&gtzan)),
            ("uri", uris(&gtzan)),
            ("label", Column::Text(gtzan_labels)),
            ("group", artists(&gtzan)),
        ])?,
        fma: batch(vec![
            ("track_id", ids(&fma)),
            ("uri", uris(&fma)),
            ("label", labels(&fma, |t| t.genre.top_genre())),
            (
                "split",
                Column::OptText(artist_split(params.seed, "fma", &fma)),
            ),
        ])?,
        ballroom: batch(vec![
            ("track_id", ids(&ballroom)),
            ("uri", uris(&ballroom)),
            (
                "label",
                labels(&ballroom, |t| t.dance.map_or(t.genre.name(), |d| d.name())),
            ),
            ("group", artists(&ballroom)),
        ])?,
        irmas: batch(vec![
            ("track_id", ids(&irmas)),
            ("uri", uris(&irmas)),
            ("label", labels(&irmas, |t| t.instrument.name())),
            (
                "split",
                Column::OptText(artist_split(params.seed, "irmas", &irmas)),
            ),
        ])?,
        arousal: batch(vec![
            ("track_id", ids(&emotion)),
            ("uri", uris(&emotion)),
            (
                "value",
                Column::Float(noisy("arousal_label", |t| t.arousal)),
            ),
            ("split", Column::OptText(emotion_split.clone())),
        ])?,
        valence: batch(vec![
            ("track_id", ids(&emotion)),
            ("uri", uris(&emotion)),
            (
                "value",
                Column::Float(noisy("valence_label", |t| t.valence)),
            ),
            ("split", Column::OptText(emotion_split)),
        ])?,
        lastfm: batch(vec![
            ("track_id", ids(&lastfm)),
            ("uri", uris(&lastfm)),
            ("label", labels(&lastfm, |_| LASTFM_LABEL)),
            ("group", artists(&lastfm)),
        ])?,
        lastfm_interactions: interactions(params, &lastfm)?,
    })
}

fn ids(tracks: &[&TrackLatent]) -> Column {
    Column::Text(tracks.iter().map(|t| t.track_id.clone()).collect())
}

fn uris(tracks: &[&TrackLatent]) -> Column {
    Column::Text(tracks.iter().map(|t| audio_uri(&t.track_id)).collect())
}

fn artists(tracks: &[&TrackLatent]) -> Column {
    Column::OptText(tracks.iter().map(|t| Some(t.artist_id.clone())).collect())
}

fn labels(tracks: &[&TrackLatent], label: impl Fn(&TrackLatent) -> &'static str) -> Column {
    Column::Text(tracks.iter().map(|t| label(t).to_string()).collect())
}

/// train / valid / test by position in a seeded shuffle of `n` units.
fn split_names(seed: u64, purpose: &str, n: usize) -> Vec<&'static str> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::derive(seed, &["split", purpose]).shuffle(&mut order);
    let mut names = vec!["train"; n];
    for (rank, &unit) in order.iter().enumerate() {
        let position = (rank as f64 + 0.5) / n as f64;
        names[unit] = if position < SPLIT_SHARES.0 {
            "train"
        } else if position < SPLIT_SHARES.1 {
            "valid"
        } else {
            "test"
        };
    }
    names
}

/// A split in which no artist spans two parts.
fn artist_split(seed: u64, purpose: &str, tracks: &[&TrackLatent]) -> Vec<Option<String>> {
    let artists: Vec<&str> = tracks
        .iter()
        .map(|t| t.artist_id.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names = split_names(seed, purpose, artists.len());
    tracks
        .iter()
        .map(|t| {
            let at = artists.binary_search(&t.artist_id.as_str()).unwrap_or(0);
            Some(names[at].to_string())
        })
        .collect()
}

fn track_split(seed: u64, tracks: &[&TrackLatent]) -> Vec<Option<String>> {
    split_names(seed, "emotion", tracks.len())
        .into_iter()
        .map(|s| Some(s.to_string()))
        .collect()
}

/// Listening triplets of the Last.fm-like user pool over the target's
/// tracks: every track has at least one listener.
fn interactions(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    let pool = listeners(params.seed, "lastfm_u", params.lastfm_users);
    // Enough listeners per track that most users reach five tracks.
    let mean_listeners = (params.lastfm_users as f64 / 3.0).min(20.0);
    let (mut users, mut ids, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    for track in tracks {
        for (u, plays) in plays_of(params.seed, "lastfm", track, &pool, mean_listeners) {
            users.push(pool[u].id.clone());
            ids.push(track.track_id.clone());
            counts.push(plays);
        }
    }
    batch(vec![
        ("user_id", Column::Text(users)),
        ("track_id", Column::Text(ids)),
        ("count", Column::Int(counts)),
    ])
}
