//! The `train` and `extract` stages.
//!
//! ```yaml
//! - name: train_bpm
//!   stage: train
//!   params: {strategy: SS-R, sources: [bpm], epochs: 4, seed: 1}
//!   inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_bpm]}
//! - name: vectors_bpm_ballroom
//!   stage: extract
//!   inputs: {model: train_bpm, mel: mel, scaler: scaler, dataset: labels_ballroom}
//! ```
//!
//! `train` outputs `weights` (safetensors, every variable including the
//! batch-norm statistics, names as in [`super::net`]), `config` (JSON: what
//! network the weights belong to) and `log` (iteration Int64, epoch Int64,
//! source Utf8, loss Float64: the KL of each step). With `epochs: 0` it
//! outputs the initialised, never trained network: the Rand baseline.
//! `extract` outputs `vectors` (track_id Utf8, vector
//! FixedSizeList<Float32, 2 d>), one row per dataset track with a mel; the
//! others are counted (`missing`) and named in a warning.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use rayon::prelude::*;
use serde_json::json;
use tch::Device;

use super::data::{MelBank, SourceData};
use super::extract::{track_vector, vector_from_record, vector_record};
use super::net::{parameter_count, Network, TOPICS};
use super::optimizers::Arrangement;
use super::train::{train, Checkpoints, LogRow, TrainConfig, CHECKPOINT};
use super::weights;
use stages::api::*;
use stages::audio::Scaler;
use stages::declarations::train::*;
use stages::mel_access::{mel_tracks, read_mel, read_scaler};
use stages::study::{Source, Strategy};
use stages::table::{summarise, track_ids};

/// The device training and extraction run on: the GPU when there is one.
fn device() -> Device {
    Device::cuda_if_available()
}

fn data_error(e: String) -> StageError {
    StageError::Data(e)
}

/// Loads the standardised mels of `ids` (in that order) from a mel node.
fn load_bank(ctx: &StageContext, ids: &[String], scaler: &Scaler) -> Result<MelBank, StageError> {
    let mel = ctx.input("mel")?;
    let mels = ids
        .par_iter()
        .map(|id| read_mel(mel, "mel", id))
        .collect::<Result<Vec<_>, StageError>>()?;
    let mut bank = MelBank::new();
    for (id, m) in ids.iter().zip(&mels) {
        bank.push(id.clone(), m, scaler);
    }
    Ok(bank)
}

/// `ids` split into those with a mel and a warning naming the others.
fn with_mel(
    ctx: &StageContext,
    ids: Vec<String>,
) -> Result<(Vec<String>, Vec<String>), StageError> {
    let analysed = mel_tracks(ctx.input("mel")?, "mel")?;
    Ok(ids.into_iter().partition(|id| analysed.contains(id)))
}

fn missing_warning(missing: &[String], total: usize, what: &str) -> Option<String> {
    (!missing.is_empty()).then(|| {
        let listed: Vec<(&str, &str)> = missing.iter().map(|id| (id.as_str(), "no mel")).collect();
        format!(
            "{} of the {total} {what} have no mel and are left out: {}",
            missing.len(),
            summarise(&listed)
        )
    })
}

/// A source's z table: track ids and their `[tracks, 50]` distributions.
fn read_targets(up: &Upstream, source: Source) -> Result<(Vec<String>, Vec<f32>), StageError> {
    let bad = |reason: String| StageError::Input {
        slot: "targets".into(),
        reason: format!("node {} (for source `{source}`): {reason}", up.node),
    };
    let table = up.files.table("z").map_err(bad)?;
    let ids = track_ids(&table, "targets")?;
    let column = table
        .column_by_name("z")
        .ok_or_else(|| bad("no column `z`".into()))?;
    let list = column
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .filter(|l| l.value_length() == TOPICS as i32)
        .ok_or_else(|| bad(format!("`z` is not a list of {TOPICS} values")))?;
    let values = arrow::compute::cast(list.values(), &DataType::Float32)?;
    let values = values
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or_else(|| bad("`z` values are not numbers".into()))?;
    Ok((ids, values.values().to_vec()))
}

