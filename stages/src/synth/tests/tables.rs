use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};

use super::corpus;
use crate::synth::params::Coverage;
use crate::synth::{
    Genre, Mode, Role, SynthParams, TargetSet, TrackLatent, LEARNING_TABLES, TARGET_TABLES,
};

fn text<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap_or_else(|| panic!("{name} is Utf8"))
}

fn ints<'a>(batch: &'a RecordBatch, name: &str) -> &'a Int64Array {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap_or_else(|| panic!("{name} is Int64"))
}

fn floats<'a>(batch: &'a RecordBatch, name: &str) -> &'a Float64Array {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap_or_else(|| panic!("{name} is Float64"))
}

fn distinct_tracks(batch: &RecordBatch) -> BTreeSet<String> {
    text(batch, "track_id")
        .iter()
        .flatten()
        .map(String::from)
        .collect()
}

fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[test]
fn schemas_are_the_documented_ones() {
    let c = corpus(&SynthParams::tiny(1));
    let expect: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("tag", &["track_id", "item", "count"][..]),
        ("taste", &["track_id", "item", "count"]),
        ("lyrics", &["track_id", "item", "count"]),
        ("cdr_tag", &["track_id", "item", "count"]),
        ("artist", &["track_id", "artist_id"]),
        ("bpm", &["track_id", "value"]),
        ("year", &["track_id", "value"]),
        ("gtzan", &["track_id", "uri", "label", "group"]),
        ("fma", &["track_id", "uri", "label", "split"]),
        ("ballroom", &["track_id", "uri", "label", "group"]),
        ("irmas", &["track_id", "uri", "label", "split"]),
        ("arousal", &["track_id", "uri", "value", "split"]),
        ("valence", &["track_id", "uri", "value", "split"]),
        ("lastfm", &["track_id", "uri", "label", "group"]),
        ("lastfm_interactions", &["user_id", "track_id", "count"]),
    ]);
    let tables = c.tables();
    assert_eq!(tables.len(), LEARNING_TABLES.len() + TARGET_TABLES.len());
    for (name, batch) in tables {
        assert_eq!(column_names(batch), expect[name], "table {name}");
        assert!(batch.num_rows() > 0, "table {name} is empty");
    }
    assert_eq!(
        c.latents_table().expect("builds").num_rows(),
        c.tracks.len()
    );
}

#[test]
fn ids_are_safe_unique_file_names_and_targets_never_learn() {
    let c = corpus(&SynthParams::tiny(2));
    let mut seen = BTreeSet::new();
    for t in &c.tracks {
        assert!(
            t.track_id
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "{}",
            t.track_id
        );
        assert!(seen.insert(t.track_id.clone()), "duplicate {}", t.track_id);
    }
    let learning: BTreeSet<String> = c
        .tracks_in(Role::Learning)
        .map(|t| t.track_id.clone())
        .collect();
    assert_eq!(learning.len(), 48);
    for name in LEARNING_TABLES {
        let batch = c.table(name).expect("table");
        assert!(
            distinct_tracks(batch).is_subset(&learning),
            "{name} labels a non-learning track"
        );
    }
    for set in TargetSet::ALL {
        let ids: BTreeSet<String> = c
            .tracks_in(Role::Target(set))
            .map(|t| t.track_id.clone())
            .collect();
        let expected = if set == TargetSet::Ballroom { 32 } else { 24 };
        assert_eq!(ids.len(), expected, "{}", set.name());
        assert!(ids.is_disjoint(&learning));
    }
    // Target artists never appear among learning artists either.
    let learning_artists: BTreeSet<&str> = c
        .tracks_in(Role::Learning)
        .map(|t| t.artist_id.as_str())
        .collect();
    assert!(c
        .tracks
        .iter()
        .filter(|t| t.role != Role::Learning)
        .all(|t| !learning_artists.contains(t.artist_id.as_str())));
}

