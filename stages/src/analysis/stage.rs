//! The `analyze` stage: the design's runs and every evaluation's scores (or
//! a user's, through `load_table`) in; the standardised scores, both models' fixed effects with bootstrap
//! intervals, Model 1's pairwise comparisons, the source variance
//! components and the fits' details out.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use serde_json::{json, Map, Value};

use super::bootstrap::{self, Replicates};
use super::components::{self, DatasetComponents};
use super::mixed::{Config, Covariance, Fit, Model};
use super::models::{intercept_name, slope_name, Row, Which};
use super::scores::{build_study, read_runs, Origin, Study};
use crate::api::*;
use crate::contracts::study_table;
use crate::study::{Source, Strategy};

const RUNS_SLOT: &str = "runs";
const SCORES_SLOT: &str = "scores";
/// Two-sided level of every interval.
const LEVEL: f64 = 0.95;

const RESAMPLES: ParamSpec = ParamSpec {
    name: "bootstrap_resamples",
    ty: ParamType::Int,
    default: Some("200"),
    doc: "resamples of each bootstrap (parametric and case, per model)",
    in_key: true,
};
const RANDOM_EFFECTS: ParamSpec = ParamSpec {
    name: "random_effects",
    ty: ParamType::Choice(&Covariance::NAMES),
    default: Some("independent"),
    doc: "covariance of Models 1 and 2's random effects: `independent` variances, as in the \
          paper's equations (lme4's `||`), or `unstructured` (correlated, lme4's `|`)",
    in_key: true,
};
const SEED: ParamSpec = ParamSpec {
    name: "seed",
    ty: ParamType::Int,
    default: Some("1"),
    doc: "seed of the bootstrap draws (non-negative)",
    in_key: true,
};

/// Fits the models of SPEC 7 to the study's scores.
pub struct Analyze;

impl Stage for Analyze {
    fn name(&self) -> &'static str {
        "analyze"
    }
    fn version(&self) -> u32 {
        // 2: argmin's Nelder-Mead (other last digits); rank-deficient fixed
        // effects dropped with a warning instead of failing.
        // 3: independent random effects by default (were unstructured).
        3
    }
    fn doc(&self) -> &'static str {
        "Standardises scores within dataset and fits the study's two linear mixed models \
         (Models 1 and 2) by REML (fixed effects with parametric and case bootstrap 95% \
         intervals, pairwise strategy comparisons), plus per-dataset variance components of the sources."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[RESAMPLES, SEED, RANDOM_EFFECTS]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[
            InputSpec {
                name: RUNS_SLOT,
                many: false,
                doc: "the design node: table `runs` (run_id, phase, strategy, sources, n_sources, \
                      seed); or a load_table node with contract `runs` (a study's runs made \
                      elsewhere)",
            },
            InputSpec {
                name: SCORES_SLOT,
                many: true,
                doc: "evaluate / recommend nodes: table `scores` (representation, dataset, task, \
                      repeat, metric, value); or load_table nodes with contract `scores`",
            },
        ]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "standardized",
                kind: FileKind::Table,
                doc: "the scores, standardised per dataset",
            },
            OutputSpec {
                name: "fixed_effects",
                kind: FileKind::Table,
                doc: "each model's fixed effects",
            },
            OutputSpec {
                name: "pairwise",
                kind: FileKind::Table,
                doc: "pairwise comparisons of the strategies",
            },
            OutputSpec {
                name: "variance_components",
                kind: FileKind::Table,
                doc: "the random effects' variance components",
            },
            OutputSpec {
                name: "fit",
                kind: FileKind::Json,
                doc: "the fits, in full",
            },
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let resamples = ctx.params.i64(RESAMPLES.name)?;
        let resamples = usize::try_from(resamples)
            .ok()
            .filter(|r| (1..=100_000).contains(r))
            .ok_or_else(|| StageError::Param {
                name: RESAMPLES.name.into(),
                reason: format!("{resamples} is outside 1..=100000"),
            })?;
        let seed = ctx.params.i64(SEED.name)?;
        let seed = u64::try_from(seed).map_err(|_| StageError::Param {
            name: SEED.name.into(),
            reason: format!("{seed} must be >= 0"),
        })?;
        let covariance = ctx.params.str(RANDOM_EFFECTS.name)?;
        let covariance = Covariance::parse(covariance).ok_or_else(|| StageError::Param {
            name: RANDOM_EFFECTS.name.into(),
            reason: format!(
                "unknown `{covariance}` (one of {})",
                Covariance::NAMES.join(", ")
            ),
        })?;

        let (runs, origin) = study_input(RUNS_SLOT, ctx.input(RUNS_SLOT)?, "runs")?;
        let runs = read_runs(&runs, origin)?;
        let upstreams = ctx
            .inputs
            .get(SCORES_SLOT)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if upstreams.is_empty() {
            return Err(StageError::Input {
                slot: SCORES_SLOT.into(),
                reason: "no upstream node".into(),
            });
        }
        let scores = upstreams
            .iter()
            .map(|up| study_input(SCORES_SLOT, up, "scores"))
            .collect::<Result<Vec<_>, _>>()?;
        let study = build_study(&runs, &scores)?;
        analyze(&study, covariance, resamples, seed, ctx.progress).map(|out| {
            let warnings = warnings(&out);
            let out = if warnings.is_empty() {
                out
            } else {
                out.meta("warnings", warnings)
            };
            out.meta("observations", study.observations.len())
                .meta("datasets", study.datasets.len())
                .meta("run_scores_averaged", study.run_scores)
                .meta("baseline_scores_excluded", study.baseline_scores)
                .meta("runs_without_scores", study.runs_without_scores)
                .meta("bootstrap_resamples", resamples)
                .meta("seed", seed)
                .meta("random_effects", covariance.name())
        })
    }
}

