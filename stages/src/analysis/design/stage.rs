//! The `design` stage: the budget in, the list of runs and the alias matrix
//! out.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::plan::{assess, plan_runs, AliasMatrix, DesignError, DesignParams, Run};
use crate::api::*;
use crate::study::Source;

/// More repeats than this is a typo, not a budget (each repeat trains
/// networks for days).
const MAX_REPEATS: i64 = 10_000;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "ssr_repeats",
        ty: ParamType::Int,
        default: Some("1"),
        doc: "phase 1: SS-R runs per source (paper: 6)",
        in_key: true,
    },
    ParamSpec {
        name: "multi_repeats",
        ty: ParamType::Int,
        default: Some("1"),
        doc: "phase 2: runs per multi-source strategy on all sources (paper: 5)",
        in_key: true,
    },
    ParamSpec {
        name: "greedy_runs",
        ty: ParamType::Int,
        default: Some("4"),
        doc: "phase 3: runs picked by the greedy design, Algorithm 2 (paper: 352)",
        in_key: true,
    },
    ParamSpec {
        name: "seed",
        ty: ParamType::Int,
        default: Some("1"),
        doc: "seed of the greedy picks and of the runs' training seeds (non-negative)",
        in_key: true,
    },
    ParamSpec {
        name: "sources",
        ty: ParamType::StrList,
        default: Some("[self, year, bpm, taste, tag, lyrics, cdr_tag, artist]"),
        doc: "the learning sources the design draws from",
        in_key: true,
    },
];

/// Plans the experimental runs of the study (SPEC 7).
pub struct Design;

impl Stage for Design {
    fn name(&self) -> &'static str {
        "design"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Lists the experimental runs: SS-R per source, the multi-source strategies on all \
         sources, then a greedy balanced, low-aliasing fraction of the rest (Algorithm 2)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "runs",
                kind: FileKind::Table,
                doc: "the runs: run_id, phase, strategy, sources, n_sources, seed",
            },
            OutputSpec {
                name: "alias",
                kind: FileKind::Table,
                doc: "the design's alias matrix: row, column, value",
            },
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        outputs(&DesignParams::from_params(ctx.params)?)
    }
    /// One row per run, for `foreach_rows: <design node>` templates:
    /// `run` (the id), `phase`, `strategy`, `sources` (a list),
    /// `label_sources` (the list without `self`: the sources that have a
    /// factorize node), `n_sources`, `seed`.
    fn template_rows(&self, params: &Params) -> Option<Result<Vec<TemplateRow>, StageError>> {
        let rows = DesignParams::from_params(params)
            .and_then(|p| plan_runs(&p).map_err(StageError::from))
            .map(|runs| runs.iter().map(template_row).collect());
        Some(rows)
    }
}

fn template_row(run: &Run) -> TemplateRow {
    let names = |keep: fn(&Source) -> bool| -> Vec<serde_json::Value> {
        run.sources
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.name().into())
            .collect()
    };
    let mut row = TemplateRow::new();
    row.insert("run".into(), run.id.clone().into());
    row.insert("phase".into(), run.phase.into());
    row.insert("strategy".into(), run.strategy.name().into());
    row.insert("sources".into(), names(|_| true).into());
    row.insert(
        "label_sources".into(),
        names(|s| *s != Source::SelfSupervised).into(),
    );
    row.insert("n_sources".into(), run.sources.len().into());
    row.insert("seed".into(), run.seed.into());
    row
}

impl DesignParams {
    /// Reads the `design` stage's parameters (the planner reads the same
    /// node's parameters with it to expand the training runs).
    pub fn from_params(params: &Params) -> Result<Self, StageError> {
        let count = |name: &str, max: i64| -> Result<usize, StageError> {
            let v = params.i64(name)?;
            usize::try_from(v)
                .ok()
                .filter(|_| v <= max)
                .ok_or_else(|| StageError::Param {
                    name: name.into(),
                    reason: format!("{v} is outside 0..={max}"),
                })
        };
        let sources = params
            .str_list("sources")?
            .iter()
            .map(|name| name.parse::<Source>().map_err(DesignError::UnknownSource))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DesignParams {
            ssr_repeats: count("ssr_repeats", MAX_REPEATS)?,
            multi_repeats: count("multi_repeats", MAX_REPEATS)?,
            greedy_runs: count("greedy_runs", i64::MAX)?,
            seed: count("seed", i64::MAX)? as u64,
            sources,
        })
    }
}

impl From<DesignError> for StageError {
    fn from(e: DesignError) -> Self {
        StageError::Param {
            name: e.param().into(),
            reason: e.to_string(),
        }
    }
}

/// The stage's outputs for checked parameters.
pub(super) fn outputs(p: &DesignParams) -> Result<Outputs, StageError> {
    let runs = plan_runs(p)?;
    let quality = assess(&p.sources, &runs)?;
    Ok(Outputs::default()
        .table("runs", runs_table(&runs)?)
        .table("alias", alias_table(&quality.alias)?)
        .meta("runs", runs.len())
        .meta("max_unbalance", quality.max_unbalance)
        .meta("max_abs_alias", quality.max_abs_alias)
        .meta("candidates_left", quality.candidates_left))
}

/// (run_id, phase, strategy, sources, n_sources, seed), in plan order.
fn runs_table(runs: &[Run]) -> Result<RecordBatch, StageError> {
    let int = |f: fn(&Run) -> i64| Arc::new(Int64Array::from_iter_values(runs.iter().map(f)));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(runs.iter().map(|r| &r.id))),
        int(|r| i64::from(r.phase)),
        Arc::new(StringArray::from_iter_values(
            runs.iter().map(|r| r.strategy.name()),
        )),
        Arc::new(StringArray::from_iter_values(
            runs.iter().map(|r| Source::format_set(&r.sources)),
        )),
        int(|r| r.sources.len() as i64),
        // Run seeds are below 2^63 by construction.
        int(|r| r.seed as i64),
    ];
    let schema = Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("phase", DataType::Int64, false),
        Field::new("strategy", DataType::Utf8, false),
        Field::new("sources", DataType::Utf8, false),
        Field::new("n_sources", DataType::Int64, false),
        Field::new("seed", DataType::Int64, false),
    ]);
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// The alias matrix in long form: (row, column, value), row-major.
fn alias_table(alias: &AliasMatrix) -> Result<RecordBatch, StageError> {
    let labels = &alias.labels;
    let rows = labels
        .iter()
        .flat_map(|r| labels.iter().map(move |_| r.as_str()));
    let cols = labels
        .iter()
        .flat_map(|_| labels.iter().map(String::as_str));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows)),
        Arc::new(StringArray::from_iter_values(cols)),
        Arc::new(Float64Array::from(alias.values.clone())),
    ];
    let schema = Schema::new(vec![
        Field::new("row", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
    ]);
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}
