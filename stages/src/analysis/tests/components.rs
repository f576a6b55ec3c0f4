//! Variance components: what cannot be estimated is NaN with a reason, and
//! the correlation is Pearson's over the complete pairs.

use crate::analysis::components::{pearson, per_dataset};
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
    // The shares and the residual's share make up the total.
    let components: f64 = c.variance.iter().filter(|v| v.is_finite()).sum();
    let shares: f64 = c.shares().iter().filter(|v| v.is_finite()).sum();
    let residual_share = c.residual_variance / (c.residual_variance + components);
    assert!((shares + residual_share - 1.0).abs() < 1e-12);
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
