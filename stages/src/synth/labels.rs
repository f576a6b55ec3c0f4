//! The learning sources' raw label tables, drawn from the learning tracks'
//! latents with the noise each real source has: sparse and partly personal
//! social tags, skewed play counts, stopword-heavy lyrics, professional
//! genre labels with occasional errors, tempo estimates with octave errors.
//! A track lacks a source's label with probability 1 - coverage, decided
//! per (source, track), so the tables are independent of one another.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;

use super::latents::TrackLatent;
use super::style::Genre;
use super::tables::{batch, Column};
use super::users::{listeners, plays_of};
use super::vocab::{lyrics_topics, mood_quadrant, tag_topics, theme_weights, THEMES};
use super::{SynthError, SynthParams};
use crate::rng::Rng;

/// The raw label tables of the seven labelled sources (`self` has none).
#[derive(Debug, Clone)]
pub struct LearningTables {
    /// (track_id Utf8, item Utf8 = tag, count Int64).
    pub tag: RecordBatch,
    /// (track_id Utf8, item Utf8 = user id, count Int64 = plays).
    pub taste: RecordBatch,
    /// (track_id Utf8, item Utf8 = word, count Int64).
    pub lyrics: RecordBatch,
    /// (track_id Utf8, item Utf8 = genre label, count Int64 = 1).
    pub cdr_tag: RecordBatch,
    /// (track_id Utf8, artist_id Utf8).
    pub artist: RecordBatch,
    /// (track_id Utf8, value Float64 = estimated BPM).
    pub bpm: RecordBatch,
    /// (track_id Utf8, value Float64 = release year).
    pub year: RecordBatch,
}

/// Rows of a (track_id, item, count) table.
#[derive(Default)]
struct CountRows {
    tracks: Vec<String>,
    items: Vec<String>,
    counts: Vec<i64>,
}

impl CountRows {
    /// Adds one track's counts, items in ascending order.
    fn push_track(&mut self, track: &str, counts: BTreeMap<String, i64>) {
        for (item, count) in counts {
            self.tracks.push(track.to_string());
            self.items.push(item);
            self.counts.push(count);
        }
    }

    fn into_batch(self) -> Result<RecordBatch, SynthError> {
        batch(vec![
            ("track_id", Column::Text(self.tracks)),
            ("item", Column::Text(self.items)),
            ("count", Column::Int(self.counts)),
        ])
    }
}

/// The tracks that carry `source`'s label, in table order: exactly
/// round(fraction x tracks) of them, the lowest by a per-source hash, so
/// sources at one coverage label the same number of tracks (the paper
/// equalised the samples per source).
fn covered<'a>(
    params: &SynthParams,
    source: &str,
    tracks: &[&'a TrackLatent],
    fraction: f64,
) -> Vec<&'a TrackLatent> {
    let wanted = (fraction * tracks.len() as f64).round() as usize;
    let mut ranked: Vec<(f64, usize)> = tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let draw = Rng::derive(params.seed, &["coverage", source, &t.track_id]).uniform();
            (draw, i)
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut keep = vec![false; tracks.len()];
    for &(_, i) in &ranked[..wanted] {
        keep[i] = true;
    }
    tracks
        .iter()
        .zip(keep)
        .filter_map(|(t, keep)| keep.then_some(*t))
        .collect()
}

pub fn learning_tables(
    params: &SynthParams,
    tracks: &[&TrackLatent],
) -> Result<LearningTables, SynthError> {
    Ok(LearningTables {
        tag: tag_table(params, tracks)?,
        taste: taste_table(params, tracks)?,
        lyrics: lyrics_table(params, tracks)?,
        cdr_tag: cdr_table(params, tracks)?,
        artist: artist_table(params, tracks)?,
        bpm: bpm_table(params, tracks)?,
        year: year_table(params, tracks)?,
    })
}

/// Social tags: each token picks a facet (genre, mood, instrument, era,
/// tempo, or junk) from a per-track mixture, then a word from that facet's
/// topic. Token counts follow popularity, so many tracks have few tags.
fn tag_table(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    let topics = tag_topics(params.tag_vocab);
    let mut rows = CountRows::default();
    for track in covered(params, "tag", tracks, params.coverage.tag) {
        let mut rng = Rng::derive(params.seed, &["tag", &track.track_id]);
        // 6% of tracks are tagged as another genre by the crowd.
        let genre = if rng.chance(0.06) {
            *rng.pick(&Genre::ALL)
        } else {
            track.genre
        };
        let mix = rng.dirichlet(&[4.0, 2.0, 1.2, 0.8, 0.6, 1.4]);
        let decade = (((track.year - 1940) / 10).max(0) as usize).min(topics.era.len() - 1);
        let tempo = if track.bpm < 90.0 {
            0
        } else if track.bpm < 130.0 {
            1
        } else {
            2
        };
        let tokens = 1 + rng.poisson(14.0 * track.popularity);
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for _ in 0..tokens {
            let word = match rng.weighted(&mix) {
                0 => topics.genre[genre.index()].draw(&mut rng),
                1 => topics.mood[mood_quadrant(track.arousal, track.valence)].draw(&mut rng),
                2 => topics.instrument[track.instrument.index()].draw(&mut rng),
                3 => topics.era[decade].draw(&mut rng),
                4 => topics.tempo[tempo].draw(&mut rng),
                _ => topics.junk.draw(&mut rng),
            };
            *counts.entry(topics.words[word].clone()).or_default() += 1;
        }
        rows.push_track(&track.track_id, counts);
    }
    rows.into_batch()
}