#[test]
fn sources_label_exactly_their_share_of_tracks_with_valid_counts() {
    let mut params = SynthParams::default_study(3);
    assert_eq!(
        params.coverage,
        Coverage::equal(1.0),
        "every source labels every track"
    );
    params.coverage = Coverage {
        tag: 0.9,
        taste: 0.85,
        lyrics: 0.6,
        cdr_tag: 0.8,
        artist: 1.0,
        bpm: 0.97,
        year: 0.9,
    };
    let c = corpus(&params);
    let n = params.learning_tracks as f64;
    let cov = &params.coverage;
    for (name, want) in [
        ("tag", cov.tag),
        ("taste", cov.taste),
        ("lyrics", cov.lyrics),
        ("cdr_tag", cov.cdr_tag),
        ("artist", cov.artist),
        ("bpm", cov.bpm),
        ("year", cov.year),
    ] {
        let batch = c.table(name).expect("table");
        let got = distinct_tracks(batch).len();
        assert_eq!(got, (want * n).round() as usize, "{name}: tracks labelled");
        if let Some(counts) = batch.column_by_name("count") {
            assert_eq!(counts.null_count(), 0);
            assert!(
                ints(batch, "count").iter().flatten().all(|v| v > 0),
                "{name}"
            );
        }
        if batch.column_by_name("value").is_some() {
            assert!(
                floats(batch, "value").iter().flatten().all(f64::is_finite),
                "{name}"
            );
        }
    }
    // Social tags are sparse: a typical track has a handful of distinct tags.
    let tag = c.table("tag").expect("tag");
    let per_track = tag.num_rows() as f64 / distinct_tracks(tag).len() as f64;
    println!("tags per tagged track {per_track:.1}");
    assert!((3.0..30.0).contains(&per_track));
}

/// A (track_id, item, count) table as counts per item, per track.
fn item_counts(batch: &RecordBatch) -> BTreeMap<&str, HashMap<&str, i64>> {
    let (ids, items, counts) = (
        text(batch, "track_id"),
        text(batch, "item"),
        ints(batch, "count"),
    );
    let mut per_track: BTreeMap<&str, HashMap<&str, i64>> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        *per_track
            .entry(ids.value(row))
            .or_default()
            .entry(items.value(row))
            .or_default() += counts.value(row);
    }
    per_track
}

fn learning_by_id(c: &crate::synth::Corpus) -> HashMap<String, &TrackLatent> {
    c.tracks_in(Role::Learning)
        .map(|t| (t.track_id.clone(), t))
        .collect()
}

#[test]
fn genre_carries_into_tags() {
    let c = corpus(&SynthParams::default_study(4));
    let by_id = learning_by_id(&c);
    let mut per_genre: BTreeMap<Genre, HashMap<&str, i64>> = BTreeMap::new();
    for (id, items) in item_counts(c.table("tag").expect("tag")) {
        let genre_counts = per_genre.entry(by_id[id].genre).or_default();
        for (item, n) in items {
            *genre_counts.entry(item).or_default() += n;
        }
    }
    let mut tops = BTreeSet::new();
    for (genre, counts) in &per_genre {
        let top = counts
            .iter()
            .max_by_key(|(w, n)| (**n, *w))
            .map(|(w, _)| *w)
            .expect("tags");
        println!("{}: top tag {top}", genre.name());
        tops.insert(top);
    }
    assert_eq!(per_genre.len(), Genre::ALL.len());
    assert_eq!(
        tops.len(),
        Genre::ALL.len(),
        "every genre has its own top tag"
    );
}

