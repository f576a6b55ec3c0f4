//! The `evaluate` and `recommend` stages: a representation and a target
//! dataset in, the scores of every repeat and the splits behind them out
//! (tables in [`super::output`]).

use serde_json::json;

use super::coldstart::cold_start;
use super::dataset::{read_dataset, read_interactions, Dataset, Need};
use super::features::{missing, name_some, read_features, Features};
use super::mlp::{MlpConfig, Target};
use super::output::{scores_table, splits_table, ScoreRow};
use super::probe::probe_repeats;
use super::splits::{make_splits, Classes, Part, Protocol, SplitInput, Splits, ITEM_TEST_SHARE};
use super::wmf::WmfConfig;
use stages::api::*;
use stages::declarations::evaluate::*;
use stages::rng::Rng;

/// Classification or regression of a target dataset by the MLP probe.
pub struct Evaluate;

impl Stage for Evaluate {
    stages::declared!(EVALUATE);
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let common = Common::read(ctx.params)?;
        let task = ctx.params.str("task")?;
        let need = if task == "regression" {
            Need::Values
        } else {
            Need::Labels
        };
        let features = common.features(ctx)?;
        let manifest = read_dataset(&ctx.input_table("dataset", "table")?, "dataset", need)?;
        let (dataset, x, gone) = align(&features, &manifest)?;
        let (of_track, names) = dataset.classes();
        let classes = (need == Need::Labels).then_some(Classes {
            of_track: &of_track,
            names: &names,
        });
        let groups = dataset.group_index();
        let splits = split(
            &dataset,
            classes,
            groups.as_deref(),
            &common,
            Protocol::Folds,
        )?;
        let target = match need {
            Need::Values => Target::Values(&dataset.values),
            _ => Target::Classes {
                of_sample: &of_track,
                n_classes: names.len(),
            },
        };
        ctx.progress.set_total(common.repeats as u64);
        let repeats: Vec<(&[Part], MlpConfig)> = splits
            .parts
            .iter()
            .enumerate()
            .map(|(repeat, parts)| {
                let config = MlpConfig {
                    seed: common.model_seed("mlp", repeat),
                    ..MlpConfig::default()
                };
                (parts.as_slice(), config)
            })
            .collect();
        let mut rows = Vec::with_capacity(common.repeats);
        let mut epochs = Vec::with_capacity(common.repeats);
        for (repeat, score) in probe_repeats(&x, features.dim, &target, &repeats)
            .into_iter()
            .enumerate()
        {
            let score =
                score.map_err(|e| StageError::Data(format!("repeat {repeat}: MLP: {e}")))?;
            epochs.push(json!({"epochs": score.epochs, "stopped_early": score.stopped_early}));
            rows.push(ScoreRow {
                repeat,
                metric: score.metric.to_string(),
                value: score.value,
                n_train: score.n_train,
                n_test: score.n_test,
            });
            ctx.progress.advance(1);
        }
        let mut out = common
            .outputs(task, &rows, &dataset.ids, &splits, &features, &gone)?
            .meta("training", epochs);
        if need == Need::Labels {
            out = out.meta("classes", names.len());
        }
        Ok(out)
    }
}

/// Cold-start recommendation by content-aware WMF, scored by nDCG@k.
pub struct Recommend;

impl Stage for Recommend {
    stages::declared!(RECOMMEND);
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let common = Common::read(ctx.params)?;
        let p = ctx.params;
        let config = |seed| -> Result<WmfConfig, StageError> {
            Ok(WmfConfig {
                factors: int(p, "factors", 1, 10_000)?,
                iterations: int(p, "iterations", 1, 10_000)?,
                alpha: p.f64("alpha")?,
                lambda_u: p.f64("lambda_u")?,
                lambda_v: p.f64("lambda_v")?,
                lambda_w: p.f64("lambda_w")?,
                seed,
            })
        };
        let top_k = int(p, "top_k", 1, i64::MAX)?;
        let features = common.features(ctx)?;
        let manifest = read_dataset(&ctx.input_table("items", "table")?, "items", Need::Items)?;
        let (items, x, gone) = align(&features, &manifest)?;
        let interactions = read_interactions(
            &ctx.input_table("interactions", "table")?,
            "interactions",
            &items.ids,
        )?;
        let groups = items.group_index();
        let splits = split(
            &items,
            None,
            groups.as_deref(),
            &common,
            Protocol::HoldOut(ITEM_TEST_SHARE),
        )?;
        let metric = format!("ndcg@{top_k}");
        let iterations = config(0)?.iterations;
        ctx.progress.set_total((common.repeats * iterations) as u64);
        let mut rows = Vec::with_capacity(common.repeats);
        let mut users = Vec::with_capacity(common.repeats);
        for (repeat, parts) in splits.parts.iter().enumerate() {
            let config = config(common.model_seed("wmf", repeat))?;
            let score = cold_start(
                &interactions.counts,
                &x,
                features.dim,
                parts,
                &config,
                top_k,
                &mut |_| ctx.progress.advance(1),
            )
            .map_err(|e| StageError::Data(format!("repeat {repeat}: {e}")))?;
            users.push(json!({
                "evaluated": score.users.evaluated,
                "without_heldout": score.users.without_heldout,
                "without_training": score.users.without_training,
                "objective": score.objective.last(),
            }));
            rows.push(ScoreRow {
                repeat,
                metric: metric.clone(),
                value: score.ndcg,
                n_train: score.n_train_items,
                n_test: score.n_test_items,
            });
        }
        let mut out = common
            .outputs(
                "recommendation",
                &rows,
                &items.ids,
                &splits,
                &features,
                &gone,
            )?
            .meta("users", interactions.user_ids.len())
            .meta("interactions", interactions.counts.nnz())
            .meta("repeats_users", users);
        if interactions.unknown_rows > 0 {
            out = warn(
                out,
                format!(
                    "{} interaction rows are about tracks that are not evaluated items (no such \
                 item, or no representation) and were left out: {}",
                    interactions.unknown_rows,
                    name_some(
                        &interactions
                            .unknown_tracks
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                    )
                ),
            );
        }
        Ok(out.meta("unknown_interaction_rows", interactions.unknown_rows))
    }
}