pub struct Train;

fn positive(ctx: &StageContext, name: &str, min: i64) -> Result<usize, StageError> {
    let value = ctx.params.i64(name)?;
    if value < min {
        return Err(StageError::Param {
            name: name.into(),
            reason: format!("must be at least {min}, got {value}"),
        });
    }
    Ok(value as usize)
}

fn train_config(ctx: &StageContext) -> Result<TrainConfig, StageError> {
    let param = |name: &str, reason: String| StageError::Param {
        name: name.into(),
        reason,
    };
    let strategy: Strategy = ctx
        .params
        .str("strategy")?
        .parse()
        .map_err(|e| param("strategy", e))?;
    let sources = Source::parse_set(&ctx.params.str_list("sources")?.join(","))
        .map_err(|e| param("sources", e))?;
    Ok(TrainConfig {
        strategy,
        sources,
        epochs: positive(ctx, "epochs", 0)?,
        max_iterations: positive(ctx, "max_iterations", 0)?,
        batch: positive(ctx, "batch", 1)?,
        lr: ctx.params.f64("lr")?,
        weight_decay: ctx.params.f64("weight_decay")?,
        optimizer: Arrangement::parse(ctx.params.str("optimizer")?)
            .map_err(|e| param("optimizer", e))?,
        seed: ctx.params.i64("seed")? as u64,
        checkpoint_every: positive(ctx, "checkpoint_every", 0)?,
    })
}

/// The node's checkpoint in the engine's store.
struct SinkCheckpoints<'a>(&'a dyn Sink);

impl Checkpoints for SinkCheckpoints<'_> {
    fn save(&self, bytes: Vec<u8>) -> Result<(), String> {
        self.0.save_checkpoint(CHECKPOINT, bytes)
    }
    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        self.0.load_checkpoint(CHECKPOINT)
    }
}

