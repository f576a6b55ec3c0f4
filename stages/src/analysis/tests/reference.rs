//! Agreement with lme4 (tests/reference/analysis/make_reference.R) on the
//! committed simulated study, Models 1 and 2 with each structure of their
//! random effects (independent: lme4's `||`; unstructured: `|`). Bars:
//! REML log-likelihood and fixed effects within 1e-4, variance components
//! within 1e-3; the criterion itself, at lme4's own theta values, within
//! 1e-8.

use serde_json::Value;

use super::support::{num, reference, runs_table, scores_table};
use crate::analysis::components::{self, per_dataset};
use crate::analysis::mixed::{Config, Covariance, Fit, Model};
use crate::analysis::models::{Row, Which};
use crate::analysis::scores::{build_study, read_runs, Origin, Study};
use crate::study::{Source, Strategy};

fn study() -> Study {
    let runs_batch = runs_table();
    let origin = |slot, table| Origin {
        slot,
        node: "reference",
        table,
    };
    let runs = read_runs(&runs_batch, origin("runs", "runs")).unwrap();
    build_study(&runs, &[(scores_table(), origin("scores", "scores"))]).unwrap()
}

const STRUCTURES: [Covariance; 2] = [Covariance::Independent, Covariance::Unstructured];
const MODELS: [Which; 2] = [Which::Model1, Which::Model2];

fn build(study: &Study, which: Which, covariance: Covariance) -> (Model, Vec<f64>) {
    let rows: Vec<Row> = study.observations.iter().map(|o| (o.dataset, o)).collect();
    which
        .build(&rows, study.datasets.len(), covariance)
        .unwrap()
}

/// lme4's fit of `which` with `covariance` random effects.
fn lme4_fit(r: &Value, which: Which, covariance: Covariance) -> &Value {
    &r[covariance.name()][which.name()]
}

fn close(what: &str, ours: f64, theirs: f64, tol: f64) {
    assert!(
        (ours - theirs).abs() <= tol,
        "{what}: ours {ours}, lme4 {theirs}, |diff| {:e} > {tol:e}",
        (ours - theirs).abs()
    );
}

/// lme4's fixed-effect names, in our order.
fn lme4_fixed_names(which: Which) -> Vec<&'static str> {
    match which {
        Which::Model1 => vec![
            "i_SSR", "i_MSSRFC", "i_MSCR6", "i_MSCR4", "i_MSCR2", "i_MSSCR", "s_MSSRFC", "s_MSCR6",
            "s_MSCR4", "s_MSCR2", "s_MSSCR",
        ],
        Which::Model2 => vec!["(Intercept)", "r_star", "n_star", "r_star:n_star"],
    }
}

#[test]
fn standardisation_matches() {
    let study = study();
    let r = reference();
    let s = &r["standardized"];
    let n = s["y"].as_array().unwrap().len();
    assert_eq!(study.observations.len(), n);
    assert_eq!(study.datasets.len(), 7);
    // 3 repeats of 2 baselines on 7 datasets are left out.
    assert_eq!(study.baseline_scores, 42);
    assert_eq!(study.run_scores, 3 * n);
    for (i, o) in study.observations.iter().enumerate() {
        assert_eq!(o.representation, s["representation"][i].as_str().unwrap());
        assert_eq!(study.datasets[o.dataset], s["dataset"][i].as_str().unwrap());
        close("y", o.y, num(&s["y"][i]), 1e-14);
        close("y*", o.y_star, num(&s["y_star"][i]), 1e-12);
        close("n*", o.n_star(), num(&s["n_star"][i]), 0.0);
        close("r*", o.r_star(), num(&s["r_star"][i]), 1e-15);
    }
}

#[test]
fn reml_criterion_matches_at_lme4s_theta() {
    let study = study();
    let r = reference();
    for covariance in STRUCTURES {
        for which in MODELS {
            let (model, y) = build(&study, which, covariance);
            let response = model.response(&y).unwrap();
            let what = format!("{} {}", which.name(), covariance.name());
            for probe in lme4_fit(&r, which, covariance)["probes"]
                .as_array()
                .unwrap()
            {
                let theta: Vec<f64> = probe["theta"].as_array().unwrap().iter().map(num).collect();
                assert_eq!(theta.len(), model.theta_len(), "{what}");
                let ours = model.reml_deviance(&theta, &response);
                close(&what, ours, num(&probe["deviance"]), 1e-8);
            }
        }
    }
}

