//! Bootstrap distributions of the fixed effects and percentile intervals.
//!
//! * Parametric (lme4's `bootMer(type = "parametric")`, `use.u = FALSE`):
//!   draw new random effects and residuals from the fitted model, refit.
//! * Case: draw datasets with replacement (the top-level units), refit;
//!   a dataset drawn twice enters as two datasets.
//!
//! Each resample has its own seed, drawn in order from the master seed, and
//! results are collected in resample order: the same seed gives the same
//! intervals on any number of threads. Refits start from the original
//! fit's theta (as lme4's `refit` does). A resample whose refit fails (its
//! design is not estimable) is counted and left out.

use rayon::prelude::*;

use super::mixed::{Config, Fit, Model};
use super::normal::Normal;
use crate::api::{Progress, StageError};
use crate::rng::Rng;

/// The fixed effects of every successful resample.
#[derive(Debug, Clone)]
pub struct Replicates {
    /// [successful resamples][fixed effect].
    pub draws: Vec<Vec<f64>>,
    pub failed: usize,
    /// Successful refits that were singular.
    pub singular: usize,
    /// The first failure's reason, for the report.
    pub first_failure: Option<String>,
}

impl Replicates {
    fn collect(results: Vec<Result<Fit, StageError>>) -> Replicates {
        let mut out = Replicates {
            draws: Vec::with_capacity(results.len()),
            failed: 0,
            singular: 0,
            first_failure: None,
        };
        for result in results {
            match result {
                Ok(fit) => {
                    out.singular += usize::from(fit.singular.is_some());
                    out.draws.push(fit.fixed);
                }
                Err(e) => {
                    out.failed += 1;
                    out.first_failure.get_or_insert_with(|| e.to_string());
                }
            }
        }
        out
    }

    /// The percentile interval of `f` of each draw.
    pub fn interval(&self, level: f64, f: impl Fn(&[f64]) -> f64) -> (f64, f64) {
        let mut values: Vec<f64> = self.draws.iter().map(|d| f(d)).collect();
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - level) / 2.0;
        (quantile(&values, tail), quantile(&values, 1.0 - tail))
    }
}

/// R's default (type 7) quantile of sorted values; NaN when empty.
pub fn quantile(sorted: &[f64], prob: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => {
            let h = (n - 1) as f64 * prob;
            let (lo, frac) = (h.floor() as usize, h - h.floor());
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + frac * (sorted[hi] - sorted[lo])
        }
    }
}

/// One seed per resample, from the master seed.
fn resample_seeds(seed: u64, resamples: usize) -> Vec<u64> {
    let mut master = Rng::new(seed);
    (0..resamples).map(|_| master.next_u64()).collect()
}

/// Parametric bootstrap of `fit` (of `model`).
pub fn parametric(
    model: &Model,
    fit: &Fit,
    resamples: usize,
    seed: u64,
    config: &Config,
    progress: &dyn Progress,
) -> Replicates {
    let results = resample_seeds(seed, resamples)
        .into_par_iter()
        .map(|s| {
            let y = model.simulate(fit, &mut Normal::new(s));
            let response = model.response(&y)?;
            let refit = model.fit(&response, Some(&fit.theta), config);
            progress.advance(1);
            refit
        })
        .collect();
    Replicates::collect(results)
}

/// Case bootstrap over `groups` top-level units: `refit(draw)` fits the
/// data of the drawn units, in draw order.
pub fn case<F>(
    groups: usize,
    resamples: usize,
    seed: u64,
    progress: &dyn Progress,
    refit: F,
) -> Replicates
where
    F: Fn(&[usize]) -> Result<Fit, StageError> + Sync,
{
    let results = resample_seeds(seed, resamples)
        .into_par_iter()
        .map(|s| {
            let mut rng = Normal::new(s);
            let draw: Vec<usize> = (0..groups).map(|_| rng.index(groups)).collect();
            let fit = refit(&draw);
            progress.advance(1);
            fit
        })
        .collect();
    Replicates::collect(results)
}
