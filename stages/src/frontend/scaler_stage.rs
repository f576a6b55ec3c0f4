//! `scaler`: per-band mean and std of the training mels (SPEC 3).
//!
//! Inputs: `mel` (a `mel` node) and `tracks` (a table with `track_id` and
//! optionally `split`). The scaler is fitted on the tracks whose `split` is
//! the `split` parameter (`train` by default), or on every track of `tracks`
//! when it has no `split` column, over every frame of both channels
//! ([`crate::audio::ScalerAccumulator`], population std, f64).
//!
//! Output `scaler` (band UInt32, mean Float64, std Float64): 128 rows, band
//! 0..128 low to high. Selected tracks without a mel (they failed to fetch or
//! to decode) are left out, counted (`missing`) and named in a warning.
//!
//! The result does not depend on the thread count: each track's statistics
//! are computed on their own, in parallel, and merged in table order.

use std::sync::Arc;

use arrow::array::{Array, Float64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use rayon::prelude::*;

use crate::api::*;
use crate::audio::{ScalerAccumulator, N_MELS};
use crate::mel_access::{mel_tracks, read_mel};
use crate::table::{optional_text_column, summarise, track_ids};

pub struct FitScaler;

/// Tracks whose statistics are computed in parallel before being merged.
const CHUNK: usize = 256;

impl Stage for FitScaler {
    fn name(&self) -> &'static str {
        "scaler"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Per-band mean and std (128 each) over every frame of the training tracks' mels."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec {
            name: "split",
            ty: ParamType::Str,
            default: Some("train"),
            doc: "fit on the tracks whose `split` is this (all tracks if the table has no split column)", in_key: true,
        }]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[
            InputSpec {
                name: "mel",
                many: false,
                doc: "a mel node",
            },
            InputSpec {
                name: "tracks",
                many: false,
                doc: "a table of tracks (track_id, optional split)",
            },
        ]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "scaler",
            kind: FileKind::Table,
            doc: "band, mean, std",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let wanted = ctx.params.str("split")?;
        let tracks = ctx.input_table("tracks", "table")?;
        let ids = track_ids(&tracks, "tracks")?;
        let selected: Vec<String> = match optional_text_column(&tracks, "split", "tracks")? {
            None => ids,
            Some(split) => {
                let chosen: Vec<String> = ids
                    .into_iter()
                    .enumerate()
                    .filter(|&(i, _)| split.is_valid(i) && split.value(i) == wanted)
                    .map(|(_, id)| id)
                    .collect();
                if chosen.is_empty() {
                    return Err(StageError::Input {
                        slot: "tracks".into(),
                        reason: format!("no track has split = {wanted:?}"),
                    });
                }
                chosen
            }
        };
        let mel = ctx.input("mel")?;
        let analysed = mel_tracks(mel, "mel")?;
        let (present, missing): (Vec<String>, Vec<String>) =
            selected.into_iter().partition(|id| analysed.contains(id));
        if present.is_empty() {
            return Err(StageError::Data(format!(
                "none of the {} selected tracks has a mel (all failed to fetch or decode)",
                missing.len()
            )));
        }

        ctx.progress.set_total(present.len() as u64);
        let mut total = ScalerAccumulator::new();
        for chunk in present.chunks(CHUNK) {
            let parts: Vec<ScalerAccumulator> = chunk
                .par_iter()
                .map(|id| {
                    let db = read_mel(mel, "mel", id)?;
                    let mut part = ScalerAccumulator::new();
                    part.add(&db);
                    ctx.progress.advance(1);
                    Ok(part)
                })
                .collect::<Result<_, StageError>>()?;
            parts.iter().for_each(|p| total.merge(p));
        }
        let scaler = total
            .finish()
            .map_err(|e| StageError::Data(e.to_string()))?;

        let table = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("band", DataType::UInt32, false),
                Field::new("mean", DataType::Float64, false),
                Field::new("std", DataType::Float64, false),
            ])),
            vec![
                Arc::new(UInt32Array::from_iter_values(0..N_MELS as u32)),
                Arc::new(Float64Array::from(scaler.mean.to_vec())),
                Arc::new(Float64Array::from(scaler.std.to_vec())),
            ],
        )?;
        let mut outputs = Outputs::default()
            .meta("tracks", present.len())
            .meta("frames", total.count())
            .meta("missing", missing.len());
        if !missing.is_empty() {
            let listed: Vec<(&str, &str)> =
                missing.iter().map(|id| (id.as_str(), "no mel")).collect();
            outputs = outputs.meta(
                "warnings",
                vec![format!(
                    "{} of the {} selected tracks have no mel and are left out of the scaler: {}",
                    missing.len(),
                    missing.len() + present.len(),
                    summarise(&listed)
                )],
            );
        }
        Ok(outputs.table("scaler", table))
    }
}
