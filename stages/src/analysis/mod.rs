//! Design of the study (Algorithm 2) and analysis of its scores with linear mixed models (SPEC 7).
//!
//! # Analysis
//!
//! The `analyze` stage ([`Analyze`]) reads the design's `runs` and every
//! evaluation's `scores` (or a study made elsewhere: `load_table` nodes
//! with contracts `runs` and `scores`, which hand on the same tables),
//! averages split repeats per (representation, dataset), standardises within dataset (y* = (y - mean_d) / sd_d, sample
//! sd) and fits by REML:
//!
//! * Model 1 and Model 2 ([`models`]) with parametric and case bootstrap
//!   95% percentile intervals ([`bootstrap`]) and Model 1's pairwise
//!   strategy differences; their random effects have independent
//!   variances as in the paper's equations (`random_effects:
//!   independent`, the default) or an unstructured covariance
//!   (`unstructured`);
//! * per dataset, the sources' variance components ([`components`]) and
//!   their shares ([`components::shares`], Table 6's "percent of total").
//!
//! The fitter ([`mixed`]) is lme4's profiled REML over the relative
//! covariance factors (nalgebra for the linear algebra), optimised by
//! argmin's Nelder-Mead with restarts; references from lme4 live in
//! tests/reference/analysis/. Fixed effects that are not estimable are
//! dropped with a warning (in `fit` and the node's `warnings`), as lme4
//! does.
//!
//! Outputs (fixed schemas, read by the report):
//!
//! * `standardized`: representation, dataset, strategy, sources, n_sources
//!   Int64, n_star, r_star, y, y_star (Float64); sorted by (representation,
//!   dataset).
//! * `fixed_effects`: model ("model1" | "model2"), term (model1: "b0[SS-R]",
//!   ..., "b1[MS-SR@FC]", ...; model2: "b0", "b10", "b20", "b30"), estimate,
//!   ci_low, ci_high (parametric), case_ci_low, case_ci_high.
//! * `pairwise`: model, effect ("b0" | "b1"), a, b, difference (a - b),
//!   ci_low, ci_high (parametric).
//! * `variance_components`: dataset, source, variance, ssr_y_star (NaN
//!   where not estimable / no SS-R run).
//! * `fit` (JSON): per model the REML log-likelihood, residual variance,
//!   random-effect covariances, theta, singular flag and reason, optimiser
//!   evaluations, n, bootstrap counts, each term's structure; per dataset
//!   the components' fits and shares; the share-performance correlations.

pub mod design;

pub mod bootstrap;
pub mod components;
pub mod mixed;
pub mod models;
pub mod normal;
pub mod scores;
pub mod stage;

#[cfg(test)]
mod tests;

pub use design::Design;
pub use stage::Analyze;
