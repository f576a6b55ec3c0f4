//! The corpus as pipeline stages, entering the pipeline as a user's data
//! does. `synth_audio` renders every track as a WAV file of its own
//! (`audio/<track_id>.wav`: a stage may not write outside the store) and
//! describes them in a track manifest (`table`: track_id, uri = that file's
//! name, blake3), which `fetch` reads with the node as its `files` input.
//! `synth_table` hands on one of the corpus's tables (a target manifest's
//! uris name the same files). Every table is checked by the input contract
//! a user's file of its kind passes. Planning the corpus takes milliseconds,
//! so each node re-plans it from the seed instead of passing it around.

use rayon::prelude::*;

use super::corpus::audio_uri;
use super::tables::{batch, Column};
use super::{plan_corpus, render_wav, Corpus, SynthParams, LEARNING_TABLES, TARGET_TABLES};
use crate::api::*;
use crate::contracts::{validate, Contract};

const PRESET: ParamSpec = ParamSpec {
    name: "preset",
    ty: ParamType::Choice(&["tiny", "default"]),
    default: Some("default"),
    doc: "corpus size: tiny (tests) or default (the default study)",
    in_key: true,
};
const SEED: ParamSpec = ParamSpec {
    name: "seed",
    ty: ParamType::Int,
    default: Some("1"),
    doc: "the corpus seed",
    in_key: true,
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
        10
    }
    fn doc(&self) -> &'static str {
        "Renders the synthetic corpus's audio (16-bit stereo WAV at 22,050 Hz) as files \
         audio/<track_id>.wav and a track manifest `table` for fetch."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[PRESET, SEED]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "table",
                kind: FileKind::Table,
                doc: "the track manifest: track_id, uri, blake3",
            },
            OutputSpec {
                name: "latents",
                kind: FileKind::Table,
                doc: "each track's latent factors",
            },
            OutputSpec {
                name: "audio/<track_id>.wav",
                kind: FileKind::Bytes("wav"),
                doc: "each track's audio",
            },
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let corpus = corpus(ctx)?;
        let tracks: Vec<_> = corpus.tracks.iter().collect();
        ctx.progress.set_total(tracks.len() as u64);
        let (mut ids, mut uris, mut digests) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in tracks.chunks(CHUNK) {
            let rendered: Vec<Vec<u8>> = chunk
                .par_iter()
                .map(|t| render_wav(t, &corpus.params))
                .collect::<Result<_, _>>()?;
            for (track, wav) in chunk.iter().zip(rendered) {
                digests.push(blake3::hash(&wav).to_hex().to_string());
                let uri = audio_uri(&track.track_id);
                // Rendering is cheap; storing again is not: an interrupted
                // attempt's tracks are only described.
                if !ctx.sink.has(&uri) {
                    ctx.sink
                        .emit(&uri, Output::Bytes(wav))
                        .map_err(StageError::Data)?;
                }
                ids.push(track.track_id.clone());
                uris.push(uri);
                ctx.progress.advance(1);
            }
        }
        let manifest = batch(vec![
            ("track_id", Column::Text(ids)),
            ("uri", Column::Text(uris)),
            ("blake3", Column::Text(digests)),
        ])?;
        let manifest = validate(
            Contract::Tracks,
            "synthetic corpus track manifest",
            &manifest,
        )?;
        let tracks = manifest.num_rows();
        Ok(Outputs::default()
            .table("table", manifest)
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
        // 12: every source labels exactly its coverage's share of the
        // learning tracks, all of them by default.
        12
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
                in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "table",
            kind: FileKind::Table,
            doc: "the table, checked against its contract",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        debug_assert_eq!(LEARNING_TABLES.len() + TARGET_TABLES.len(), TABLES.len());
        let corpus = corpus(ctx)?;
        let name = ctx.params.str("table")?;
        let (Some(table), Some(contract)) = (corpus.table(name), contract(name)) else {
            return Err(StageError::Data(format!(
                "the corpus has no table `{name}`"
            )));
        };
        let what = format!("synthetic corpus table `{name}`");
        let checked = validate(contract, &what, table)?;
        let rows = checked.num_rows();
        Ok(Outputs::default()
            .table("table", checked)
            .meta("rows", rows))
    }
}

/// The contract a user's file of the same kind as corpus table `name` is
/// checked by.
fn contract(name: &str) -> Option<Contract> {
    Some(match name {
        "tag" | "taste" | "lyrics" | "cdr_tag" => Contract::LabelCounts,
        "artist" => Contract::ArtistMap,
        "bpm" | "year" => Contract::Scalar,
        "gtzan" | "fma" | "ballroom" | "irmas" | "lastfm" => Contract::TargetLabels,
        "arousal" | "valence" => Contract::TargetValues,
        "lastfm_interactions" => Contract::Interactions,
        _ => return None,
    })
}
