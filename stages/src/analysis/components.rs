//! Variance components of the learning sources within each dataset (the
//! paper's Table 6) and their relation to the sources' SS-R performance
//! (its Fig. 14).
//!
//! Per dataset, on the multi-source runs only, the REML fit of
//! `y* ~ strategy + (1 | self) + (1 | year) + ... + (1 | artist)`, each
//! source's term grouped by its presence (two levels: with / without it).
//! A source's variance is then the variance of the performance shift that
//! having it brings, net of the strategy (fixed, since the strategy effect
//! is not what is asked here) and of the other sources (crossed). A source
//! present in all or none of a dataset's runs has no such shift to
//! estimate: its variance is NaN and it is listed in the fit.
//!
//! A dataset whose model cannot be fitted (too few multi-source runs for
//! its fixed effects, scores it fits exactly) gets NaN components and the
//! reason, rather than failing the whole analysis: Table 6 is secondary to
//! the two models.
//!
//! A source's share ([`shares`]) is Table 6's "percent of total" as a
//! fraction: its component over the sum of the dataset's source
//! components, the residual left out (each of the paper's columns sums to
//! 100 over the eight sources: Ballroom 2 + <1 + 96 + <1 + 1 + <1 + <1 + 1,
//! FMA 32 + 6 + 3 + <1 + 17 + <1 + 9 + 32). The analysis and the report
//! both use this one definition.
//!
//! The correlation with SS-R performance (the paper's 0.38, Fig. 14) is
//! Pearson's, over the (dataset, source) pairs with both numbers, of the
//! source's share and the mean y* of its SS-R runs on that dataset; per
//! source too, across datasets.

use super::mixed::{Config, Covariance, Model, RandomTerm};
use super::scores::{Observation, Study};
use crate::api::StageError;
use crate::study::{Source, Strategy};

/// One dataset's components.
#[derive(Debug, Clone)]
pub struct DatasetComponents {
    pub dataset: String,
    /// Per source in [`Source::ALL`] order; NaN where not estimable.
    pub variance: Vec<f64>,
    /// Mean y* of the source's SS-R runs here; NaN without one.
    pub ssr_y_star: Vec<f64>,
    pub residual_variance: f64,
    pub reml_log_likelihood: f64,
    pub n: usize,
    pub singular: Option<String>,
    /// The fit's warnings (a strategy column dropped as not estimable).
    pub warnings: Vec<String>,
    pub evaluations: usize,
    pub converged: bool,
    /// Why the dataset's model could not be fitted (then all NaN).
    pub failure: Option<String>,
}

/// Each source's share of one dataset's summed source components (Table
/// 6's "percent of total" / 100), from the components in any order: NaN
/// where a component is NaN (not estimable), and everywhere when the
/// finite components do not sum to more than 0 (no share to speak of).
pub fn shares(variance: &[f64]) -> Vec<f64> {
    let total: f64 = variance.iter().filter(|v| v.is_finite()).sum();
    variance
        .iter()
        .map(|v| if total > 0.0 { v / total } else { f64::NAN })
        .collect()
}

/// The components of every dataset.
pub fn per_dataset(study: &Study, config: &Config) -> Vec<DatasetComponents> {
    study
        .datasets
        .iter()
        .enumerate()
        .map(|(d, name)| {
            let here: Vec<&Observation> = study
                .observations
                .iter()
                .filter(|o| o.dataset == d)
                .collect();
            let ssr_y_star = ssr_performance(&here);
            dataset_components(name, &here, config).unwrap_or_else(|e| DatasetComponents {
                dataset: name.clone(),
                variance: vec![f64::NAN; Source::ALL.len()],
                ssr_y_star,
                residual_variance: f64::NAN,
                reml_log_likelihood: f64::NAN,
                n: here.iter().filter(|o| o.strategy != Strategy::SsR).count(),
                singular: None,
                warnings: Vec::new(),
                evaluations: 0,
                converged: false,
                failure: Some(e.to_string()),
            })
        })
        .collect()
}

/// Per source, the mean y* of its SS-R runs on one dataset (NaN: none).
fn ssr_performance(here: &[&Observation]) -> Vec<f64> {
    Source::ALL
        .iter()
        .map(|&s| {
            let ssr: Vec<f64> = here
                .iter()
                .filter(|o| o.strategy == Strategy::SsR && o.sources == [s])
                .map(|o| o.y_star)
                .collect();
            if ssr.is_empty() {
                f64::NAN
            } else {
                ssr.iter().sum::<f64>() / ssr.len() as f64
            }
        })
        .collect()
}

fn dataset_components(
    dataset: &str,
    here: &[&Observation],
    config: &Config,
) -> Result<DatasetComponents, StageError> {
    let multi: Vec<&Observation> = here
        .iter()
        .copied()
        .filter(|o| o.strategy != Strategy::SsR)
        .collect();
    let strategies: Vec<Strategy> = Strategy::ALL
        .into_iter()
        .filter(|s| multi.iter().any(|o| o.strategy == *s))
        .collect();
    // Treatment coding: an intercept, then one column per strategy but the first.
    let mut names = vec!["(intercept)".to_string()];
    names.extend(
        strategies
            .iter()
            .skip(1)
            .map(|s| format!("strategy[{}]", s.name())),
    );
    let p = names.len();
    let mut x = vec![0.0; multi.len() * p];
    for (i, o) in multi.iter().enumerate() {
        x[i * p] = 1.0;
        if let Some(k) = strategies.iter().skip(1).position(|s| *s == o.strategy) {
            x[i * p + 1 + k] = 1.0;
        }
    }
    let has = |o: &Observation, s: Source| o.sources.contains(&s);
    let estimable: Vec<Source> = Source::ALL
        .into_iter()
        .filter(|&s| multi.iter().any(|o| has(o, s)) && multi.iter().any(|o| !has(o, s)))
        .collect();
    let terms = estimable
        .iter()
        .map(|&s| RandomTerm {
            name: s.name().into(),
            columns: vec!["intercept".into()],
            covariance: Covariance::Independent,
            n_levels: 2,
            level: multi.iter().map(|o| usize::from(has(o, s))).collect(),
            z: vec![1.0; multi.len()],
        })
        .collect();
    let model = Model::new(names, x, terms)?;
    let y: Vec<f64> = multi.iter().map(|o| o.y_star).collect();
    let fit = model.fit(&model.response(&y)?, None, config)?;
    let variance = Source::ALL
        .iter()
        .map(|s| match estimable.iter().position(|e| e == s) {
            Some(k) => fit.covariances[k][0],
            None => f64::NAN,
        })
        .collect();
    Ok(DatasetComponents {
        dataset: dataset.into(),
        variance,
        ssr_y_star: ssr_performance(here),
        residual_variance: fit.residual_variance,
        reml_log_likelihood: fit.reml_log_likelihood,
        n: multi.len(),
        singular: fit.singular,
        warnings: fit.warnings,
        evaluations: fit.evaluations,
        converged: fit.converged,
        failure: None,
    })
}

/// Pearson's r over the pairs where both are finite, and how many pairs;
/// r is NaN with fewer than 3 pairs or a constant side.
pub fn pearson(a: &[f64], b: &[f64]) -> (f64, usize) {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .collect();
    let n = pairs.len();
    if n < 3 {
        return (f64::NAN, n);
    }
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n as f64,
        pairs.iter().map(|p| p.1).sum::<f64>() / n as f64,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    let r = sab / (saa * sbb).sqrt();
    (if r.is_finite() { r } else { f64::NAN }, n)
}
