//! The `musicnn` stage: the pre-trained baseline, musicnn's MSD_vgg (Pons
//! and Serra's musicnn 0.1.0, ISC licence), as the paper compares its
//! learned representations with Choi et al.'s pre-trained network.
//!
//! ```yaml
//! - name: musicnn
//!   stage: musicnn
//!   inputs: {audio: audio}
//! - name: eval_musicnn_gtzan
//!   stage: evaluate
//!   params: {representation: "musicnn:MSD_vgg", dataset: gtzan, task: classification}
//!   inputs: {features: musicnn, dataset: labels_gtzan}
//! ```
//!
//! Every fetched track goes through musicnn's own front end
//! ([`stages::audio::musicnn`]: mono, 16 kHz, 96-band float16 log-mel,
//! non-overlapping 187-frame patches, a track under one patch repeat-padded)
//! and the network ([`net`]); its vector is `[mean, std]` of pool5 (256)
//! over its patches, 512 floats, aggregated as `extract` aggregates its
//! slices ([`crate::model::extract::mean_std`]). Outputs: `vectors`
//! (track_id, vector FixedSizeList<Float32, 512>: the table `evaluate` and
//! `recommend` take), `tags` (the mean tag probabilities), `index` and
//! `failures` (a track that cannot be decoded is listed there; it never
//! stops the stage). A track whose audio (same id, same bytes) any musicnn
//! node with the same parameters analysed is reused ([`Sink::reuse_item`]).
//!
//! The weights: scripts/setup.sh downloads PyPI's musicnn 0.1.0 wheel
//! (sha256 pinned), and scripts/musicnn_weights.py converts its TensorFlow
//! checkpoint to safetensors without TensorFlow, deterministically. The
//! stage reads that file (param `weights`, or the set-up location) and
//! refuses any other bytes: their blake3 must be [`MSD_VGG_BLAKE3`]. So
//! the node's key (stage, version, `model`) determines the weights, and
//! where the file lies is not in the key.

pub mod net;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    BooleanArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray, UInt16Array,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use rayon::prelude::*;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use crate::model::extract::{mean_std, vector_from_record, vector_record};
use net::{Vgg, POOL5_DIM, TAGS};
use stages::api::*;
use stages::audio::musicnn::{log_mel_from_bytes, LogMel, PATCH_FRAMES, PATCH_LEN};
use stages::audio::StreamEnd;
use stages::declarations::musicnn::MUSICNN;
use stages::table::{failures_table, summarise, track_ids};

/// blake3 of `scripts/musicnn_weights.py musicnn-0.1.0-py3-none-any.whl
/// MSD_vgg.safetensors` (the wheel of sha256 f38a4890...5cfa).
pub const MSD_VGG_BLAKE3: &str = "2cb1c4fc2eb3126f1760ffecdb630020f5686ad409ce786106458964269bbdcf";

/// Width of a track's vector: `[mean, std]` of pool5.
pub const VECTOR_DIM: usize = 2 * POOL5_DIM as usize;

/// Patches run through the network together.
const PATCHES_PER_BATCH: usize = 64;

/// The largest weights file read (the conversion is 2.4 MB).
const MAX_WEIGHTS_BYTES: u64 = 64 << 20;

pub struct Musicnn;

/// Where scripts/setup.sh puts `model`'s converted weights:
/// `$PIPELINE_CACHE/musicnn/<model>.safetensors`, `PIPELINE_CACHE`
/// defaulting to `~/.cache/mdr` as in setup.sh.
pub fn default_weights(model: &str) -> Option<PathBuf> {
    let cache = match std::env::var_os("PIPELINE_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/mdr"),
    };
    Some(cache.join("musicnn").join(format!("{model}.safetensors")))
}

/// The pinned blake3 of a model's converted weights.
fn pinned(model: &str) -> Option<&'static str> {
    (model == "MSD_vgg").then_some(MSD_VGG_BLAKE3)
}

