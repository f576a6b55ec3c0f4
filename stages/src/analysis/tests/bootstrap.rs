//! The bootstrap: reproducible for a seed on any number of threads,
//! intervals around the estimate, and the nominal coverage on data
//! simulated from known fixed effects.

use crate::analysis::bootstrap::{case, parametric, quantile};
use crate::analysis::mixed::{Config, Covariance, Fit, Model};
use crate::analysis::models::{Row, Which};
use crate::analysis::normal::Normal;
use crate::api::{Progress, StageError};

use super::support::observations;

struct Quiet;

impl Progress for Quiet {
    fn set_total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Known Model 2 values (independent random effects): fixed effects,
/// theta (sds 0.4, 0.08, 0.1 relative to sigma = 0.5), residual variance.
fn truth() -> Fit {
    Fit {
        fixed: vec![-1.0, 1.5, 0.1, 0.05],
        theta: vec![0.8, 0.16, 0.2],
        residual_variance: 0.25,
        reml_log_likelihood: f64::NAN,
        covariances: vec![],
        singular: None,
        warnings: vec![],
        evaluations: 0,
        converged: true,
    }
}

fn model2(datasets: usize) -> Model {
    let obs = observations(datasets);
    let rows: Vec<Row> = obs.iter().map(|o| (o.dataset, o)).collect();
    Which::Model2
        .build(&rows, datasets, Covariance::Independent)
        .unwrap()
        .0
}

fn fitted(model: &Model, seed: u64) -> Fit {
    let y = model.simulate(&truth(), &mut Normal::new(seed));
    model
        .fit(&model.response(&y).unwrap(), None, &Config::default())
        .unwrap()
}

#[test]
fn quantiles_are_rs_type_7() {
    // R: quantile(c(1, 2, 3, 4, 10), c(0.025, 0.5, 0.975)) = 1.1, 3, 9.4
    let v = [1.0, 2.0, 3.0, 4.0, 10.0];
    assert!((quantile(&v, 0.025) - 1.1).abs() < 1e-12);
    assert_eq!(quantile(&v, 0.5), 3.0);
    assert!((quantile(&v, 0.975) - 9.4).abs() < 1e-12);
    assert!(quantile(&[], 0.5).is_nan());
}

#[test]
fn a_seed_fixes_the_intervals_on_any_number_of_threads() {
    let model = model2(7);
    let fit = fitted(&model, 1);
    let run = |seed| parametric(&model, &fit, 12, seed, &Config::default(), &Quiet);
    let a = run(5);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let b = single.install(|| run(5));
    assert_eq!(a.draws, b.draws);
    assert_eq!(a.draws.len(), 12);
    assert_ne!(a.draws, run(6).draws);
    for j in 0..4 {
        let (lo, hi) = a.interval(0.95, |d| d[j]);
        assert!(
            lo <= fit.fixed[j] && fit.fixed[j] <= hi,
            "term {j}: {lo} {} {hi}",
            fit.fixed[j]
        );
    }
}

#[test]
fn parametric_intervals_cover_the_true_fixed_effects() {
    // 20 studies of 7 datasets simulated from known values; each gets a
    // 60-resample parametric bootstrap. A 95% interval should miss about
    // once in 20; we allow up to 5 misses per term.
    let model = model2(7);
    let truth = truth();
    let mut misses = [0; 4];
    for study in 0..20 {
        let fit = fitted(&model, 100 + study);
        let reps = parametric(&model, &fit, 60, study, &Config::default(), &Quiet);
        assert_eq!(reps.failed, 0);
        for (j, miss) in misses.iter_mut().enumerate() {
            let (lo, hi) = reps.interval(0.95, |d| d[j]);
            *miss += usize::from(!(lo <= truth.fixed[j] && truth.fixed[j] <= hi));
        }
    }
    assert!(
        misses.iter().all(|&m| m <= 5),
        "misses per term: {misses:?}"
    );
}

#[test]
fn case_resamples_draw_groups_and_count_failures() {
    let draws = std::sync::Mutex::new(Vec::new());
    let model = model2(7);
    let fit = fitted(&model, 3);
    let reps = case(7, 30, 9, &Quiet, |draw| {
        draws.lock().unwrap().push(draw.to_vec());
        if draw.iter().all(|&g| g == draw[0]) {
            return Err(StageError::Data("one dataset only".into()));
        }
        // Stand in for a refit: the drawn groups' mean as the first effect.
        let mut f = fit.clone();
        f.fixed[0] = draw.iter().sum::<usize>() as f64 / draw.len() as f64;
        Ok(f)
    });
    let draws = draws.into_inner().unwrap();
    assert_eq!(draws.len(), 30);
    assert!(draws
        .iter()
        .all(|d| d.len() == 7 && d.iter().all(|&g| g < 7)));
    // With replacement: some draw repeats a group.
    assert!(draws.iter().any(|d| (1..7).any(|i| d[..i].contains(&d[i]))));
    assert_eq!(reps.draws.len() + reps.failed, 30);
    let again = case(7, 30, 9, &Quiet, |draw| {
        let mut f = fit.clone();
        f.fixed[0] = draw.iter().sum::<usize>() as f64 / draw.len() as f64;
        Ok(f)
    });
    let means: Vec<f64> = again.draws.iter().map(|d| d[0]).collect();
    let (lo, hi) = again.interval(0.95, |d| d[0]);
    assert!(means.iter().all(|m| (0.0..=6.0).contains(m)) && lo < hi);
    let failing = case(7, 4, 9, &Quiet, |_| Err(StageError::Data("no".into())));
    assert_eq!(failing.failed, 4);
    assert_eq!(failing.first_failure.as_deref(), Some("no"));
    assert!(failing.interval(0.95, |d| d[0]).0.is_nan());
}
