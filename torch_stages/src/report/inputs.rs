//! The report's inputs, read once into plain rows: scores, the design, the
//! analysis, the topics and the map's optional inputs (`map_inputs`). Only
//! the columns the report uses are read; a wrong type or a null in one of
//! them is an error naming where it is. Scores and runs made elsewhere
//! come from `load_table` nodes (contracts `scores` and `runs`) in the
//! same tables; such runs have no alias matrix, so theirs is computed.

use serde_json::Value;

use super::columns::Table;
use super::map_inputs::MapInputs;
use stages::analysis::design::alias_of;
use stages::api::{StageContext, StageError, Upstream};
use stages::contracts::LOADED;
pub use stages::declarations::report::{ANALYSIS, DESIGN, SCORES, TOPICS};
use stages::study::{Source, Strategy};

/// One score of one representation on one split repeat.
#[derive(Debug, Clone)]
pub struct Score {
    pub representation: String,
    pub dataset: String,
    /// The split repeat: the same splits for every representation of a
    /// dataset, so scores of one repeat can be paired.
    pub repeat: i64,
    pub metric: String,
    pub value: f64,
}

/// One run of the design.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub phase: i64,
    pub strategy: Strategy,
    pub sources: Vec<Source>,
    /// The training seed (tells apart repeats of one strategy and set);
    /// runs made elsewhere may have none.
    pub seed: Option<i64>,
}

/// One cell of the alias matrix.
#[derive(Debug, Clone)]
pub struct AliasCell {
    pub row: String,
    pub column: String,
    pub value: f64,
}

/// One standardised observation (a representation on a dataset).
#[derive(Debug, Clone)]
pub struct Standardized {
    pub dataset: String,
    pub strategy: Strategy,
    pub sources: Vec<Source>,
    pub n_sources: i64,
    pub y_star: f64,
}

/// One fixed effect with its parametric and case-bootstrap intervals.
#[derive(Debug, Clone)]
pub struct Effect {
    pub model: String,
    pub term: String,
    pub estimate: f64,
    pub ci: (f64, f64),
    pub case_ci: (f64, f64),
}

/// One pairwise difference between strategies.
#[derive(Debug, Clone)]
pub struct Pairwise {
    pub model: String,
    pub effect: String,
    pub a: String,
    pub b: String,
    pub difference: f64,
    pub ci: (f64, f64),
}

/// The variance component of one source on one dataset.
#[derive(Debug, Clone)]
pub struct Component {
    pub dataset: String,
    pub source: String,
    pub variance: f64,
    /// Standardised SS-R performance of the source there; NaN if unknown.
    pub ssr_y_star: f64,
}

/// One of the strongest items of a topic.
#[derive(Debug, Clone)]
pub struct TopItem {
    pub topic: u32,
    pub rank: u32,
    pub item: String,
}

/// The topics of one factorized source.
#[derive(Debug, Clone)]
pub struct Topics {
    pub node: String,
    /// The source's name when the node name tells it, else the node name.
    pub label: String,
    pub items: Vec<TopItem>,
}

/// Everything the report is made from.
#[derive(Debug, Clone)]
pub struct StudyInputs {
    pub score_nodes: Vec<String>,
    pub design_node: String,
    pub analysis_node: String,
    pub scores: Vec<Score>,
    pub runs: Vec<Run>,
    pub alias: Vec<AliasCell>,
    /// Whether the alias matrix was computed from runs made elsewhere
    /// (rather than read from the design node).
    pub alias_derived: bool,
    pub standardized: Vec<Standardized>,
    pub effects: Vec<Effect>,
    pub pairwise: Vec<Pairwise>,
    pub components: Vec<Component>,
    pub fit: Value,
    pub topics: Vec<Topics>,
    pub map: MapInputs,
}

