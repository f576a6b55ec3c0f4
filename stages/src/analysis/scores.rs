//! The analysis's input: the design's runs joined with the evaluation
//! scores, averaged over split repeats, standardised within dataset. A
//! study made elsewhere arrives in the same tables (`load_table`'s
//! contracts `runs` and `scores`).
//!
//! Averaging first: the models of SPEC 7 describe one score per
//! (representation, dataset); the split repeats only estimate it, and
//! modelling them as independent observations would overstate the evidence
//! fivefold. A mean sums its repeats in repeat order, whatever the order of
//! the rows. Scores of representations that are not runs of the design (the
//! baselines "mfcc", "rand:...") are left out and counted.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};

use crate::api::StageError;
use crate::study::{Source, Strategy};

/// One run of the design, as the analysis needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub strategy: Strategy,
    /// Canonical order.
    pub sources: Vec<Source>,
}

/// One modelled score: a run on a dataset, averaged over split repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub representation: String,
    /// Index into [`Study::datasets`].
    pub dataset: usize,
    pub strategy: Strategy,
    pub sources: Vec<Source>,
    pub y: f64,
    /// (y - mean_d) / sd_d, sample sd, over the dataset's observations.
    pub y_star: f64,
}

impl Observation {
    /// n* = 0 for SS-R, n - 2 otherwise.
    pub fn n_star(&self) -> f64 {
        match self.strategy {
            Strategy::SsR => 0.0,
            _ => self.sources.len() as f64 - 2.0,
        }
    }

    /// Model 2's ordinal strategy.
    pub fn r_star(&self) -> f64 {
        self.strategy.ordinal()
    }
}

/// Everything the models are fitted to.
#[derive(Debug, Clone)]
pub struct Study {
    /// Sorted.
    pub datasets: Vec<String>,
    /// Sorted by (representation, dataset).
    pub observations: Vec<Observation>,
    /// Score rows of representations that are not runs (baselines).
    pub baseline_scores: usize,
    /// Score rows averaged into the observations.
    pub run_scores: usize,
    /// Runs of the design with no score at all.
    pub runs_without_scores: usize,
}

/// Where a table comes from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub slot: &'a str,
    pub node: &'a str,
    pub table: &'a str,
}

impl Origin<'_> {
    pub fn error(&self, reason: impl std::fmt::Display) -> StageError {
        StageError::Input {
            slot: self.slot.into(),
            reason: format!("node {}, table `{}`: {reason}", self.node, self.table),
        }
    }

    fn row_error(&self, row: usize, reason: impl std::fmt::Display) -> StageError {
        self.error(format_args!("row {row}: {reason}"))
    }

    fn text<'b>(
        &self,
        batch: &'b RecordBatch,
        column: &str,
    ) -> Result<&'b StringArray, StageError> {
        self.column(batch, column)?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| self.error(format_args!("column `{column}` must be Utf8")))
    }

    fn int<'b>(&self, batch: &'b RecordBatch, column: &str) -> Result<&'b Int64Array, StageError> {
        self.column(batch, column)?
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| self.error(format_args!("column `{column}` must be Int64")))
    }

    fn float<'b>(
        &self,
        batch: &'b RecordBatch,
        column: &str,
    ) -> Result<&'b Float64Array, StageError> {
        self.column(batch, column)?
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| self.error(format_args!("column `{column}` must be Float64")))
    }

    fn column<'b>(
        &self,
        batch: &'b RecordBatch,
        column: &str,
    ) -> Result<&'b dyn Array, StageError> {
        batch
            .column_by_name(column)
            .map(|c| c.as_ref())
            .ok_or_else(|| self.error(format_args!("missing column `{column}`")))
    }

    fn non_null<A: Array + ?Sized>(
        &self,
        array: &A,
        column: &str,
        row: usize,
    ) -> Result<(), StageError> {
        if array.is_null(row) {
            Err(self.row_error(row, format_args!("`{column}` is null")))
        } else {
            Ok(())
        }
    }
}

/// Reads the design's `runs` table (run_id, strategy, sources, n_sources;
/// other columns are not needed here).
pub fn read_runs(batch: &RecordBatch, origin: Origin) -> Result<BTreeMap<String, Run>, StageError> {
    let ids = origin.text(batch, "run_id")?;
    let strategies = origin.text(batch, "strategy")?;
    let sources = origin.text(batch, "sources")?;
    let counts = origin.int(batch, "n_sources")?;
    let mut runs = BTreeMap::new();
    for row in 0..batch.num_rows() {
        origin.non_null(ids, "run_id", row)?;
        origin.non_null(strategies, "strategy", row)?;
        origin.non_null(sources, "sources", row)?;
        origin.non_null(counts, "n_sources", row)?;
        let id = ids.value(row);
        let at = |reason: String| origin.row_error(row, format_args!("run `{id}`: {reason}"));
        let strategy: Strategy = strategies.value(row).parse().map_err(at)?;
        let set = Source::parse_set(sources.value(row)).map_err(at)?;
        let n = counts.value(row);
        if n != set.len() as i64 {
            return Err(at(format!(
                "n_sources is {n} but sources `{}` names {}",
                sources.value(row),
                set.len()
            )));
        }
        if (strategy == Strategy::SsR) != (set.len() == 1) {
            return Err(at(format!(
                "strategy {strategy} with {} sources (SS-R runs have exactly one, the others at least two)",
                set.len()
            )));
        }
        let run = Run {
            strategy,
            sources: set,
        };
        if runs.insert(id.to_string(), run).is_some() {
            return Err(at("duplicate run_id".into()));
        }
    }
    Ok(runs)
}