fn log_table(log: &[LogRow], sources: &[Source]) -> Result<RecordBatch, StageError> {
    let schema = Schema::new(vec![
        Field::new("iteration", DataType::Int64, false),
        Field::new("epoch", DataType::Int64, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("loss", DataType::Float64, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from_iter_values(
                log.iter().map(|r| r.iteration as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                log.iter().map(|r| r.epoch as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                log.iter().map(|r| sources[r.source].name()),
            )),
            Arc::new(Float64Array::from_iter_values(log.iter().map(|r| r.loss))),
        ],
    )?)
}

/// Mean loss of each source over its first and over its last `window`
/// iterations: how far training lowered it.
fn loss_summary(log: &[LogRow], sources: &[Source]) -> serde_json::Value {
    const WINDOW: usize = 5;
    let mut summary = serde_json::Map::new();
    for (i, source) in sources.iter().enumerate() {
        let losses: Vec<f64> = log
            .iter()
            .filter(|r| r.source == i)
            .map(|r| r.loss)
            .collect();
        if losses.is_empty() {
            continue;
        }
        let w = WINDOW.min(losses.len());
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
        summary.insert(
            source.name().into(),
            json!({"first": mean(&losses[..w]), "last": mean(&losses[losses.len() - w..]), "iterations": losses.len()}),
        );
    }
    serde_json::Value::Object(summary)
}

impl Stage for Train {
    stages::declared!(TRAIN);
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let config = train_config(ctx)?;
        let labelled: Vec<Source> = config
            .sources
            .iter()
            .copied()
            .filter(|s| *s != Source::SelfSupervised)
            .collect();
        let targets = ctx.inputs.get("targets").map(Vec::as_slice).unwrap_or(&[]);
        if targets.len() != labelled.len() {
            return Err(StageError::Input {
                slot: "targets".into(),
                reason: format!(
                    "{} nodes given for the {} label sources {} (one each, in that order)",
                    targets.len(),
                    labelled.len(),
                    Source::format_set(&labelled)
                ),
            });
        }
        let learning = track_ids(&ctx.input_table("tracks", "table")?, "tracks")?;
        let (learning, missing) = with_mel(ctx, learning)?;
        let learning_set: HashSet<&String> = learning.iter().collect();

        // Each source's examples: its labelled learning tracks with a mel.
        let mut per_source: Vec<(Source, Vec<String>, Vec<f32>)> = Vec::new();
        let mut target_iter = targets.iter();
        for &source in &config.sources {
            if source == Source::SelfSupervised {
                per_source.push((source, learning.clone(), Vec::new()));
                continue;
            }
            let up = target_iter.next().expect("counted above");
            let (ids, z) = read_targets(up, source)?;
            let k = TOPICS as usize;
            let (ids, z): (Vec<String>, Vec<f32>) = ids
                .into_iter()
                .enumerate()
                .filter(|(_, id)| learning_set.contains(id))
                .fold((Vec::new(), Vec::new()), |(mut ids, mut zs), (row, id)| {
                    ids.push(id);
                    zs.extend_from_slice(&z[row * k..(row + 1) * k]);
                    (ids, zs)
                });
            per_source.push((source, ids, z));
        }
        let mut used: Vec<String> = per_source
            .iter()
            .flat_map(|(_, ids, _)| ids.clone())
            .collect();
        used.sort();
        used.dedup();
        let scaler = read_scaler(ctx.input("scaler")?, "scaler")?;
        let bank = load_bank(ctx, &used, &scaler)?;
        let position: BTreeMap<&str, usize> = bank
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let sources: Vec<SourceData> = per_source
            .into_iter()
            .map(|(source, ids, z)| SourceData {
                source,
                tracks: ids.iter().map(|id| position[id.as_str()]).collect(),
                z,
            })
            .collect();

        let device = device();
        let total = config.total_iterations(sources.len() * bank.len().div_ceil(config.batch));
        ctx.progress.set_total(total as u64);
        let mut running = 0.0;
        let trained = train(
            &config,
            &bank,
            &sources,
            device,
            &SinkCheckpoints(ctx.sink),
            &mut |row: &LogRow| {
                running = if row.iteration == 0 {
                    row.loss
                } else {
                    0.95 * running + 0.05 * row.loss
                };
                ctx.progress.advance(1);
                ctx.progress.message(&format!(
                    "iteration {} source {} loss {:.4} (running {:.4})",
                    row.iteration + 1,
                    config.sources[row.source],
                    row.loss,
                    running
                ));
            },
        )
        .map_err(data_error)?;

        let weights = weights::to_bytes(&trained.named_variables()).map_err(data_error)?;
        let parameters = parameter_count(config.strategy, &config.sources).map_err(data_error)?;
        let model_config = json!({
            "strategy": config.strategy.name(),
            "sources": config.sources.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "representation_dim": trained.net.representation_dim(),
            "parameters": parameters,
            "epochs": config.epochs,
            "max_iterations": config.max_iterations,
            "batch": config.batch,
            "lr": config.lr,
            "weight_decay": config.weight_decay,
            "seed": config.seed,
            "iterations_per_epoch": trained.iterations_per_epoch,
            "tracks": sources.iter().map(|s| (s.source.name().to_string(), s.tracks.len())).collect::<BTreeMap<_, _>>(),
        });
        let mut outputs = Outputs::default()
            .table("log", log_table(&trained.log, &config.sources)?)
            .meta("parameters", parameters)
            .meta("representation_dim", trained.net.representation_dim())
            .meta("iterations", trained.log.len())
            .meta("device", format!("{device:?}"))
            .meta("resumed_at_epoch", trained.resumed_at)
            .meta("loss", loss_summary(&trained.log, &config.sources))
            .meta("missing", missing.len());
        if let Some(w) =
            missing_warning(&missing, missing.len() + learning.len(), "learning tracks")
        {
            outputs = outputs.meta("warnings", vec![w]);
        }
        outputs
            .files
            .insert("weights".into(), Output::Bytes(weights));
        outputs
            .files
            .insert("config".into(), Output::Json(model_config));
        Ok(outputs)
    }
}

pub struct Extract;

/// Rebuilds a trained network from a train node's `config` and `weights`.
fn load_model(up: &Upstream) -> Result<(tch::nn::VarStore, Network), StageError> {
    let bad = |reason: String| StageError::Input {
        slot: "model".into(),
        reason: format!("node {} (expected a train node): {reason}", up.node),
    };
    let config: serde_json::Value = serde_json::from_slice(&up.files.bytes("config").map_err(bad)?)
        .map_err(|e| bad(e.to_string()))?;
    let strategy: Strategy = config["strategy"]
        .as_str()
        .ok_or_else(|| bad("config lacks `strategy`".into()))?
        .parse()
        .map_err(bad)?;
    let names: Vec<&str> = config["sources"]
        .as_array()
        .ok_or_else(|| bad("config lacks `sources`".into()))?
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let sources = Source::parse_set(&names.join(",")).map_err(bad)?;
    let mut vs = tch::nn::VarStore::new(device());
    let net = Network::new(&vs.root(), strategy, &sources).map_err(bad)?;
    let saved = weights::from_bytes(&up.files.bytes("weights").map_err(bad)?).map_err(bad)?;
    for (name, mut var) in vs.variables() {
        let value = saved
            .get(&name)
            .ok_or_else(|| bad(format!("weights lack `{name}`")))?;
        tch::no_grad(|| var.copy_(value));
    }
    vs.freeze();
    Ok((vs, net))
}

/// What alone determines a track's vector: the track, its mel, the
/// network and the scaler (extract has no parameters).
fn track_item<'a>(id: &'a str, mel_file: &'a str) -> [ItemSource<'a>; 5] {
    [
        ItemSource::Text(id),
        ItemSource::File {
            slot: "mel",
            file: mel_file,
        },
        ItemSource::File {
            slot: "model",
            file: "weights",
        },
        ItemSource::File {
            slot: "model",
            file: "config",
        },
        ItemSource::File {
            slot: "scaler",
            file: "scaler",
        },
    ]
}