impl StudyInputs {
    pub fn read(ctx: &StageContext) -> Result<Self, StageError> {
        let score_ups = many(ctx, SCORES);
        if score_ups.is_empty() {
            return Err(StageError::Input {
                slot: SCORES.into(),
                reason: "no upstream nodes: the report needs at least one scores table".into(),
            });
        }
        let mut scores = Vec::new();
        for up in score_ups {
            scores.extend(read_scores(&Table::load_study(SCORES, up, "scores")?)?);
        }
        let design = ctx.input(DESIGN)?;
        let runs_table = Table::load_study(DESIGN, design, "runs")?;
        let runs = read_runs(&runs_table)?;
        let alias_derived = runs_table.name == LOADED;
        let alias = if alias_derived {
            derived_alias(&runs)
        } else {
            read_alias(&Table::load(DESIGN, design, "alias")?)?
        };
        let analysis = ctx.input(ANALYSIS)?;
        let fit_bytes = analysis
            .files
            .bytes("fit")
            .map_err(|reason| StageError::Input {
                slot: ANALYSIS.into(),
                reason: format!("node `{}`, file `fit`: {reason}", analysis.node),
            })?;
        let fit = serde_json::from_slice(&fit_bytes).map_err(|e| StageError::Input {
            slot: ANALYSIS.into(),
            reason: format!("node `{}`, file `fit`: not JSON: {e}", analysis.node),
        })?;
        Ok(StudyInputs {
            score_nodes: score_ups.iter().map(|u| u.node.clone()).collect(),
            design_node: design.node.clone(),
            analysis_node: analysis.node.clone(),
            scores,
            runs,
            alias,
            alias_derived,
            standardized: read_standardized(&Table::load(ANALYSIS, analysis, "standardized")?)?,
            effects: read_effects(&Table::load(ANALYSIS, analysis, "fixed_effects")?)?,
            pairwise: read_pairwise(&Table::load(ANALYSIS, analysis, "pairwise")?)?,
            components: read_components(&Table::load(ANALYSIS, analysis, "variance_components")?)?,
            fit,
            topics: many(ctx, TOPICS)
                .iter()
                .map(|up| read_topics(&Table::load(TOPICS, up, "top_items")?))
                .collect::<Result<_, _>>()?,
            map: MapInputs::read(ctx)?,
        })
    }

    /// The datasets in the order they first appear in the scores.
    pub fn datasets(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for s in &self.scores {
            if !seen.contains(&s.dataset) {
                seen.push(s.dataset.clone());
            }
        }
        seen
    }
}

/// The upstreams of a `many` slot; an absent slot is an empty list.
fn many<'a>(ctx: &'a StageContext, slot: &str) -> &'a [Upstream] {
    ctx.inputs.get(slot).map(Vec::as_slice).unwrap_or_default()
}

fn pairs(t: &Table, low: &str, high: &str) -> Result<Vec<(f64, f64)>, StageError> {
    Ok(t.f64(low)?.into_iter().zip(t.f64(high)?).collect())
}

pub fn read_scores(t: &Table) -> Result<Vec<Score>, StageError> {
    let representation = t.utf8("representation")?;
    let dataset = t.utf8("dataset")?;
    let repeat = t.i64("repeat")?;
    let metric = t.utf8("metric")?;
    let value = t.f64("value")?;
    let mut rows = Vec::with_capacity(t.rows());
    for (i, representation) in representation.into_iter().enumerate() {
        if !value[i].is_finite() {
            return Err(t.error(format!(
                "column `value`, row {i}: {} is not finite",
                value[i]
            )));
        }
        rows.push(Score {
            representation,
            dataset: dataset[i].clone(),
            repeat: repeat[i],
            metric: metric[i].clone(),
            value: value[i],
        });
    }
    Ok(rows)
}

pub fn read_runs(t: &Table) -> Result<Vec<Run>, StageError> {
    let id = t.utf8("run_id")?;
    let phase = t.i64("phase")?;
    let strategy = t.parsed("strategy", str::parse::<Strategy>)?;
    let sources = t.parsed("sources", Source::parse_set)?;
    let seed = t.optional_i64("seed")?;
    Ok((0..t.rows())
        .map(|i| Run {
            id: id[i].clone(),
            phase: phase[i],
            strategy: strategy[i],
            sources: sources[i].clone(),
            seed: seed[i],
        })
        .collect())
}