/// Per (representation, dataset): the scores by repeat.
#[derive(Default)]
struct Accumulator {
    repeats: BTreeMap<(String, String), BTreeMap<i64, f64>>,
    metric_of_dataset: HashMap<String, String>,
    seen: HashMap<(String, String, i64), (usize, usize)>,
    baseline_scores: usize,
    run_scores: usize,
}

impl Accumulator {
    /// Adds one `scores` table (table index `t`, for duplicate reports).
    fn add(
        &mut self,
        t: usize,
        batch: &RecordBatch,
        origin: Origin,
        runs: &BTreeMap<String, Run>,
    ) -> Result<(), StageError> {
        let reps = origin.text(batch, "representation")?;
        let datasets = origin.text(batch, "dataset")?;
        let repeats = origin.int(batch, "repeat")?;
        let metrics = origin.text(batch, "metric")?;
        let values = origin.float(batch, "value")?;
        for row in 0..batch.num_rows() {
            origin.non_null(reps, "representation", row)?;
            let rep = reps.value(row);
            if !runs.contains_key(rep) {
                self.baseline_scores += 1;
                continue;
            }
            origin.non_null(datasets, "dataset", row)?;
            origin.non_null(repeats, "repeat", row)?;
            origin.non_null(metrics, "metric", row)?;
            origin.non_null(values, "value", row)?;
            let (dataset, metric, value) =
                (datasets.value(row), metrics.value(row), values.value(row));
            let at = |reason: String| {
                origin.row_error(
                    row,
                    format_args!("representation `{rep}`, dataset `{dataset}`: {reason}"),
                )
            };
            if !value.is_finite() {
                return Err(at(format!("value is {value}")));
            }
            match self.metric_of_dataset.get(dataset) {
                Some(m) if m != metric => {
                    return Err(at(format!(
                        "metric `{metric}`, but the dataset's other scores are `{m}` \
                         (one metric per dataset is modelled)"
                    )))
                }
                Some(_) => {}
                None => {
                    self.metric_of_dataset.insert(dataset.into(), metric.into());
                }
            }
            let repeat = repeats.value(row);
            let key = (rep.to_string(), dataset.to_string(), repeat);
            if let Some((t0, r0)) = self.seen.insert(key, (t, row)) {
                return Err(at(format!(
                    "repeat {repeat} is scored twice (also row {r0} of scores table {t0})"
                )));
            }
            self.repeats
                .entry((rep.into(), dataset.into()))
                .or_default()
                .insert(repeat, value);
            self.run_scores += 1;
        }
        Ok(())
    }
}

/// Joins the scores tables with the runs, averages repeats and
/// standardises within dataset.
pub fn build_study(
    runs: &BTreeMap<String, Run>,
    scores: &[(RecordBatch, Origin)],
) -> Result<Study, StageError> {
    let mut acc = Accumulator::default();
    for (t, (batch, origin)) in scores.iter().enumerate() {
        acc.add(t, batch, *origin, runs)?;
    }
    let datasets: Vec<String> = {
        let mut d: Vec<String> = acc.metric_of_dataset.keys().cloned().collect();
        d.sort();
        d
    };
    if datasets.len() < 2 {
        return Err(StageError::Data(format!(
            "the scores cover {} dataset(s) with run scores; the models need at least 2",
            datasets.len()
        )));
    }
    let index: HashMap<&str, usize> = datasets
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut observations: Vec<Observation> = acc
        .repeats
        .iter()
        .map(|((rep, dataset), repeats)| {
            let run = &runs[rep];
            let sum = repeats.values().fold(0.0, |sum, v| sum + v);
            Observation {
                representation: rep.clone(),
                dataset: index[dataset.as_str()],
                strategy: run.strategy,
                sources: run.sources.clone(),
                y: sum / repeats.len() as f64,
                y_star: f64::NAN,
            }
        })
        .collect();
    standardise(&mut observations, &datasets)?;
    let scored: std::collections::HashSet<&str> = observations
        .iter()
        .map(|o| o.representation.as_str())
        .collect();
    Ok(Study {
        runs_without_scores: runs.len() - scored.len(),
        datasets,
        observations,
        baseline_scores: acc.baseline_scores,
        run_scores: acc.run_scores,
    })
}

/// y* = (y - mean_d) / sd_d with the sample sd of dataset d.
fn standardise(observations: &mut [Observation], datasets: &[String]) -> Result<(), StageError> {
    let mut sums = vec![(0.0, 0.0, 0usize); datasets.len()];
    for o in observations.iter() {
        let s = &mut sums[o.dataset];
        s.0 += o.y;
        s.2 += 1;
    }
    for o in observations.iter() {
        let s = &mut sums[o.dataset];
        s.1 += (o.y - s.0 / s.2 as f64).powi(2);
    }
    for (d, &(sum, ss, count)) in sums.iter().enumerate() {
        let mean = sum / count as f64;
        let sd = (ss / (count.max(2) - 1) as f64).sqrt();
        if count < 2 || sd.is_nan() || sd <= 1e-12 * mean.abs() {
            return Err(StageError::Data(format!(
                "dataset `{}`: {count} run score(s) with zero variance; cannot standardise \
                 (y* = (y - mean) / sd needs at least two different scores)",
                datasets[d]
            )));
        }
    }
    for o in observations.iter_mut() {
        let (sum, ss, count) = sums[o.dataset];
        let mean = sum / count as f64;
        o.y_star = (o.y - mean) / (ss / (count - 1) as f64).sqrt();
    }
    Ok(())
}
