//! The fitter's own properties: singular fits are reported, designs that
//! cannot be estimated are refused with the culprit named, and a fit
//! recovers the parameters of data simulated from known values.

use crate::analysis::mixed::{Fit, Model, RandomTerm};
use crate::analysis::models::{Row, Which};
use crate::analysis::nelder_mead::Config;
use crate::analysis::normal::Normal;
use crate::analysis::scores::Observation;
use crate::labels::rng::SplitMix64;
use crate::study::Strategy;

use super::support::observations;

fn rows(obs: &[Observation]) -> Vec<Row<'_>> {
    obs.iter().map(|o| (o.dataset, o)).collect()
}

/// A deterministic "noise" in (-0.5, 0.5] from a representation's name.
fn jitter(name: &str) -> f64 {
    let h = name
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    SplitMix64::new(h).next_open01() - 0.5
}

#[test]
fn no_between_dataset_variation_is_singular() {
    // Every dataset sees exactly the same scores: the dataset effects'
    // variances are 0 at the optimum.
    let mut obs = observations(7);
    for o in &mut obs {
        o.y_star = o.r_star() + 0.1 * o.n_star() + jitter(&o.representation);
    }
    for which in [Which::Model1, Which::Model2] {
        let (model, y) = which.build(&rows(&obs), 7).unwrap();
        let fit = model
            .fit(&model.response(&y).unwrap(), None, &Config::default())
            .unwrap();
        let reason = fit
            .singular
            .unwrap_or_else(|| panic!("{}: not flagged", which.name()));
        assert!(reason.contains("is ~0"), "{}: {reason}", which.name());
        for cov in &fit.covariances {
            assert!(
                cov.iter().all(|v| v.abs() < 1e-6),
                "{}: {cov:?}",
                which.name()
            );
        }
    }
}

#[test]
fn perfectly_correlated_random_effects_are_singular() {
    // Each dataset shifts intercept and slope together, u1 = 0.5 u0, with
    // no residual noise beyond a dataset-independent jitter: the fitted
    // 2 x 2 covariance has rank one.
    let mut obs = observations(7);
    let shift = [-1.0, 0.4, 1.3, -0.6, 0.2, 0.9, -1.2];
    for o in &mut obs {
        let u0 = shift[o.dataset];
        o.y_star =
            0.2 * o.n_star() + u0 * (1.0 + 0.5 * o.n_star()) + 0.01 * jitter(&o.representation);
    }
    let only: Vec<Observation> = obs
        .into_iter()
        .filter(|o| o.strategy == Strategy::MsCr2)
        .collect();
    let (model, y) = Which::Model1.build(&rows(&only), 7).unwrap();
    let fit = model
        .fit(&model.response(&y).unwrap(), None, &Config::default())
        .unwrap();
    let reason = fit.singular.expect("a rank-one covariance is singular");
    assert!(reason.contains("perfectly correlated"), "{reason}");
    assert!(reason.contains("intercept +1.0000"), "{reason}");
}

#[test]
fn scores_fitted_exactly_are_refused() {
    // Each dataset's scores lie exactly on its own line in n*: nothing is
    // left for the residual variance.
    let mut obs = observations(7);
    obs.retain(|o| o.strategy == Strategy::MsCr2);
    for o in &mut obs {
        o.y_star = o.dataset as f64 + (0.1 + o.dataset as f64 / 10.0) * o.n_star();
    }
    let (model, y) = Which::Model1.build(&rows(&obs), 7).unwrap();
    let err = model
        .fit(&model.response(&y).unwrap(), None, &Config::default())
        .unwrap_err();
    assert!(err.to_string().contains("fits the scores exactly"), "{err}");
}

#[test]
fn a_slope_that_cannot_be_estimated_is_named() {
    // MS-CR@2 only ever has n = 8: its slope is its intercept times 6.
    let obs: Vec<Observation> = observations(3)
        .into_iter()
        .filter(|o| o.strategy != Strategy::MsCr2 || o.sources.len() == 8)
        .collect();
    let err = Which::Model1.build(&rows(&obs), 3).unwrap_err().to_string();
    assert!(
        err.contains("model1") && err.contains("`b1[MS-CR@2]` is not estimable"),
        "{err}"
    );
}

#[test]
fn malformed_designs_are_refused() {
    let term = |level: Vec<usize>, z: Vec<f64>| RandomTerm {
        name: "g".into(),
        columns: vec!["a".into()],
        n_levels: 2,
        level,
        z,
    };
    let x = vec![1.0, 1.0, 1.0];
    let names = || vec!["b".to_string()];
    let err = Model::new(names(), x.clone(), vec![term(vec![0, 1], vec![1.0; 3])]).unwrap_err();
    assert!(err.to_string().contains("random term `g`"), "{err}");
    let err = Model::new(names(), x.clone(), vec![term(vec![0, 2, 1], vec![1.0; 3])]).unwrap_err();
    assert!(err.to_string().contains("level 2 of 2"), "{err}");
    let err = Model::new(names(), vec![1.0], vec![]).unwrap_err();
    assert!(err.to_string().contains("1 observations"), "{err}");
    let model = Model::new(names(), x, vec![term(vec![0, 1, 1], vec![1.0; 3])]).unwrap();
    assert!(model.response(&[1.0]).is_err());
    let response = model.response(&[1.0, 2.0, 3.0]).unwrap();
    assert!(model
        .fit(&response, Some(&[1.0, 2.0]), &Config::default())
        .is_err());
}

#[test]
fn recovers_known_parameters_from_many_datasets() {
    // Model 2 on 150 datasets simulated from known values.
    let datasets = 150;
    let obs = observations(datasets);
    let (model, _) = Which::Model2.build(&rows(&obs), datasets).unwrap();
    // Lambda (column-major lower triangle) of a covariance with sds 0.5,
    // 0.1, 0.2 and correlations 0.3, -0.4, 0.2, in units of sigma = 0.5.
    let truth = Fit {
        fixed: vec![-1.0, 1.5, 0.1, 0.05],
        theta: vec![1.0, 0.06, -0.16, 0.190_788, 0.134_180, 0.341_168],
        residual_variance: 0.25,
        reml_log_likelihood: f64::NAN,
        covariances: vec![],
        singular: None,
        evaluations: 0,
        converged: true,
    };
    let y = model.simulate(&truth, &mut Normal::new(11));
    let fit = model
        .fit(&model.response(&y).unwrap(), None, &Config::default())
        .unwrap();
    assert!(fit.singular.is_none(), "{:?}", fit.singular);
    for (j, (est, true_value)) in fit.fixed.iter().zip(&truth.fixed).enumerate() {
        // Standard errors here are at most ~0.045.
        assert!(
            (est - true_value).abs() < 0.15,
            "fixed {j}: {est} vs {true_value}"
        );
    }
    assert!(
        (fit.residual_variance - 0.25).abs() < 0.02,
        "{}",
        fit.residual_variance
    );
    let cov = &fit.covariances[0];
    for (i, sd) in [0.5, 0.1, 0.2].iter().enumerate() {
        let est = cov[i * 3 + i].sqrt();
        assert!((est / sd - 1.0).abs() < 0.25, "sd {i}: {est} vs {sd}");
    }
}