/// The alias matrix of runs made elsewhere, in the design's long form
/// (row-major).
fn derived_alias(runs: &[Run]) -> Vec<AliasCell> {
    let alias = alias_of(runs.iter().map(|r| (r.strategy, r.sources.as_slice())));
    let labels = &alias.labels;
    labels
        .iter()
        .flat_map(|row| labels.iter().map(move |column| (row, column)))
        .zip(alias.values)
        .map(|((row, column), value)| AliasCell {
            row: row.clone(),
            column: column.clone(),
            value,
        })
        .collect()
}

pub fn read_alias(t: &Table) -> Result<Vec<AliasCell>, StageError> {
    let row = t.utf8("row")?;
    let column = t.utf8("column")?;
    let value = t.f64("value")?;
    Ok((0..t.rows())
        .map(|i| AliasCell {
            row: row[i].clone(),
            column: column[i].clone(),
            value: value[i],
        })
        .collect())
}

pub fn read_standardized(t: &Table) -> Result<Vec<Standardized>, StageError> {
    let dataset = t.utf8("dataset")?;
    let strategy = t.parsed("strategy", str::parse::<Strategy>)?;
    let sources = t.parsed("sources", Source::parse_set)?;
    let n_sources = t.i64("n_sources")?;
    let y_star = t.f64("y_star")?;
    Ok((0..t.rows())
        .map(|i| Standardized {
            dataset: dataset[i].clone(),
            strategy: strategy[i],
            sources: sources[i].clone(),
            n_sources: n_sources[i],
            y_star: y_star[i],
        })
        .collect())
}

pub fn read_effects(t: &Table) -> Result<Vec<Effect>, StageError> {
    let model = t.utf8("model")?;
    let term = t.utf8("term")?;
    let estimate = t.f64("estimate")?;
    let ci = pairs(t, "ci_low", "ci_high")?;
    let case_ci = pairs(t, "case_ci_low", "case_ci_high")?;
    Ok((0..t.rows())
        .map(|i| Effect {
            model: model[i].clone(),
            term: term[i].clone(),
            estimate: estimate[i],
            ci: ci[i],
            case_ci: case_ci[i],
        })
        .collect())
}

pub fn read_pairwise(t: &Table) -> Result<Vec<Pairwise>, StageError> {
    let model = t.utf8("model")?;
    let effect = t.utf8("effect")?;
    let a = t.utf8("a")?;
    let b = t.utf8("b")?;
    let difference = t.f64("difference")?;
    let ci = pairs(t, "ci_low", "ci_high")?;
    Ok((0..t.rows())
        .map(|i| Pairwise {
            model: model[i].clone(),
            effect: effect[i].clone(),
            a: a[i].clone(),
            b: b[i].clone(),
            difference: difference[i],
            ci: ci[i],
        })
        .collect())
}

pub fn read_components(t: &Table) -> Result<Vec<Component>, StageError> {
    let dataset = t.utf8("dataset")?;
    let source = t.utf8("source")?;
    let variance = t.f64("variance")?;
    let ssr_y_star = t.f64("ssr_y_star")?;
    Ok((0..t.rows())
        .map(|i| Component {
            dataset: dataset[i].clone(),
            source: source[i].clone(),
            variance: variance[i],
            ssr_y_star: ssr_y_star[i],
        })
        .collect())
}

pub fn read_topics(t: &Table) -> Result<Topics, StageError> {
    let topic = t.u32("topic")?;
    let rank = t.u32("rank")?;
    let item = t.utf8("item")?;
    Ok(Topics {
        node: t.node.to_string(),
        label: source_label(t.node),
        items: (0..t.rows())
            .map(|i| TopItem {
                topic: topic[i],
                rank: rank[i],
                item: item[i].clone(),
            })
            .collect(),
    })
}

/// "z_cdr_tag" -> "cdr_tag": the longest source name the node name is or
/// ends with (after an underscore); otherwise the node name itself.
pub fn source_label(node: &str) -> String {
    Source::ALL
        .iter()
        .map(|s| s.name())
        .filter(|name| {
            node == *name
                || node
                    .strip_suffix(name)
                    .is_some_and(|head| head.ends_with('_'))
        })
        .max_by_key(|name| name.len())
        .unwrap_or(node)
        .to_string()
}
