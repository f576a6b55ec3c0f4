//! Variance components: what cannot be estimated is NaN with a reason, the
//! shares are over the sources' components (Table 6), and the correlation
//! is Pearson's over the complete pairs.

use crate::analysis::components::{pearson, per_dataset, shares};
use crate::analysis::mixed::Config;
use crate::analysis::scores::{Observation, Study};
use crate::study::{Source, Strategy};

use super::support::observations;

fn study(observations: Vec<Observation>, datasets: usize) -> Study {
    Study {
        datasets: (0..datasets).map(|d| format!("d{d}")).collect(),
        observations,
        baseline_scores: 0,
        run_scores: 0,
        runs_without_scores: 0,
    }
}

/// A deterministic, irregular score.
fn score(o: &Observation, i: usize) -> f64 {
    ((i * 7919 + o.dataset * 104_729) % 1000) as f64 / 500.0 - 1.0
}

#[test]
fn a_dataset_that_cannot_be_fitted_gets_nan_and_a_reason() {
    let mut obs = observations(2);
    // Dataset 1 keeps its SS-R runs and a single multi-source run: nothing
    // is left to estimate a variance from.
    obs.retain(|o| {
        o.dataset == 0
            || o.strategy == Strategy::SsR
            || (o.strategy == Strategy::MsSrFc && o.sources.len() == 2)
    });
    for (i, o) in obs.iter_mut().enumerate() {
        o.y_star = score(o, i);
    }
    let found = per_dataset(&study(obs, 2), &Config::default());
    assert!(found[0].failure.is_none(), "{:?}", found[0].failure);
    let failure = found[1].failure.as_deref().expect("dataset 1 fails");
    assert!(failure.contains("cannot estimate"), "{failure}");
    assert!(found[1].variance.iter().all(|v| v.is_nan()));
    // Its SS-R performance is still known.
    assert!(found[1].ssr_y_star.iter().filter(|v| v.is_finite()).count() >= 4);
}

#[test]
fn a_source_in_every_run_has_no_component() {
    let mut obs = observations(1);
    for o in &mut obs {
        if o.strategy != Strategy::SsR && !o.sources.contains(&Source::Tag) {
            o.sources.push(Source::Tag);
            o.sources.sort();
        }
    }
    for (i, o) in obs.iter_mut().enumerate() {
        o.y_star = score(o, i);
    }
    let found = per_dataset(&study(obs, 1), &Config::default());
    let c = &found[0];
    assert!(c.failure.is_none(), "{:?}", c.failure);
    for (k, s) in Source::ALL.iter().enumerate() {
        assert_eq!(
            c.variance[k].is_nan(),
            *s == Source::Tag,
            "{s}: {}",
            c.variance[k]
        );
    }
    // The estimable sources' shares make up the total; tag has none.
    let share = shares(&c.variance);
    let total: f64 = share.iter().filter(|v| v.is_finite()).sum();
    assert!((total - 1.0).abs() < 1e-12, "{share:?}");
    assert!(share[Source::ALL.iter().position(|s| *s == Source::Tag).unwrap()].is_nan());
}

#[test]
fn shares_are_over_the_sources_components_only() {
    // Table 6's FMA column in percent (its `< 1` as 0.4): the shares are
    // the components over their sum, whatever the residual.
    let fma = [32.0, 6.0, 3.0, 0.4, 17.0, 0.4, 9.0, 32.0];
    let sum: f64 = fma.iter().sum();
    let scaled: Vec<f64> = fma.iter().map(|v| v * 0.01).collect();
    for (share, v) in shares(&scaled).iter().zip(fma) {
        assert!((share - v / sum).abs() < 1e-15);
    }
    let with_nan = shares(&[0.5, f64::NAN, 1.5]);
    assert_eq!(with_nan[0], 0.25);
    assert!(with_nan[1].is_nan());
    assert_eq!(with_nan[2], 0.75);
    // No component above 0: no shares.
    assert!(shares(&[0.0, 0.0, f64::NAN]).iter().all(|v| v.is_nan()));
}

#[test]
fn pearson_uses_complete_pairs() {
    // R: cor(c(1, 2, 3, 4), c(2, 4, 5, 9)) = 0.96476382123773219
    let (r, n) = pearson(&[1.0, 2.0, 3.0, 4.0, f64::NAN], &[2.0, 4.0, 5.0, 9.0, 1.0]);
    assert_eq!(n, 4);
    assert!((r - 0.964_763_821_237_732_2).abs() < 1e-14);
    assert!(pearson(&[1.0, 2.0], &[1.0, 2.0]).0.is_nan());
    assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).0.is_nan());
}