#[test]
fn bpm_labels_have_rare_octave_errors() {
    let c = corpus(&SynthParams::default_study(5));
    let by_id = learning_by_id(&c);
    let bpm = c.table("bpm").expect("bpm");
    let (ids, values) = (text(bpm, "track_id"), floats(bpm, "value"));
    let mut octave = 0;
    let mut close = 0;
    for row in 0..bpm.num_rows() {
        let ratio = values.value(row) / by_id[ids.value(row)].bpm;
        if (ratio.log2().abs() - 1.0).abs() < 0.05 {
            octave += 1;
        } else if (ratio - 1.0).abs() < 0.04 {
            close += 1;
        }
    }
    let rate = octave as f64 / bpm.num_rows() as f64;
    println!("bpm octave error rate {rate:.3}");
    assert_eq!(octave + close, bpm.num_rows());
    assert!((0.02..0.09).contains(&rate), "octave error rate {rate}");
}

/// Year and valence share one audible latent, brightness: a brighter
/// track is a later one, within a genre too (so the year source learns
/// more than the genre), and brightness carries most of valence (mode,
/// which pooled features hardly hear, much less).
#[test]
fn year_and_valence_share_brightness() {
    let c = corpus(&SynthParams::default_study(5));
    let learning: Vec<&TrackLatent> = c.tracks_in(Role::Learning).collect();
    let within_genre = |value: fn(&TrackLatent) -> f64| -> Vec<f64> {
        let mut sums: HashMap<Genre, (f64, usize)> = HashMap::new();
        for t in &learning {
            let e = sums.entry(t.genre).or_default();
            e.0 += value(t);
            e.1 += 1;
        }
        learning
            .iter()
            .map(|t| value(t) - sums[&t.genre].0 / sums[&t.genre].1 as f64)
            .collect()
    };
    let r_year = pearson(
        &within_genre(|t| t.brightness),
        &within_genre(|t| f64::from(t.year)),
    );
    let emotion: Vec<&TrackLatent> = c.tracks_in(Role::Target(TargetSet::Emotion)).collect();
    let valence: Vec<f64> = emotion.iter().map(|t| t.valence).collect();
    let r_valence = pearson(
        &emotion.iter().map(|t| t.brightness).collect::<Vec<_>>(),
        &valence,
    );
    let major: Vec<f64> = emotion
        .iter()
        .map(|t| f64::from(u8::from(t.mode == Mode::Major)))
        .collect();
    let r_mode = pearson(&major, &valence);
    println!("within genre corr(brightness, year) = {r_year:.2}; corr(brightness, valence) = {r_valence:.2}, corr(major, valence) = {r_mode:.2}");
    assert!(
        r_year > 0.7,
        "year barely follows brightness within a genre: r = {r_year}"
    );
    assert!(
        r_valence > 0.7,
        "valence barely follows brightness: r = {r_valence}"
    );
    assert!(
        r_mode < r_valence,
        "mode carries more of valence than brightness: r = {r_mode}"
    );
}

pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn target_manifests_split_by_artist_and_listeners_are_active() {
    let c = corpus(&SynthParams::default_study(6));
    for name in ["fma", "irmas"] {
        let batch = c.table(name).expect("manifest");
        let (ids, splits) = (text(batch, "track_id"), text(batch, "split"));
        let mut split_of_artist: HashMap<&str, &str> = HashMap::new();
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            let split = splits.value(row);
            assert!(["train", "valid", "test"].contains(&split));
            *sizes.entry(split).or_default() += 1;
            let artist = c.track(ids.value(row)).expect("track").artist_id.as_str();
            let first = split_of_artist.entry(artist).or_insert(split);
            assert_eq!(*first, split, "{name}: artist {artist} spans splits");
        }
        println!("{name} split sizes {sizes:?}");
        assert_eq!(sizes.len(), 3);
        // The test part is more than a couple of artists, or its score
        // says more about those artists than about the representation.
        let test_artists = split_of_artist.values().filter(|&&s| s == "test").count();
        assert!(test_artists >= 5, "{name}: {test_artists} test artists");
    }
    // Balanced classes where the real datasets are.
    for (name, classes) in [("gtzan", 8), ("ballroom", 8), ("irmas", 7)] {
        let labels: BTreeSet<&str> = text(c.table(name).expect("manifest"), "label")
            .iter()
            .flatten()
            .collect();
        assert!(labels.len() >= classes, "{name}: {labels:?}");
    }
    for name in ["arousal", "valence"] {
        let values = floats(c.table(name).expect("manifest"), "value");
        assert!(values.iter().flatten().all(|v| (-1.0..=1.0).contains(&v)));
    }
    let plays = c.table("lastfm_interactions").expect("triplets");
    let users = text(plays, "user_id");
    let mut tracks_per_user: HashMap<&str, usize> = HashMap::new();
    for u in users.iter().flatten() {
        *tracks_per_user.entry(u).or_default() += 1;
    }
    let active = tracks_per_user.values().filter(|&&n| n >= 5).count();
    println!(
        "lastfm users with >= 5 tracks: {active} of {}",
        tracks_per_user.len()
    );
    assert!(active * 10 >= c.params.lastfm_users * 6);
    let items = distinct_tracks(plays);
    assert_eq!(
        items.len(),
        c.tracks_in(Role::Target(TargetSet::Lastfm)).count()
    );
}

