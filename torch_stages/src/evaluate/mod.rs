//! Evaluation of representations on target datasets: splits, MLP probes, the cold-start recommender (SPEC 6).
//!
//! # Stages
//!
//! ```yaml
//! - name: eval_gtzan_mfcc
//!   stage: evaluate
//!   params: {representation: mfcc, dataset: gtzan, task: classification, table: mfcc}
//!   inputs: {features: mel_gtzan, dataset: gtzan}
//! - name: rec_lastfm_run3
//!   stage: recommend
//!   params: {representation: run3, dataset: lastfm}
//!   inputs: {features: vectors_run3_lastfm, items: lastfm, interactions: lastfm_interactions}
//! ```
//!
//! * `evaluate` (params representation, dataset, task = classification |
//!   regression, table = "vectors", repeats = 5, seed = 1): per repeat, a
//!   split ([`splits`]), features standardised on its training part
//!   ([`standardize`]), the MLP probe ([`mlp`]), accuracy or R^2 on the test
//!   part ([`metrics`]).
//! * `recommend` (same, less task, plus factors = 50, iterations = 15,
//!   alpha = 0.1, lambda_u = lambda_v = 1e-5, lambda_w = 0.1, top_k = 500):
//!   per repeat, 5% of the items held out ([`splits`], by group when the
//!   items have one), content-aware WMF on the rest ([`wmf`]), nDCG@k of
//!   the held-out items ranked for each user ([`coldstart`]).
//!
//! Both write `scores` and `splits` ([`output`]) and metadata: scheme,
//! tracks, feature_column, dim, mean, missing_tracks (+ a warning naming
//! them: dataset tracks without a representation are left out, never
//! silently); `evaluate` adds classes and per-repeat epochs, `recommend`
//! users, interactions, per-repeat user counts and unknown_interaction_rows.
//!
//! Seeds: repeat r's split comes from (seed, "evaluate/split", r), its model
//! from (seed, "mlp" or "wmf", r); with a given split the repeats share the
//! split and differ only in the model's seed. Results do not depend on
//! which stages run beside them: no global random state is used.
//!
//! Threads: `evaluate` runs its repeats concurrently on the rayon pool;
//! within a repeat, each step's products and updates are cut in two halves
//! that a core left idle can take ([`mlp`]), and each product uses
//! libtorch's intra-op threads (default: one per core). The scores are the
//! same for any number of rayon threads.

pub mod coldstart;
pub mod dataset;
pub mod features;
pub mod metrics;
pub mod mlp;
pub mod output;
pub mod probe;
pub mod splits;
mod stage;
pub mod standardize;
pub mod wmf;

#[cfg(test)]
mod tests;

pub use stage::{Evaluate, Recommend};