/// The parameters both stages share.
struct Common {
    representation: String,
    dataset: String,
    table: String,
    repeats: usize,
    seed: u64,
}

impl Common {
    fn read(params: &Params) -> Result<Common, StageError> {
        let text = |name: &str| -> Result<String, StageError> {
            let value = params.str(name)?.trim();
            if value.is_empty() {
                return Err(StageError::Param {
                    name: name.into(),
                    reason: "must not be empty".into(),
                });
            }
            Ok(value.to_string())
        };
        Ok(Common {
            representation: text("representation")?,
            dataset: text("dataset")?,
            table: text("table")?,
            repeats: int(params, "repeats", 1, 1000)?,
            seed: int(params, "seed", 0, i64::MAX)? as u64,
        })
    }

    fn features(&self, ctx: &StageContext) -> Result<Features, StageError> {
        read_features(
            &ctx.input_table("features", &self.table)?,
            "features",
            &self.table,
        )
    }

    /// The seed of repeat `repeat`'s model, apart from the split's stream.
    fn model_seed(&self, purpose: &str, repeat: usize) -> u64 {
        Rng::derive(self.seed, &[purpose, &repeat.to_string()]).next_u64()
    }

    fn outputs(
        &self,
        task: &str,
        rows: &[ScoreRow],
        ids: &[String],
        splits: &Splits,
        features: &Features,
        gone: &[String],
    ) -> Result<Outputs, StageError> {
        let mut out = Outputs::default()
            .table(
                "scores",
                scores_table(&self.representation, &self.dataset, task, rows)?,
            )
            .table("splits", splits_table(ids, &splits.parts)?)
            .meta("representation", self.representation.as_str())
            .meta("dataset", self.dataset.as_str())
            .meta("task", task)
            .meta("scheme", splits.scheme.name())
            .meta("tracks", ids.len())
            .meta("feature_column", features.column.as_str())
            .meta("dim", features.dim)
            .meta("missing_tracks", gone.len());
        let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
        out = out.meta(
            "mean",
            values.iter().sum::<f64>() / values.len().max(1) as f64,
        );
        if !gone.is_empty() {
            let named: Vec<&str> = gone.iter().map(String::as_str).collect();
            out = warn(
                out,
                format!(
                    "{} of {} dataset tracks have no representation in `{}` and were left out: {}",
                    gone.len(),
                    ids.len() + gone.len(),
                    self.table,
                    name_some(&named)
                ),
            );
        }
        Ok(out)
    }
}

/// Appends `message` to the `warnings` metadata list.
fn warn(mut out: Outputs, message: String) -> Outputs {
    let list = out.metadata.entry("warnings").or_insert_with(|| json!([]));
    if let Some(items) = list.as_array_mut() {
        items.push(message.into());
    }
    out
}

/// An integer parameter in `min..=max`.
fn int(params: &Params, name: &str, min: i64, max: i64) -> Result<usize, StageError> {
    let v = params.i64(name)?;
    if v < min || v > max {
        return Err(StageError::Param {
            name: name.into(),
            reason: format!("{v} is outside {min}..={max}"),
        });
    }
    usize::try_from(v).map_err(|_| StageError::Param {
        name: name.into(),
        reason: format!("{v} is out of range"),
    })
}

/// The dataset rows that have a representation, their vectors
/// (`[rows, dim]`) and the ids of the others.
fn align(
    features: &Features,
    manifest: &Dataset,
) -> Result<(Dataset, Vec<f32>, Vec<String>), StageError> {
    let (found, x) = features.gather(&manifest.ids);
    let gone: Vec<String> = missing(&manifest.ids, &found)
        .into_iter()
        .map(String::from)
        .collect();
    if found.is_empty() {
        return Err(StageError::Data(format!(
            "none of the {} dataset tracks has a representation in `{}` ({} tracks there)",
            manifest.ids.len(),
            features.column,
            features.ids.len()
        )));
    }
    Ok((manifest.subset(&found), x, gone))
}

fn split(
    dataset: &Dataset,
    classes: Option<Classes>,
    groups: Option<&[usize]>,
    common: &Common,
    protocol: Protocol,
) -> Result<Splits, StageError> {
    let input = SplitInput {
        classes,
        given: dataset.given.as_deref(),
        groups,
    };
    make_splits(
        dataset.ids.len(),
        &input,
        common.repeats,
        common.seed,
        protocol,
    )
    .map_err(|e| StageError::Data(format!("dataset {}: {e}", common.dataset)))
}
