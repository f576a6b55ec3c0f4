//! The corpus as pipeline stages. `synth_audio` renders every track and
//! stores it exactly as `fetch` stores downloaded audio (`audio/<track_id>`
//! files and a `fetched` table), so `mel` reads either; `synth_table` hands
//! on one of the corpus's tables, checked by the same input contracts as a
//! user's files. Planning the corpus takes milliseconds, so each node
//! re-plans it from the seed instead of passing it around.

use rayon::prelude::*;

use super::{plan_corpus, render_wav, Corpus, SynthParams, LEARNING_TABLES, TARGET_TABLES};
use crate::api::*;
use crate::contracts::{validate, Contract};
use crate::frontend::{failures_table, fetched_table};

const PRESET: ParamSpec = ParamSpec {
    name: "preset",
    ty: ParamType::Choice(&["tiny", "default"]),
    default: Some("default"),
    doc: "corpus size: tiny (tests) or default (the default study)",
};
const SEED: ParamSpec = ParamSpec {
    name: "seed",
    ty: ParamType::Int,
    default: Some("1"),
    doc: "the corpus seed",
};

fn corpus(ctx: &StageContext) -> Result<Corpus, StageError> {
    let seed = u64::try_from(ctx.params.i64("seed")?).map_err(|_| StageError::Param {
        name: "seed".into(),
        reason: "must be >= 0".into(),
    })?;
    let params = match ctx.params.str("preset")? {
        "tiny" => SynthParams::tiny(seed),
        _ => SynthParams::default_study(seed),
    };
    Ok(plan_corpus(&params)?)
}

/// Renders every track of the corpus.
pub struct SynthAudio;

/// Tracks rendered in parallel before their bytes are stored.
const CHUNK: usize = 16;

impl Stage for SynthAudio {
    fn name(&self) -> &'static str {
        "synth_audio"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Renders the synthetic corpus's audio (16-bit stereo WAV at 22,050 Hz), stored as fetch stores audio."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[PRESET, SEED]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let corpus = corpus(ctx)?;
        let tracks: Vec<_> = corpus.tracks.iter().collect();
        ctx.progress.set_total(tracks.len() as u64);
        // (track_id, blake3, size) of every stored track.
        let mut fetched: Vec<(String, String, u64)> = Vec::with_capacity(tracks.len());
        for chunk in tracks.chunks(CHUNK) {
            let rendered: Vec<Vec<u8>> = chunk
                .par_iter()
                .map(|t| render_wav(t, &corpus.params))
                .collect::<Result<_, _>>()?;
            for (track, wav) in chunk.iter().zip(rendered) {
                let digest = blake3::hash(&wav).to_hex().to_string();
                let size = wav.len() as u64;
                // Rendering is cheap; storing again is not: an interrupted
                // attempt's tracks are only described.
                let name = format!("audio/{}", track.track_id);
                if !ctx.sink.has(&name) {
                    ctx.sink
                        .emit(&name, Output::Bytes(wav))
                        .map_err(StageError::Data)?;
                }
                fetched.push((track.track_id.clone(), digest, size));
                ctx.progress.advance(1);
            }
        }
        let seed = ctx.params.i64("seed")?;
        let uris: Vec<String> = fetched
            .iter()
            .map(|f| format!("synth://{seed}/{}", f.0))
            .collect();
        let table = fetched_table(
            fetched
                .iter()
                .zip(&uris)
                .map(|(f, uri)| (f.0.as_str(), uri.as_str(), f.1.as_str(), f.2)),
        )?;
        let empty_failures = failures_table(std::iter::empty())?;
        let tracks = table.num_rows();
        Ok(Outputs::default()
            .table("fetched", table)
            .table("failures", empty_failures)
            .table("latents", corpus.latents_table()?)
            .meta("tracks", tracks))
    }
}

/// One table of the corpus: a learning source's labels or a target dataset.
pub struct SynthTable;

const TABLES: [&str; 15] = [
    "tag",
    "taste",
    "lyrics",
    "cdr_tag",
    "artist",
    "bpm",
    "year",
    "gtzan",
    "fma",
    "ballroom",
    "irmas",
    "arousal",
    "valence",
    "lastfm",
    "lastfm_interactions",
];

impl Stage for SynthTable {
    fn name(&self) -> &'static str {
        "synth_table"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "One table of the synthetic corpus, checked by the input contract of its kind."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            PRESET,
            SEED,
            ParamSpec {
                name: "table",
                ty: ParamType::Choice(&TABLES),
                default: None,
                doc: "which table",
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        debug_assert_eq!(LEARNING_TABLES.len() + TARGET_TABLES.len(), TABLES.len());
        let corpus = corpus(ctx)?;
        let name = ctx.params.str("table")?;
        let table = corpus
            .table(name)
            .ok_or_else(|| StageError::Data(format!("the corpus has no table `{name}`")))?;
        let what = format!("synthetic corpus table `{name}`");
        // Target manifests carry no uri (their audio comes from synth_audio),
        // so they have no contract to pass; everything else does.
        let checked = match name {
            "tag" | "taste" | "lyrics" | "cdr_tag" => {
                validate(Contract::LabelCounts, &what, table)?
            }
            "artist" => validate(Contract::ArtistMap, &what, table)?,
            "bpm" | "year" => validate(Contract::Scalar, &what, table)?,
            "lastfm_interactions" => validate(Contract::Interactions, &what, table)?,
            _ => table.clone(),
        };
        let rows = checked.num_rows();
        Ok(Outputs::default()
            .table("table", checked)
            .meta("rows", rows))
    }
}