#[test]
fn bad_parameters_are_named() {
    // Each change alone makes the corpus invalid, and the error names the
    // parameter.
    type Change = fn(&mut SynthParams);
    let cases: [(&str, Change); 6] = [
        ("duration_s", |p| p.duration_s = f32::NAN),
        ("coverage.lyrics", |p| p.coverage.lyrics = 1.5),
        ("tag_vocab", |p| p.tag_vocab = 10),
        ("ballroom_tracks", |p| p.ballroom_tracks = 0),
        ("emotion_tracks", |p| p.emotion_tracks = 7),
        ("target_tracks_per_artist", |p| {
            p.target_tracks_per_artist = 0
        }),
    ];
    for (name, change) in cases {
        let mut p = SynthParams::tiny(1);
        change(&mut p);
        let e = crate::synth::plan_corpus(&p).expect_err(name);
        assert!(e.to_string().contains(name), "{name}: {e}");
    }
    let mut p = SynthParams::tiny(1);
    p.learning_tracks = 0;
    assert!(crate::synth::plan_corpus(&p).is_err());
}

/// The Ballroom-like set is separable by tempo (and meter), not by what
/// the band sounds like: every dance is played in several band genres,
/// every 4/4 dance on the same backbeat, each at its own tempo range.
#[test]
fn dances_differ_in_tempo_and_meter_not_in_band_or_groove() {
    use crate::synth::style::Rhythm;
    use crate::synth::Dance;
    // Six artists per dance, so that a dance's bands cannot all share a
    // genre by chance.
    let c = corpus(&SynthParams {
        ballroom_tracks: 240,
        ..SynthParams::default_study(1)
    });
    let ballroom: Vec<&TrackLatent> = c
        .tracks
        .iter()
        .filter(|t| t.role == Role::Target(TargetSet::Ballroom))
        .collect();
    for dance in Dance::ALL {
        let of: Vec<&&TrackLatent> = ballroom.iter().filter(|t| t.dance == Some(dance)).collect();
        assert!(!of.is_empty(), "{dance:?} has tracks");
        let genres: BTreeSet<Genre> = of.iter().map(|t| t.genre).collect();
        assert!(
            genres.len() >= 2,
            "{dance:?} is played in one genre only: {genres:?}"
        );
        assert!(genres.iter().all(|g| Dance::BAND_GENRES.contains(g)));
        let waltz = matches!(dance, Dance::Waltz | Dance::VienneseWaltz);
        let (low, high) = dance.tempo_bpm();
        for t in of {
            assert_eq!(
                t.rhythm,
                if waltz {
                    Rhythm::Waltz
                } else {
                    Rhythm::Backbeat
                }
            );
            assert_eq!(t.meter, if waltz { 3 } else { 4 });
            assert!((low..=high).contains(&t.bpm), "{dance:?} at {} BPM", t.bpm);
        }
    }
    // Within a meter, tempo alone decides: the bands do not overlap.
    for a in Dance::ALL {
        for b in Dance::ALL {
            let same_meter = (a.rhythm() == Rhythm::Waltz) == (b.rhythm() == Rhythm::Waltz);
            if a < b && same_meter {
                let ((a_low, a_high), (b_low, b_high)) = (a.tempo_bpm(), b.tempo_bpm());
                assert!(a_high < b_low || b_high < a_low, "{a:?} and {b:?} overlap");
            }
        }
    }
}

