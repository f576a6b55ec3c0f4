//! The fitter's own properties: singular fits are reported, fixed effects
//! that cannot be estimated are dropped with lme4's message, malformed
//! designs are refused, independent variances are the unstructured
//! covariance with its correlations at 0, and a fit recovers the
//! parameters of data simulated from known values.

use crate::analysis::mixed::{Config, Covariance, Fit, Model, RandomTerm};
use crate::analysis::models::{Row, Which};
use crate::analysis::normal::Normal;
use crate::analysis::scores::Observation;
use crate::rng::Rng;
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
    Rng::new(h).uniform_open() - 0.5
}

#[test]
fn no_between_dataset_variation_is_singular() {
    // Every dataset sees exactly the same scores: the dataset effects'
    // variances are 0 at the optimum.
    let mut obs = observations(7);
    for o in &mut obs {
        o.y_star = o.r_star() + 0.1 * o.n_star() + jitter(&o.representation);
    }
    for covariance in [Covariance::Independent, Covariance::Unstructured] {
        for which in [Which::Model1, Which::Model2] {
            let what = format!("{} {}", which.name(), covariance.name());
            let (model, y) = which.build(&rows(&obs), 7, covariance).unwrap();
            let fit = model
                .fit(&model.response(&y).unwrap(), None, &Config::default())
                .unwrap();
            let reason = fit
                .singular
                .unwrap_or_else(|| panic!("{what}: not flagged"));
            assert!(reason.contains("is ~0"), "{what}: {reason}");
            for cov in &fit.covariances {
                assert!(cov.iter().all(|v| v.abs() < 1e-6), "{what}: {cov:?}");
            }
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
    let (model, y) = Which::Model1
        .build(&rows(&only), 7, Covariance::Unstructured)
        .unwrap();
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
    let (model, y) = Which::Model1
        .build(&rows(&obs), 7, Covariance::Independent)
        .unwrap();
    let err = model
        .fit(&model.response(&y).unwrap(), None, &Config::default())
        .unwrap_err();
    assert!(err.to_string().contains("fits the scores exactly"), "{err}");
}

/// Irregular scores with dataset, strategy and size effects.
fn scored(mut obs: Vec<Observation>) -> Vec<Observation> {
    for o in &mut obs {
        o.y_star = 0.3 * o.r_star()
            + 0.05 * o.n_star()
            + 0.2 * o.dataset as f64
            + jitter(&format!("{}{}", o.representation, o.dataset));
    }
    obs
}

#[test]
fn slopes_that_cannot_be_estimated_are_dropped_with_lme4s_message() {
    // MS-CR@2 only with n = 8: its slope column is 6 times its intercept's;
    // only with n = 2: its slope column is all zero. Either way lme4 drops
    // `b1[MS-CR@2]` and fits the rest.
    for n in [8, 2] {
        let obs = scored(
            observations(3)
                .into_iter()
                .filter(|o| o.strategy != Strategy::MsCr2 || o.sources.len() == n)
                .collect(),
        );
        let (model, y) = Which::Model1
            .build(&rows(&obs), 3, Covariance::Independent)
            .unwrap();
        assert_eq!(model.dropped(), ["b1[MS-CR@2]"], "n = {n}");
        assert_eq!(model.fixed_names().len(), 10);
        assert!(!model.fixed_names().contains(&"b1[MS-CR@2]".to_string()));
        let fit = model
            .fit(&model.response(&y).unwrap(), None, &Config::default())
            .unwrap();
        assert_eq!(fit.fixed.len(), 10);
        assert!(fit.reml_log_likelihood.is_finite());
        assert_eq!(
            fit.warnings,
            [
                "fixed-effect model matrix is rank deficient so dropping 1 column / coefficient: \
              `b1[MS-CR@2]` (each a linear combination of the columns before it)"
            ],
            "n = {n}"
        );
    }
    // The full design drops nothing and warns of nothing.
    let obs = scored(observations(3));
    let (model, y) = Which::Model1
        .build(&rows(&obs), 3, Covariance::Independent)
        .unwrap();
    assert!(model.dropped().is_empty());
    let fit = model
        .fit(&model.response(&y).unwrap(), None, &Config::default())
        .unwrap();
    assert!(fit.warnings.is_empty());
}

#[test]
fn dropping_a_column_fits_the_model_without_it() {
    // X = [1, x, 2x + 1]: the third column is dropped, and the fit is the
    // fit of [1, x] to the last digit.
    let n = 40;
    let xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
    let term = || RandomTerm {
        name: "g".into(),
        columns: vec!["intercept".into()],
        covariance: Covariance::Independent,
        n_levels: 5,
        level: (0..n).map(|i| i % 5).collect(),
        z: vec![1.0; n],
    };
    let y: Vec<f64> = (0..n)
        .map(|i| 1.0 + 0.5 * xs[i] + (i % 5) as f64 * 0.3 + jitter(&i.to_string()))
        .collect();
    let with: Vec<f64> = xs.iter().flat_map(|&x| [1.0, x, 2.0 * x + 1.0]).collect();
    let without: Vec<f64> = xs.iter().flat_map(|&x| [1.0, x]).collect();
    let names = |k: usize| ["a", "b", "c"][..k].iter().map(|s| s.to_string()).collect();
    let full = Model::new(names(3), with, vec![term()]).unwrap();
    let reduced = Model::new(names(2), without, vec![term()]).unwrap();
    assert_eq!(full.dropped(), ["c"]);
    let fit = |m: &Model| {
        m.fit(&m.response(&y).unwrap(), None, &Config::default())
            .unwrap()
    };
    let (a, b) = (fit(&full), fit(&reduced));
    assert_eq!(a.fixed, b.fixed);
    assert_eq!(a.reml_log_likelihood, b.reml_log_likelihood);
    assert_eq!(a.warnings.len(), 1);
    assert!(b.warnings.is_empty());
    // Nothing estimable at all is still an error.
    let err = Model::new(names(1), vec![0.0; n], vec![term()]).unwrap_err();
    assert!(
        err.to_string().contains("no fixed effect is estimable"),
        "{err}"
    );
}

#[test]
fn malformed_designs_are_refused() {
    let term = |level: Vec<usize>, z: Vec<f64>| RandomTerm {
        name: "g".into(),
        columns: vec!["a".into()],
        covariance: Covariance::Independent,
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
fn independent_variances_are_the_unstructured_covariance_without_correlations() {
    // The same criterion at the same factor: Model 1's (intercept, slope)
    // terms and Model 2's 3 x 3, with the off-diagonal entries of the
    // unstructured theta at 0. The independent fit is singular exactly
    // when a variance is ~0, and reports zero covariances.
    let obs = scored(observations(5));
    for which in [Which::Model1, Which::Model2] {
        let (independent, y) = which
            .build(&rows(&obs), 5, Covariance::Independent)
            .unwrap();
        let (unstructured, _) = which
            .build(&rows(&obs), 5, Covariance::Unstructured)
            .unwrap();
        let response = independent.response(&y).unwrap();
        let diagonal: Vec<f64> = (0..independent.theta_len())
            .map(|i| 0.3 + 0.1 * i as f64)
            .collect();
        let mut full = Vec::new();
        let mut at = 0;
        for term in unstructured.terms() {
            let q = term.q();
            for col in 0..q {
                full.push(diagonal[at + col]);
                full.extend(std::iter::repeat_n(0.0, q - col - 1));
            }
            at += q;
        }
        assert_eq!(full.len(), unstructured.theta_len(), "{}", which.name());
        let a = independent.reml_deviance(&diagonal, &response);
        let b = unstructured.reml_deviance(&full, &unstructured.response(&y).unwrap());
        assert!((a - b).abs() < 1e-10, "{}: {a} vs {b}", which.name());
        assert_eq!(independent.initial_theta(), vec![1.0; diagonal.len()]);

        let fit = independent
            .fit(&response, None, &Config::default())
            .unwrap();
        assert_eq!(fit.theta.len(), diagonal.len());
        assert!(fit.theta.iter().all(|t| *t >= 0.0), "{:?}", fit.theta);
        let tiny = fit.theta.iter().any(|t| *t < 1e-4);
        assert_eq!(fit.singular.is_some(), tiny, "{:?}", fit.singular);
        for (term, cov) in independent.terms().iter().zip(&fit.covariances) {
            let q = term.q();
            for i in 0..q {
                for j in (0..q).filter(|&j| j != i) {
                    assert_eq!(cov[i * q + j], 0.0, "{}", term.name);
                }
            }
        }
    }
}

#[test]
fn recovers_known_parameters_from_many_datasets() {
    // Model 2 on 150 datasets simulated from known values.
    let datasets = 150;
    let obs = observations(datasets);
    let (model, _) = Which::Model2
        .build(&rows(&obs), datasets, Covariance::Unstructured)
        .unwrap();
    // Lambda (column-major lower triangle) of a covariance with sds 0.5,
    // 0.1, 0.2 and correlations 0.3, -0.4, 0.2, in units of sigma = 0.5.
    let truth = Fit {
        fixed: vec![-1.0, 1.5, 0.1, 0.05],
        theta: vec![1.0, 0.06, -0.16, 0.190_788, 0.134_180, 0.341_168],
        residual_variance: 0.25,
        reml_log_likelihood: f64::NAN,
        covariances: vec![],
        singular: None,
        warnings: vec![],
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