/// The weights of `model`, from `given` (relative to `base_dir`) or the
/// set-up location, checked against their pinned blake3.
pub fn read_weights(model: &str, given: &str, base_dir: &Path) -> Result<Vec<u8>, StageError> {
    let bad = |reason: String| StageError::Param {
        name: "weights".into(),
        reason,
    };
    let path = if given.is_empty() {
        default_weights(model).ok_or_else(|| {
            bad("neither PIPELINE_CACHE nor HOME is set, so the weights' place is unknown".into())
        })?
    } else {
        base_dir.join(given)
    };
    let bytes = stages::local_files::read_regular(&path, MAX_WEIGHTS_BYTES).map_err(|e| {
        bad(format!(
            "{}: {e}; run scripts/setup.sh, which downloads musicnn 0.1.0 and converts its \
             {model} weights there (scripts/musicnn_weights.py)",
            path.display()
        ))
    })?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let want = pinned(model).ok_or_else(|| bad(format!("no pinned weights for {model}")))?;
    if digest != want {
        return Err(bad(format!(
            "{} has blake3 {digest}, not {want}, that of scripts/musicnn_weights.py's \
             conversion of musicnn 0.1.0's {model}; run scripts/setup.sh again (delete the \
             file first)",
            path.display()
        )));
    }
    Ok(bytes)
}

/// One track's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysed {
    /// `[mean, std]` of pool5 over the patches: 512 floats.
    pub vector: Vec<f32>,
    /// Mean tag probabilities over the patches: 50 floats.
    pub tags: Vec<f32>,
    pub patches: u32,
    pub frames: u32,
    pub repeat_padded: bool,
    pub inf_bins: u32,
    pub sample_rate: u32,
    pub channels: u16,
    pub stream_end: String,
}

fn stream_end(end: StreamEnd) -> &'static str {
    match end {
        StreamEnd::Complete => "complete",
        StreamEnd::LimitReached => "limit_reached",
        StreamEnd::Truncated => "truncated",
        StreamEnd::Changed => "changed",
    }
}

/// pool5 `[patches, 256]` and tag probabilities `[patches, 50]` of a
/// batch of patches `[patches, 187, 96]`.
pub fn run_patches(net: &Vgg, patches: &[f32], count: usize, device: Device) -> (Tensor, Tensor) {
    let mut pool5 = Vec::new();
    let mut tags = Vec::new();
    for first in (0..count).step_by(PATCHES_PER_BATCH) {
        let n = PATCHES_PER_BATCH.min(count - first);
        let x = Tensor::from_slice(&patches[first * PATCH_LEN..(first + n) * PATCH_LEN])
            .view([n as i64, PATCH_FRAMES as i64, -1])
            .to_device(device);
        let (p, logits) = tch::no_grad(|| net.forward(&x));
        pool5.push(p);
        tags.push(logits.sigmoid());
    }
    (Tensor::cat(&pool5, 0), Tensor::cat(&tags, 0))
}

/// A track's log-mel through the network: its vector and mean tags.
pub fn analyse(net: &Vgg, mel: &LogMel, device: Device) -> Result<Analysed, String> {
    let (patches, count) = mel.patches();
    let (pool5, tags) = run_patches(net, &patches, count, device);
    let vector = mean_std(&pool5)?;
    let tags = Vec::<f32>::try_from(tags.mean_dim(0, false, Kind::Float).to_device(Device::Cpu))
        .map_err(|e| e.to_string())?;
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "the network gave a non-finite feature ({} at {i})",
            vector[i]
        ));
    }
    Ok(Analysed {
        vector,
        tags,
        patches: count as u32,
        frames: mel.frames as u32,
        repeat_padded: mel.repeat_padded(),
        inf_bins: mel.data[..mel.frames.min(count * PATCH_FRAMES) * stages::audio::musicnn::N_MELS]
            .iter()
            .filter(|x| x.is_infinite())
            .count() as u32,
        sample_rate: mel.source_sample_rate,
        channels: mel.source_channels as u16,
        stream_end: stream_end(mel.ending.end).into(),
    })
}

/// A track's results as an item record (floats exact, as hex).
fn record(a: &Analysed) -> Value {
    json!({
        "vector": vector_record(&a.vector)["vector"],
        "tags": vector_record(&a.tags)["vector"],
        "patches": a.patches,
        "frames": a.frames,
        "repeat_padded": a.repeat_padded,
        "inf_bins": a.inf_bins,
        "sample_rate": a.sample_rate,
        "channels": a.channels,
        "stream_end": a.stream_end,
    })
}