/// The study's table `name` (`runs` or `scores`) from upstream `up` of
/// `slot`: the stage's own, or a `load_table` node's (`study_table`).
fn study_input<'a>(
    slot: &'a str,
    up: &'a Upstream,
    name: &'static str,
) -> Result<(RecordBatch, Origin<'a>), StageError> {
    let error = |reason: String| StageError::Input {
        slot: slot.into(),
        reason: format!("node {}: {reason}", up.node),
    };
    let table = study_table(up, name).map_err(error)?;
    let batch = up.files.table(table).map_err(error)?;
    let origin = Origin {
        slot,
        node: &up.node,
        table,
    };
    Ok((batch, origin))
}

/// The fit file's warnings, each prefixed with where it arose, for the
/// node's `warnings` metadata (which the engine prints).
fn warnings(out: &Outputs) -> Vec<String> {
    let Some(Output::Json(fit)) = out.files.get("fit") else {
        return Vec::new();
    };
    let listed = |v: &Value| -> Vec<String> {
        v["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(String::from))
            .collect()
    };
    let mut all = Vec::new();
    for which in [Which::Model1, Which::Model2] {
        all.extend(
            listed(&fit[which.name()])
                .into_iter()
                .map(|w| format!("{}: {w}", which.name())),
        );
    }
    if let Some(datasets) = fit["variance_components"]["datasets"].as_object() {
        for (dataset, c) in datasets {
            all.extend(
                listed(c)
                    .into_iter()
                    .map(|w| format!("variance components of dataset `{dataset}`: {w}")),
            );
        }
    }
    all
}

/// One model's fit and bootstraps.
struct Analysis {
    which: Which,
    model: Model,
    fit: Fit,
    parametric: Replicates,
    case: Replicates,
}

/// The optimiser settings of the reported fits: tight, so that they are
/// the optimum to many digits (they agree with lme4's to ~1e-10).
pub fn fit_config() -> Config {
    Config::default()
}

/// The settings of bootstrap refits. They start at the fit's theta and feed
/// percentiles, not the optimum's last digits, so they stop earlier (and
/// start from a smaller simplex): on 30 parametric resamples of the
/// reference study the REML log-likelihood lands within 6e-9 of the tight
/// optimum, still far closer than lme4's default stopping rule (~1e-5
/// there).
pub fn bootstrap_config() -> Config {
    Config {
        step: 0.2,
        f_tol: 1e-9,
        max_restarts: 1,
        ..Config::default()
    }
}

/// Everything after reading: fits (Models 1 and 2 with `covariance`
/// random effects), bootstraps, tables, JSON.
pub fn analyze(
    study: &Study,
    covariance: Covariance,
    resamples: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<Outputs, StageError> {
    progress.set_total(4 * resamples as u64);
    let analyses = [Which::Model1, Which::Model2]
        .into_iter()
        .enumerate()
        .map(|(m, which)| {
            fit_model(
                study,
                which,
                covariance,
                resamples,
                seed.wrapping_add(m as u64),
                progress,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let components = components::per_dataset(study, &fit_config());
    let mut out = Outputs::default()
        .table("standardized", standardized_table(study)?)
        .table("fixed_effects", fixed_effects_table(&analyses)?)
        .table("pairwise", pairwise_table(&analyses[0])?)
        .table("variance_components", components_table(&components)?);
    out.files
        .insert("fit".into(), Output::Json(fit_json(&analyses, &components)));
    Ok(out)
}

fn fit_model(
    study: &Study,
    which: Which,
    covariance: Covariance,
    resamples: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<Analysis, StageError> {
    let rows: Vec<Row> = study.observations.iter().map(|o| (o.dataset, o)).collect();
    let (model, y) = which.build(&rows, study.datasets.len(), covariance)?;
    let fit = model
        .fit(&model.response(&y)?, None, &fit_config())
        .map_err(|e| StageError::Data(format!("{}: {e}", which.name())))?;
    let config = bootstrap_config();
    // Two independent streams: parametric and case.
    let mut seeds = crate::rng::Rng::new(seed);
    let parametric =
        bootstrap::parametric(&model, &fit, resamples, seeds.next_u64(), &config, progress);
    let groups = study.datasets.len();
    let case = bootstrap::case(groups, resamples, seeds.next_u64(), progress, |draw| {
        let rows: Vec<Row> = draw
            .iter()
            .enumerate()
            .flat_map(|(position, &d)| {
                study
                    .observations
                    .iter()
                    .filter(move |o| o.dataset == d)
                    .map(move |o| (position, o))
            })
            .collect();
        let (resampled, y) = which.build(&rows, groups, covariance)?;
        if resampled.fixed_names() != model.fixed_names() {
            return Err(StageError::Data(format!(
                "the resample's fixed effects are {:?}",
                resampled.fixed_names()
            )));
        }
        resampled.fit(&resampled.response(&y)?, Some(&fit.theta), &config)
    });
    Ok(Analysis {
        which,
        model,
        fit,
        parametric,
        case,
    })
}

fn text(values: impl IntoIterator<Item = impl AsRef<str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn float(values: impl IntoIterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(values))
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, StageError> {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), false))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )?)
}

fn standardized_table(study: &Study) -> Result<RecordBatch, StageError> {
    let obs = &study.observations;
    batch(vec![
        (
            "representation",
            text(obs.iter().map(|o| &o.representation)),
        ),
        (
            "dataset",
            text(obs.iter().map(|o| &study.datasets[o.dataset])),
        ),
        ("strategy", text(obs.iter().map(|o| o.strategy.name()))),
        (
            "sources",
            text(obs.iter().map(|o| Source::format_set(&o.sources))),
        ),
        (
            "n_sources",
            Arc::new(Int64Array::from_iter_values(
                obs.iter().map(|o| o.sources.len() as i64),
            )),
        ),
        ("n_star", float(obs.iter().map(|o| o.n_star()))),
        ("r_star", float(obs.iter().map(|o| o.r_star()))),
        ("y", float(obs.iter().map(|o| o.y))),
        ("y_star", float(obs.iter().map(|o| o.y_star))),
    ])
}

fn fixed_effects_table(analyses: &[Analysis]) -> Result<RecordBatch, StageError> {
    let mut model = Vec::new();
    let mut term = Vec::new();
    let mut cols: [Vec<f64>; 5] = Default::default();
    for a in analyses {
        for (j, name) in a.model.fixed_names().iter().enumerate() {
            let (lo, hi) = a.parametric.interval(LEVEL, |d| d[j]);
            let (case_lo, case_hi) = a.case.interval(LEVEL, |d| d[j]);
            model.push(a.which.name());
            term.push(name.as_str());
            for (col, v) in cols
                .iter_mut()
                .zip([a.fit.fixed[j], lo, hi, case_lo, case_hi])
            {
                col.push(v);
            }
        }
    }
    let [estimate, lo, hi, case_lo, case_hi] = cols;
    batch(vec![
        ("model", text(model)),
        ("term", text(term)),
        ("estimate", float(estimate)),
        ("ci_low", float(lo)),
        ("ci_high", float(hi)),
        ("case_ci_low", float(case_lo)),
        ("case_ci_high", float(case_hi)),
    ])
}

/// Model 1's b0 and b1 differences between every pair of strategies (a
/// before b in the canonical order), with parametric bootstrap intervals.
fn pairwise_table(model1: &Analysis) -> Result<RecordBatch, StageError> {
    let names = model1.model.fixed_names();
    let index = |name: &str| names.iter().position(|n| n == name);
    let mut rows: Vec<(&str, Strategy, Strategy, f64, f64, f64)> = Vec::new();
    for (effect, term) in [
        ("b0", intercept_name as fn(Strategy) -> String),
        ("b1", slope_name),
    ] {
        for (i, &a) in Strategy::ALL.iter().enumerate() {
            for &b in &Strategy::ALL[i + 1..] {
                let (Some(ja), Some(jb)) = (index(&term(a)), index(&term(b))) else {
                    continue;
                };
                let difference = model1.fit.fixed[ja] - model1.fit.fixed[jb];
                let (lo, hi) = model1.parametric.interval(LEVEL, |d| d[ja] - d[jb]);
                rows.push((effect, a, b, difference, lo, hi));
            }
        }
    }
    batch(vec![
        ("model", text(rows.iter().map(|_| Which::Model1.name()))),
        ("effect", text(rows.iter().map(|r| r.0))),
        ("a", text(rows.iter().map(|r| r.1.name()))),
        ("b", text(rows.iter().map(|r| r.2.name()))),
        ("difference", float(rows.iter().map(|r| r.3))),
        ("ci_low", float(rows.iter().map(|r| r.4))),
        ("ci_high", float(rows.iter().map(|r| r.5))),
    ])
}

fn components_table(components: &[DatasetComponents]) -> Result<RecordBatch, StageError> {
    let pairs = || {
        components
            .iter()
            .flat_map(|c| Source::ALL.iter().enumerate().map(move |(k, s)| (c, k, s)))
    };
    batch(vec![
        ("dataset", text(pairs().map(|(c, _, _)| &c.dataset))),
        ("source", text(pairs().map(|(_, _, s)| s.name()))),
        ("variance", float(pairs().map(|(c, k, _)| c.variance[k]))),
        (
            "ssr_y_star",
            float(pairs().map(|(c, k, _)| c.ssr_y_star[k])),
        ),
    ])
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn bootstrap_json(r: &Replicates) -> Value {
    json!({
        "successful": r.draws.len(),
        "failed": r.failed,
        "singular": r.singular,
        "first_failure": r.first_failure,
    })
}

fn model_json(a: &Analysis) -> Value {
    let random: Vec<Value> = a
        .model
        .terms()
        .iter()
        .zip(&a.fit.covariances)
        .map(|(term, cov)| {
            let q = term.q();
            let sd: Vec<f64> = (0..q).map(|i| cov[i * q + i].sqrt()).collect();
            let matrix = |f: &dyn Fn(usize, usize) -> f64| -> Vec<Vec<Value>> {
                (0..q)
                    .map(|i| (0..q).map(|j| number(f(i, j))).collect())
                    .collect()
            };
            json!({
                "term": term.name,
                "columns": term.columns,
                "structure": term.covariance.name(),
                "covariance": matrix(&|i, j| cov[i * q + j]),
                "sd": sd.iter().map(|v| number(*v)).collect::<Vec<_>>(),
                "correlation": matrix(&|i, j| cov[i * q + j] / (sd[i] * sd[j])),
            })
        })
        .collect();
    let fixed: Map<String, Value> = a
        .model
        .fixed_names()
        .iter()
        .zip(&a.fit.fixed)
        .map(|(n, v)| (n.clone(), number(*v)))
        .collect();
    json!({
        "n": a.model.n(),
        "reml_log_likelihood": number(a.fit.reml_log_likelihood),
        "residual_variance": number(a.fit.residual_variance),
        "fixed_effects": fixed,
        "random_effects": random,
        "theta": a.fit.theta.iter().map(|v| number(*v)).collect::<Vec<_>>(),
        "singular": a.fit.singular.is_some(),
        "singular_reason": a.fit.singular,
        "dropped_fixed_effects": a.model.dropped(),
        "warnings": a.fit.warnings,
        "optimizer": {
            "method": "argmin Nelder-Mead (adaptive expansion and shrink), restarted from the best point",
            "evaluations": a.fit.evaluations,
            "converged": a.fit.converged,
        },
        "bootstrap": {
            "level": LEVEL,
            "interval": "percentile (R quantile type 7)",
            "parametric": bootstrap_json(&a.parametric),
            "case": bootstrap_json(&a.case),
        },
    })
}

fn fit_json(analyses: &[Analysis], components: &[DatasetComponents]) -> Value {
    let mut out = Map::new();
    out.insert(
        "averaging".into(),
        json!(
            "scores are averaged over split repeats per (representation, dataset) before modelling"
        ),
    );
    for a in analyses {
        out.insert(a.which.name().into(), model_json(a));
    }
    let shares: Vec<Vec<f64>> = components
        .iter()
        .map(|c| components::shares(&c.variance))
        .collect();
    let per_dataset: Map<String, Value> = components
        .iter()
        .zip(&shares)
        .map(|(c, share)| {
            let share: Map<String, Value> = Source::ALL
                .iter()
                .zip(share)
                .map(|(s, v)| (s.name().to_string(), number(*v)))
                .collect();
            let value = json!({
                "n": c.n,
                "reml_log_likelihood": number(c.reml_log_likelihood),
                "residual_variance": number(c.residual_variance),
                "share_of_total": share,
                "singular": c.singular.is_some(),
                "singular_reason": c.singular,
                "warnings": c.warnings,
                "evaluations": c.evaluations,
                "converged": c.converged,
                "failure": c.failure,
            });
            (c.dataset.clone(), value)
        })
        .collect();
    let all_shares: Vec<f64> = shares.iter().flatten().copied().collect();
    let all_ssr: Vec<f64> = components
        .iter()
        .flat_map(|c| c.ssr_y_star.clone())
        .collect();
    let (pooled, pairs) = components::pearson(&all_shares, &all_ssr);
    let per_source: Map<String, Value> = Source::ALL
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let source_shares: Vec<f64> = shares.iter().map(|c| c[k]).collect();
            let ssr: Vec<f64> = components.iter().map(|c| c.ssr_y_star[k]).collect();
            let (r, n) = components::pearson(&source_shares, &ssr);
            (s.name().to_string(), json!({"r": number(r), "n": n}))
        })
        .collect();
    out.insert(
        "variance_components".into(),
        json!({
            "model": "per dataset, multi-source runs: y* ~ strategy + (1 | source present) for each source, REML",
            "datasets": per_dataset,
        }),
    );
    out.insert(
        "source_correlation".into(),
        json!({
            "of": "Pearson r between a source's share of its dataset's summed source components (Table 6's percent of total / 100) and the mean y* of its SS-R runs there",
            "pooled": {"r": number(pooled), "n": pairs},
            "per_source": per_source,
        }),
    );
    Value::Object(out)
}