/// Play counts of simulated users (items are user ids).
fn taste_table(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    let pool = listeners(params.seed, "taste_u", params.taste_users);
    let mean_listeners = (params.taste_users as f64 / 4.0).min(12.0);
    let mut rows = CountRows::default();
    for track in covered(params, "taste", tracks, params.coverage.taste) {
        let plays = plays_of(params.seed, "taste", track, &pool, mean_listeners);
        let counts = plays
            .into_iter()
            .map(|(u, n)| (pool[u].id.clone(), n))
            .collect();
        rows.push_track(&track.track_id, counts);
    }
    rows.into_batch()
}

/// Scale of a lyric's Dirichlet prior over themes: the higher, the
/// closer each song's theme mixture stays to its genre's (at 0.8 the
/// mixtures strayed so far that lyrics hardly told the genres apart).
const LYRICS_THEME_CONCENTRATION: f64 = 2.4;

/// Bag-of-words lyrics: stopwords, a genre- and valence-dependent theme
/// mixture, and rare words.
fn lyrics_table(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    let topics = lyrics_topics(params.lyrics_vocab);
    let mut rows = CountRows::default();
    for track in covered(params, "lyrics", tracks, params.coverage.lyrics) {
        let mut rng = Rng::derive(params.seed, &["lyrics", &track.track_id]);
        let mut prior = theme_weights(track.genre);
        for (weight, (theme, _)) in prior.iter_mut().zip(THEMES) {
            let tilt = match theme {
                "heartbreak" => (-1.5 * track.valence).exp(),
                "love" | "party" => track.valence.exp(),
                _ => 1.0,
            };
            *weight *= LYRICS_THEME_CONCENTRATION * tilt;
        }
        let themes = rng.dirichlet(&prior);
        let tokens = 60 + rng.poisson(120.0);
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for _ in 0..tokens {
            let word = match rng.weighted(&[0.45, 0.45, 0.10]) {
                0 => topics.stopwords.draw(&mut rng),
                1 => topics.themes[rng.weighted(&themes)].draw(&mut rng),
                _ => topics.rare.draw(&mut rng),
            };
            *counts.entry(topics.words[word].clone()).or_default() += 1;
        }
        rows.push_track(&track.track_id, counts);
    }
    rows.into_batch()
}

/// Professional genre labels (album level, so by artist), sometimes wrong,
/// sometimes two.
fn cdr_table(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    let mut rows = CountRows::default();
    for track in covered(params, "cdr_tag", tracks, params.coverage.cdr_tag) {
        let mut rng = Rng::derive(params.seed, &["cdr_tag", &track.track_id]);
        let first = if rng.chance(params.cdr_label_noise) {
            let wrong = *rng.pick(&Genre::ALL);
            *rng.pick(wrong.subgenres())
        } else {
            track.subgenre
        };
        let mut labels = BTreeMap::from([(first.to_string(), 1)]);
        if rng.chance(0.2) {
            labels.insert((*rng.pick(track.genre.subgenres())).to_string(), 1);
        }
        rows.push_track(&track.track_id, labels);
    }
    rows.into_batch()
}

fn artist_table(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    let (ids, artists): (Vec<String>, Vec<String>) =
        covered(params, "artist", tracks, params.coverage.artist)
            .into_iter()
            .map(|t| (t.track_id.clone(), t.artist_id.clone()))
            .unzip();
    batch(vec![
        ("track_id", Column::Text(ids)),
        ("artist_id", Column::Text(artists)),
    ])
}

/// Estimated tempo: 1% estimator jitter, and octave errors (slow songs
/// tend to be doubled, fast ones halved).
fn bpm_table(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    scalar_table(params, tracks, "bpm", params.coverage.bpm, |track, rng| {
        let mut bpm = track.bpm * (1.0 + rng.gauss(0.0, 0.01));
        if rng.chance(params.bpm_octave_error_rate) {
            let p_double = (0.5 + (110.0 - track.bpm) / 80.0).clamp(0.1, 0.9);
            bpm *= if rng.chance(p_double) { 2.0 } else { 0.5 };
        }
        (bpm * 1000.0).round() / 1000.0
    })
}

fn year_table(params: &SynthParams, tracks: &[&TrackLatent]) -> Result<RecordBatch, SynthError> {
    scalar_table(params, tracks, "year", params.coverage.year, |track, _| {
        f64::from(track.year)
    })
}

fn scalar_table(
    params: &SynthParams,
    tracks: &[&TrackLatent],
    source: &str,
    coverage: f64,
    value: impl Fn(&TrackLatent, &mut Rng) -> f64,
) -> Result<RecordBatch, SynthError> {
    let (ids, values): (Vec<String>, Vec<f64>) = covered(params, source, tracks, coverage)
        .into_iter()
        .map(|t| {
            let mut rng = Rng::derive(params.seed, &[source, &t.track_id]);
            (t.track_id.clone(), value(t, &mut rng))
        })
        .unzip();
    batch(vec![
        ("track_id", Column::Text(ids)),
        ("value", Column::Float(values)),
    ])
}