fn from_record(r: &Value) -> Option<Analysed> {
    let int = |k: &str| r[k].as_u64().and_then(|v| u32::try_from(v).ok());
    Some(Analysed {
        vector: vector_from_record(&json!({"vector": r["vector"]}), VECTOR_DIM)?,
        tags: vector_from_record(&json!({"vector": r["tags"]}), TAGS as usize)?,
        patches: int("patches")?,
        frames: int("frames")?,
        repeat_padded: r["repeat_padded"].as_bool()?,
        inf_bins: int("inf_bins")?,
        sample_rate: int("sample_rate")?,
        channels: u16::try_from(int("channels")?).ok()?,
        stream_end: r["stream_end"].as_str()?.to_string(),
    })
}

enum Outcome {
    Done(Analysed, bool),
    Failed(String),
}

impl Stage for Musicnn {
    stages::declared!(MUSICNN);
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let model = ctx.params.str("model")?.to_string();
        let max_seconds = ctx.params.f64("max_seconds")?;
        if !(max_seconds.is_finite() && max_seconds >= 0.0) {
            return Err(StageError::Param {
                name: "max_seconds".into(),
                reason: "must be 0 (all) or a positive number of seconds".into(),
            });
        }
        let max_seconds = (max_seconds > 0.0).then_some(max_seconds);
        let weights = read_weights(&model, ctx.params.str("weights")?, ctx.base_dir)?;
        let digest = blake3::hash(&weights).to_hex().to_string();
        let device = Device::cuda_if_available();
        // Checked once here; each thread then builds its own copy (a
        // libtorch tensor may not be shared between threads).
        net::load(&weights, device).map_err(|e| StageError::Param {
            name: "weights".into(),
            reason: e,
        })?;
        let upstream = ctx.input("audio")?;
        let fetched = upstream
            .files
            .table("fetched")
            .map_err(|e| StageError::Input {
                slot: "audio".into(),
                reason: format!("node {} (expected a fetch node): {e}", upstream.node),
            })?;
        let ids = track_ids(&fetched, "audio")?;
        ctx.progress.set_total(ids.len() as u64);

        let one = |net: &Vgg, id: &String| -> Result<Outcome, StageError> {
            let audio = format!("audio/{id}");
            let item = [
                ItemSource::Text(id),
                ItemSource::Text(&digest),
                ItemSource::File {
                    slot: "audio",
                    file: &audio,
                },
            ];
            let store_error =
                |e: String| StageError::Data(format!("cannot keep track {id}'s vector: {e}"));
            let reused = ctx.sink.reuse_item(&item).map_err(store_error)?;
            if let Some(done) = reused.as_ref().and_then(from_record) {
                return Ok(Outcome::Done(done, true));
            }
            let bytes = upstream
                .files
                .bytes(&audio)
                .map_err(|e| StageError::Input {
                    slot: "audio".into(),
                    reason: format!("node {}: {e}", upstream.node),
                })?;
            let mel = match log_mel_from_bytes(&bytes, max_seconds) {
                Ok(mel) => mel,
                Err(e) => return Ok(Outcome::Failed(e.to_string())),
            };
            drop(bytes);
            let done = match analyse(net, &mel, device) {
                Ok(done) => done,
                Err(why) => return Ok(Outcome::Failed(why)),
            };
            ctx.sink
                .emit_item(&item, vec![], &record(&done))
                .map_err(store_error)?;
            Ok(Outcome::Done(done, false))
        };
        let outcomes: Vec<Outcome> = ids
            .par_iter()
            .map_init(
                || net::load(&weights, device),
                |loaded, id| {
                    let (_, net) = loaded.as_ref().map_err(|e| StageError::Param {
                        name: "weights".into(),
                        reason: e.clone(),
                    })?;
                    let outcome = one(net, id);
                    ctx.progress.advance(1);
                    outcome
                },
            )
            .collect::<Result<_, StageError>>()?;
        report(&ids, outcomes, &digest, device)
    }
}

fn list_column(values: Vec<f32>, width: usize) -> Result<(Field, FixedSizeListArray), StageError> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let list = FixedSizeListArray::try_new(
        item.clone(),
        width as i32,
        Arc::new(Float32Array::from(values)),
        None,
    )?;
    Ok((
        Field::new("", DataType::FixedSizeList(item, width as i32), false),
        list,
    ))
}