/// Our covariances as lme4's VarCorr lists them: a q x q matrix per
/// unstructured term; a 1 x 1 per column of an independent term (lme4
/// splits `||` terms), whose off-diagonal covariances must be 0.
fn lme4_blocks(model: &Model, fit: &Fit) -> Vec<(String, Vec<Vec<f64>>)> {
    let mut blocks = Vec::new();
    for (term, cov) in model.terms().iter().zip(&fit.covariances) {
        let q = term.q();
        let at = |i: usize, j: usize| cov[i * q + j];
        match term.covariance {
            Covariance::Unstructured => blocks.push((
                term.name.clone(),
                (0..q).map(|i| (0..q).map(|j| at(i, j)).collect()).collect(),
            )),
            Covariance::Independent => {
                for i in 0..q {
                    assert!(
                        (0..q).all(|j| j == i || at(i, j) == 0.0),
                        "{}: {cov:?}",
                        term.name
                    );
                    let name = format!("{} {}", term.name, term.columns[i]);
                    blocks.push((name, vec![vec![at(i, i)]]));
                }
            }
        }
    }
    blocks
}

fn check_fit(which: Which, covariance: Covariance, model: &Model, fit: &Fit, expected: &Value) {
    let name = &format!("{} {}", which.name(), covariance.name());
    assert!(fit.converged, "{name}");
    close(
        &format!("{name} REML log-likelihood"),
        fit.reml_log_likelihood,
        num(&expected["reml_log_likelihood"]),
        1e-4,
    );
    for (j, lme4_name) in lme4_fixed_names(which).iter().enumerate() {
        close(
            &format!("{name} {}", model.fixed_names()[j]),
            fit.fixed[j],
            num(&expected["fixed"][lme4_name]),
            1e-4,
        );
    }
    close(
        &format!("{name} residual variance"),
        fit.residual_variance,
        num(&expected["residual_variance"]),
        1e-3,
    );
    // lme4's VarCorr lists the terms in our order (all grouped by dataset).
    let theirs: Vec<&Value> = expected["covariances"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    let ours = lme4_blocks(model, fit);
    assert_eq!(theirs.len(), ours.len(), "{name}");
    for ((block, cov), their) in ours.iter().zip(theirs) {
        let m = their["matrix"].as_array().unwrap();
        assert_eq!(m.len(), cov.len(), "{name} {block}");
        for (i, row) in cov.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                close(
                    &format!("{name} {block} cov[{i}][{j}]"),
                    *v,
                    num(&m[i][j]),
                    1e-3,
                );
            }
        }
    }
    assert_eq!(
        fit.singular.is_some(),
        expected["singular"].as_bool().unwrap(),
        "{name}: {:?}",
        fit.singular
    );
    assert_eq!(model.n(), expected["n"].as_u64().unwrap() as usize);
}

#[test]
fn model_fits_match_lme4() {
    let study = study();
    let r = reference();
    for covariance in STRUCTURES {
        for which in MODELS {
            let (model, y) = build(&study, which, covariance);
            let fit = model
                .fit(&model.response(&y).unwrap(), None, &Config::default())
                .unwrap();
            check_fit(
                which,
                covariance,
                &model,
                &fit,
                lme4_fit(&r, which, covariance),
            );
        }
    }
}

#[test]
fn model1_term_names_are_the_reports() {
    let study = study();
    let (model, _) = build(&study, Which::Model1, Covariance::Independent);
    let mut expected: Vec<String> = Strategy::ALL
        .iter()
        .map(|s| format!("b0[{}]", s.name()))
        .collect();
    expected.extend(
        Strategy::ALL[1..]
            .iter()
            .map(|s| format!("b1[{}]", s.name())),
    );
    assert_eq!(model.fixed_names(), expected.as_slice());
}

#[test]
fn variance_components_match_lme4() {
    let study = study();
    let r = reference();
    let found = per_dataset(&study, &Config::default());
    assert_eq!(found.len(), 7);
    let mut shares = Vec::new();
    let mut perf = Vec::new();
    for c in &found {
        assert!(c.failure.is_none(), "{:?}", c.failure);
        let expected = &r["components"][&c.dataset];
        let ds = &c.dataset;
        assert_eq!(c.n, expected["n"].as_u64().unwrap() as usize);
        close(
            &format!("{ds} log-lik"),
            c.reml_log_likelihood,
            num(&expected["reml_log_likelihood"]),
            1e-4,
        );
        close(
            &format!("{ds} residual"),
            c.residual_variance,
            num(&expected["residual_variance"]),
            1e-3,
        );
        for (k, s) in Source::ALL.iter().enumerate() {
            close(
                &format!("{ds} {s}"),
                c.variance[k],
                num(&expected["variance"][s.name()]),
                1e-3,
            );
            close(
                &format!("{ds} {s} SS-R y*"),
                c.ssr_y_star[k],
                num(&expected["ssr_y_star"][s.name()]),
                1e-12,
            );
        }
        shares.extend(components::shares(&c.variance));
        perf.extend(c.ssr_y_star.iter().copied());
    }
    let (r_ours, n) = components::pearson(&shares, &perf);
    assert_eq!(n, 56);
    close(
        "share-performance correlation",
        r_ours,
        num(&r["share_performance_correlation"]),
        1e-3,
    );
}