impl Stage for Extract {
    stages::declared!(EXTRACT);
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let (_vs, net) = load_model(ctx.input("model")?)?;
        let ids = track_ids(&ctx.input_table("dataset", "table")?, "dataset")?;
        let total = ids.len();
        let (present, missing) = with_mel(ctx, ids)?;
        if present.is_empty() {
            return Err(StageError::Data(format!(
                "none of the {total} dataset tracks has a mel"
            )));
        }
        let width = 2 * net.representation_dim() as usize;
        ctx.progress.set_total(present.len() as u64);
        let store_error = |e: String| StageError::Data(format!("cannot keep track vectors: {e}"));
        // Vectors that a node with this network, scaler and mel extracted
        // before; the others are computed (and kept for the next node).
        let mut known: Vec<Option<Vec<f32>>> = present
            .par_iter()
            .map(|id| {
                let mel_file = format!("mel/{id}");
                let record = ctx
                    .sink
                    .reuse_item(&track_item(id, &mel_file))
                    .map_err(store_error)?;
                Ok(record.and_then(|r| vector_from_record(&r, width)))
            })
            .collect::<Result<_, StageError>>()?;
        let todo: Vec<String> = present
            .iter()
            .zip(&known)
            .filter(|(_, v)| v.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        let reused = present.len() - todo.len();
        ctx.progress.advance(reused as u64);
        let scaler = read_scaler(ctx.input("scaler")?, "scaler")?;
        let bank = load_bank(ctx, &todo, &scaler)?;
        let mut computed = known.iter_mut().filter(|v| v.is_none());
        for (i, id) in bank.ids.iter().enumerate() {
            let vector = track_vector(&net, &bank, i, device()).map_err(data_error)?;
            let mel_file = format!("mel/{id}");
            ctx.sink
                .emit_item(&track_item(id, &mel_file), vec![], &vector_record(&vector))
                .map_err(store_error)?;
            *computed.next().expect("a slot per computed track") = Some(vector);
            ctx.progress.advance(1);
        }
        let vectors: Vec<f32> = known.into_iter().flatten().flatten().collect();
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let list = FixedSizeListArray::try_new(
            item.clone(),
            width as i32,
            Arc::new(Float32Array::from(vectors)),
            None,
        )?;
        let schema = Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("vector", DataType::FixedSizeList(item, width as i32), false),
        ]);
        let table = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from_iter_values(&present)),
                Arc::new(list),
            ],
        )?;
        let mut outputs = Outputs::default()
            .table("vectors", table)
            .meta("tracks", present.len())
            .meta("reused", reused)
            .meta("dim", width)
            .meta("missing", missing.len());
        if let Some(w) = missing_warning(&missing, total, "dataset tracks") {
            outputs = outputs.meta("warnings", vec![w]);
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::RecordBatch;
    use serde_json::json;

    use super::*;
    use stages::test_support::{params_with_defaults, MemoryFiles, NoProgress, NoSink};

    fn run(
        stage: &dyn Stage,
        params: serde_json::Value,
        inputs: BTreeMap<String, Vec<Upstream>>,
    ) -> String {
        let params = params_with_defaults(stage, params);
        let files = BTreeMap::new();
        let ctx = StageContext {
            node: "under_test",
            params: &params,
            inputs: &inputs,
            files: &files,
            progress: &NoProgress,
            sink: &NoSink,
            base_dir: std::path::Path::new("."),
            local_roots: &[],
        };
        match stage.run(&ctx) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    fn empty() -> RecordBatch {
        RecordBatch::new_empty(Arc::new(Schema::empty()))
    }

    fn slot(name: &str, nodes: Vec<Upstream>) -> (String, Vec<Upstream>) {
        (name.to_string(), nodes)
    }

    #[test]
    fn train_names_a_wrong_target_count_and_bad_parameters() {
        let node = |n: &str| MemoryFiles::one_table(n, "table", empty());
        let inputs = BTreeMap::from([
            slot("mel", vec![node("mel")]),
            slot("scaler", vec![node("scaler")]),
            slot("tracks", vec![node("tracks")]),
            slot("targets", vec![]),
        ]);
        let err = run(
            &Train,
            json!({"strategy": "MS-CR@2", "sources": ["self", "bpm"]}),
            inputs.clone(),
        );
        assert!(
            err.contains("input `targets`: 0 nodes given for the 1 label sources bpm"),
            "{err}"
        );
        for name in ["epochs", "max_iterations"] {
            let err = run(
                &Train,
                json!({"strategy": "SS-R", "sources": ["self"], name: -1}),
                inputs.clone(),
            );
            assert!(
                err.contains(&format!("parameter `{name}`: must be at least 0, got -1")),
                "{err}"
            );
        }
        let err = run(
            &Train,
            json!({"strategy": "SS-R", "sources": ["genre"]}),
            inputs,
        );
        assert!(
            err.contains("parameter `sources`: unknown source `genre`"),
            "{err}"
        );
    }

    #[test]
    fn extract_refuses_a_model_that_is_not_a_train_node() {
        let node = |n: &str| MemoryFiles::one_table(n, "table", empty());
        let inputs = BTreeMap::from([
            slot("model", vec![node("labels_bpm")]),
            slot("mel", vec![node("mel")]),
            slot("scaler", vec![node("scaler")]),
            slot("dataset", vec![node("labels_ballroom")]),
        ]);
        let err = run(&Extract, json!({}), inputs);
        assert!(
            err.contains(
                "input `model`: node labels_bpm (expected a train node): no file `config`"
            ),
            "{err}"
        );
    }
}