/// An artist's tracks spread widely in tempo (where the genre allows), so
/// that recognising the artist's sound does not give the tempo away and
/// the bpm source has something of its own to teach.
#[test]
fn an_artists_sound_does_not_give_away_the_tempo() {
    let c = corpus(&SynthParams::default_study(1));
    let mut by_artist: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for t in c.tracks_in(Role::Learning) {
        let (low, high) = t.genre.style().tempo_bpm;
        if high / low > 1.5 {
            by_artist.entry(&t.artist_id).or_default().push(t.bpm.ln());
        }
    }
    let spreads: Vec<f64> = by_artist
        .values()
        .filter(|tempi| tempi.len() >= 3)
        .map(|tempi| {
            let mean = tempi.iter().sum::<f64>() / tempi.len() as f64;
            let var = tempi.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
            (var / (tempi.len() - 1) as f64).sqrt()
        })
        .collect();
    assert!(spreads.len() >= 10, "{} artists", spreads.len());
    let mean_spread = spreads.iter().sum::<f64>() / spreads.len() as f64;
    println!("within-artist sd of ln(bpm): {mean_spread:.3}");
    assert!(
        mean_spread > 0.11,
        "tracks stay at their artist's tempo: {mean_spread}"
    );
}

/// A song's words say its genre: a nearest-centroid classifier on word
/// frequencies, centroids from half of the lyrics tracks, names the genre
/// of the other half well above chance (1/8). Lyrics are the source the
/// study pairs with the genre targets.
#[test]
fn lyrics_tell_the_genres_apart() {
    let c = corpus(&SynthParams::default_study(7));
    let by_id = learning_by_id(&c);
    let songs = item_counts(c.table("lyrics").expect("lyrics"));
    let frequencies = |words: &HashMap<&str, i64>| -> HashMap<String, f64> {
        let total = words.values().sum::<i64>() as f64;
        words
            .iter()
            .map(|(w, &n)| (w.to_string(), n as f64 / total))
            .collect()
    };
    let mut centroids: HashMap<Genre, HashMap<String, f64>> = HashMap::new();
    for (id, words) in songs.iter().step_by(2) {
        let centroid = centroids.entry(by_id[*id].genre).or_default();
        for (w, f) in frequencies(words) {
            *centroid.entry(w).or_default() += f;
        }
    }
    let cosine = |a: &HashMap<String, f64>, b: &HashMap<String, f64>| -> f64 {
        let dot: f64 = a.iter().map(|(w, x)| x * b.get(w).unwrap_or(&0.0)).sum();
        let norm = |v: &HashMap<String, f64>| v.values().map(|x| x * x).sum::<f64>().sqrt();
        dot / (norm(a) * norm(b))
    };
    let held_out: Vec<(&&str, &HashMap<&str, i64>)> = songs.iter().skip(1).step_by(2).collect();
    let correct = held_out
        .iter()
        .filter(|(id, words)| {
            let song = frequencies(words);
            let best = centroids
                .iter()
                .max_by(|a, b| cosine(&song, a.1).total_cmp(&cosine(&song, b.1)))
                .map(|(genre, _)| *genre);
            best == Some(by_id[**id].genre)
        })
        .count();
    let accuracy = correct as f64 / held_out.len() as f64;
    println!(
        "lyrics genre accuracy {accuracy:.2} over {} songs",
        held_out.len()
    );
    assert!(
        accuracy > 0.75,
        "lyrics barely tell the genres apart: {accuracy:.2}"
    );
}
