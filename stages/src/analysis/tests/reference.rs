//! Agreement with lme4 (tests/reference/analysis/make_reference.R) on the
//! committed simulated study. Bars: REML log-likelihood and fixed effects
//! within 1e-4, variance components within 1e-3; the criterion itself, at
//! lme4's own theta values, within 1e-8.

use serde_json::Value;

use super::support::{num, reference, runs_table, scores_table};
use crate::analysis::components::{self, per_dataset};
use crate::analysis::mixed::{Config, Fit, Model};
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

fn build(study: &Study, which: Which) -> (Model, Vec<f64>) {
    let rows: Vec<Row> = study.observations.iter().map(|o| (o.dataset, o)).collect();
    which.build(&rows, study.datasets.len()).unwrap()
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
    for which in [Which::Model1, Which::Model2] {
        let (model, y) = build(&study, which);
        let response = model.response(&y).unwrap();
        for probe in r[which.name()]["probes"].as_array().unwrap() {
            let theta: Vec<f64> = probe["theta"].as_array().unwrap().iter().map(num).collect();
            assert_eq!(theta.len(), model.theta_len());
            let ours = model.reml_deviance(&theta, &response);
            close(which.name(), ours, num(&probe["deviance"]), 1e-8);
        }
    }
}

fn check_fit(which: Which, model: &Model, fit: &Fit, expected: &Value) {
    let name = which.name();
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
    assert_eq!(theirs.len(), fit.covariances.len());
    for ((term, cov), their) in model.terms().iter().zip(&fit.covariances).zip(theirs) {
        let q = term.q();
        let m = their["matrix"].as_array().unwrap();
        for i in 0..q {
            for j in 0..q {
                close(
                    &format!("{name} {} cov[{i}][{j}]", term.name),
                    cov[i * q + j],
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
    for which in [Which::Model1, Which::Model2] {
        let (model, y) = build(&study, which);
        let fit = model
            .fit(&model.response(&y).unwrap(), None, &Config::default())
            .unwrap();
        check_fit(which, &model, &fit, &r[which.name()]);
    }
}

#[test]
fn model1_term_names_are_the_reports() {
    let study = study();
    let (model, _) = build(&study, Which::Model1);
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
        shares.extend(c.shares());
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
