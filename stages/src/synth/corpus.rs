//! The whole corpus, planned without rendering a sample: every track's
//! latents, every learning source's raw labels and every target manifest.

use arrow::array::RecordBatch;

use super::labels::{learning_tables, LearningTables};
use super::latents::{plan_tracks, Role, TrackLatent};
use super::tables::{batch, Column};
use super::targets::{target_tables, TargetTables};
use super::{SynthError, SynthParams};

#[derive(Debug, Clone)]
pub struct Corpus {
    pub params: SynthParams,
    /// Learning tracks first, then each target set in `TargetSet::ALL`
    /// order.
    pub tracks: Vec<TrackLatent>,
    pub learning: LearningTables,
    pub targets: TargetTables,
}

/// Table names, as `Corpus::tables` lists them: the learning sources'
/// raw labels, then the target manifests.
pub const LEARNING_TABLES: [&str; 7] =
    ["tag", "taste", "lyrics", "cdr_tag", "artist", "bpm", "year"];
pub const TARGET_TABLES: [&str; 8] = [
    "gtzan",
    "fma",
    "ballroom",
    "irmas",
    "arousal",
    "valence",
    "lastfm",
    "lastfm_interactions",
];

/// Where a track's audio is: the name of its file among `synth_audio`'s
/// outputs, and the `uri` of its manifest rows, which `fetch` resolves
/// among the files of its `files` input.
pub fn audio_uri(track_id: &str) -> String {
    format!("audio/{track_id}.wav")
}

/// Plans the corpus: cheap (no audio; well under a second for the default
/// study).
pub fn plan_corpus(params: &SynthParams) -> Result<Corpus, SynthError> {
    params.validate()?;
    let tracks = plan_tracks(params);
    let learning_tracks: Vec<&TrackLatent> =
        tracks.iter().filter(|t| t.role == Role::Learning).collect();
    let learning = learning_tables(params, &learning_tracks)?;
    let targets = target_tables(params, &tracks)?;
    Ok(Corpus {
        params: params.clone(),
        tracks,
        learning,
        targets,
    })
}

impl Corpus {
    /// Every table by name (`LEARNING_TABLES` then `TARGET_TABLES`).
    pub fn tables(&self) -> Vec<(&'static str, &RecordBatch)> {
        let l = &self.learning;
        let t = &self.targets;
        let all = [
            &l.tag,
            &l.taste,
            &l.lyrics,
            &l.cdr_tag,
            &l.artist,
            &l.bpm,
            &l.year,
            &t.gtzan,
            &t.fma,
            &t.ballroom,
            &t.irmas,
            &t.arousal,
            &t.valence,
            &t.lastfm,
            &t.lastfm_interactions,
        ];
        LEARNING_TABLES
            .iter()
            .chain(TARGET_TABLES.iter())
            .copied()
            .zip(all)
            .collect()
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&RecordBatch> {
        self.tables()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b)
    }

    pub fn track(&self, track_id: &str) -> Option<&TrackLatent> {
        self.tracks.iter().find(|t| t.track_id == track_id)
    }

    /// The tracks of one role, in corpus order.
    pub fn tracks_in(&self, role: Role) -> impl Iterator<Item = &TrackLatent> {
        self.tracks.iter().filter(move |t| t.role == role)
    }

    /// The ground truth behind every label, one row per track, for reports
    /// and sanity checks (never an input to learning): track_id, role,
    /// artist_id, genre, dance (nullable), rhythm, meter, bpm, key, mode,
    /// instrument, accompaniment, brightness, energy, arousal, valence,
    /// year, popularity.
    pub fn latents_table(&self) -> Result<RecordBatch, SynthError> {
        let t = &self.tracks;
        let text = |f: fn(&TrackLatent) -> String| Column::Text(t.iter().map(f).collect());
        let int = |f: fn(&TrackLatent) -> i64| Column::Int(t.iter().map(f).collect());
        let float = |f: fn(&TrackLatent) -> f64| Column::Float(t.iter().map(f).collect());
        batch(vec![
            ("track_id", text(|x| x.track_id.clone())),
            ("role", text(|x| x.role.name().into())),
            ("artist_id", text(|x| x.artist_id.clone())),
            ("genre", text(|x| x.genre.name().into())),
            (
                "dance",
                Column::OptText(t.iter().map(|x| x.dance.map(|d| d.name().into())).collect()),
            ),
            ("rhythm", text(|x| x.rhythm.name().into())),
            ("meter", int(|x| i64::from(x.meter))),
            ("bpm", float(|x| x.bpm)),
            ("key", int(|x| i64::from(x.key))),
            ("mode", text(|x| x.mode.name().into())),
            ("instrument", text(|x| x.instrument.name().into())),
            ("accompaniment", text(|x| x.accompaniment.name().into())),
            ("brightness", float(|x| x.brightness)),
            ("energy", float(|x| x.energy)),
            ("arousal", float(|x| x.arousal)),
            ("valence", float(|x| x.valence)),
            ("year", int(|x| i64::from(x.year))),
            ("popularity", float(|x| x.popularity)),
        ])
    }
}