/// A table of track_id and one vector column.
fn vector_table(
    ids: &[&str],
    column: &str,
    values: Vec<f32>,
    width: usize,
) -> Result<RecordBatch, StageError> {
    let (field, list) = list_column(values, width)?;
    let schema = Schema::new(vec![
        Field::new("track_id", DataType::Utf8, false),
        field.with_name(column),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(StringArray::from_iter_values(ids)), Arc::new(list)],
    )?)
}

fn report(
    ids: &[String],
    outcomes: Vec<Outcome>,
    digest: &str,
    device: Device,
) -> Result<Outputs, StageError> {
    let mut done: Vec<(&str, Analysed)> = Vec::new();
    let mut failed: Vec<(&str, String)> = Vec::new();
    let mut reused = 0usize;
    for (id, outcome) in ids.iter().zip(outcomes) {
        match outcome {
            Outcome::Done(a, was_reused) => {
                reused += usize::from(was_reused);
                done.push((id, a));
            }
            Outcome::Failed(why) => failed.push((id, why)),
        }
    }
    let names: Vec<&str> = done.iter().map(|(id, _)| *id).collect();
    let vectors = vector_table(
        &names,
        "vector",
        done.iter().flat_map(|(_, a)| a.vector.clone()).collect(),
        VECTOR_DIM,
    )?;
    let tags = vector_table(
        &names,
        "tags",
        done.iter().flat_map(|(_, a)| a.tags.clone()).collect(),
        TAGS as usize,
    )?;
    let u32s = |f: fn(&Analysed) -> u32| {
        Arc::new(UInt32Array::from_iter_values(
            done.iter().map(|(_, a)| f(a)),
        ))
    };
    let index = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("patches", DataType::UInt32, false),
            Field::new("frames", DataType::UInt32, false),
            Field::new("repeat_padded", DataType::Boolean, false),
            Field::new("inf_bins", DataType::UInt32, false),
            Field::new("source_sample_rate", DataType::UInt32, false),
            Field::new("source_channels", DataType::UInt16, false),
            Field::new("stream_end", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(&names)),
            u32s(|a| a.patches),
            u32s(|a| a.frames),
            Arc::new(BooleanArray::from_iter(
                done.iter().map(|(_, a)| Some(a.repeat_padded)),
            )),
            u32s(|a| a.inf_bins),
            u32s(|a| a.sample_rate),
            Arc::new(UInt16Array::from_iter_values(
                done.iter().map(|(_, a)| a.channels),
            )),
            Arc::new(StringArray::from_iter_values(
                done.iter().map(|(_, a)| a.stream_end.as_str()),
            )),
        ],
    )?;
    let (failures, failed_warning) = failures_table(&failed, ids.len())?;
    let mut warnings: Vec<String> = failed_warning.into_iter().collect();
    let padded: Vec<(&str, &str)> = done
        .iter()
        .filter(|(_, a)| a.repeat_padded)
        .map(|(id, _)| (*id, "under 3 s"))
        .collect();
    if !padded.is_empty() {
        warnings.push(format!(
            "{} tracks are shorter than one 3 s patch and were repeat-padded: {}",
            padded.len(),
            summarise(&padded)
        ));
    }
    let partial: Vec<(&str, &str)> = done
        .iter()
        .filter(|(_, a)| matches!(a.stream_end.as_str(), "truncated" | "changed"))
        .map(|(id, a)| (*id, a.stream_end.as_str()))
        .collect();
    if !partial.is_empty() {
        warnings.push(format!(
            "{} tracks were decoded only in part (see `index`: stream_end): {}",
            partial.len(),
            summarise(&partial)
        ));
    }
    let mut outputs = Outputs::default()
        .meta("tracks", ids.len())
        .meta("analysed", done.len())
        .meta("failed", failed.len())
        .meta("reused", reused)
        .meta("dim", VECTOR_DIM)
        .meta(
            "patches",
            done.iter().map(|(_, a)| u64::from(a.patches)).sum::<u64>(),
        )
        .meta("repeat_padded", padded.len())
        .meta(
            "tracks_with_inf_bins",
            done.iter().filter(|(_, a)| a.inf_bins > 0).count(),
        )
        .meta("weights_blake3", digest)
        .meta("device", format!("{device:?}"));
    if !warnings.is_empty() {
        outputs = outputs.meta("warnings", warnings);
    }
    Ok(outputs
        .table("vectors", vectors)
        .table("tags", tags)
        .table("index", index)
        .table("failures", failures))
}
