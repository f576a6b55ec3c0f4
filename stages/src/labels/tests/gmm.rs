use super::support::reference;
use crate::labels::gmm::{Gmm, GmmConfig, DEFAULT_VAR_FLOOR};

fn config(k: usize, iterations: usize, seed: u64) -> GmmConfig {
    GmmConfig {
        k,
        iterations,
        seed,
        tolerance: 0.0,
        var_floor: DEFAULT_VAR_FLOOR,
    }
}

fn reference_values() -> (Vec<f64>, serde_json::Value) {
    let r = reference("gmm.json");
    let values = r["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    (values, r)
}

#[test]
fn mean_log_likelihood_within_one_percent_of_scikit_learn() {
    let (values, r) = reference_values();
    let fits = r["fits"].as_array().expect("fits");
    assert!(!fits.is_empty());
    for fit in fits {
        let k = fit["k"].as_u64().expect("k") as usize;
        let want = fit["mean_log_likelihood"].as_f64().expect("score");
        let mut cfg = config(k, 1000, 0);
        cfg.tolerance = 1e-10;
        let gmm = Gmm::fit(&values, &cfg, &mut |_, _| {}).unwrap();
        let got = gmm.log_likelihood.last().unwrap() / values.len() as f64;
        assert!(
            (got - want).abs() <= 0.01 * want.abs(),
            "k = {k}: mean log-likelihood {got} vs scikit-learn {want}"
        );
        if k == 3 {
            // The planted mixture: means 90, 122, 160.
            let want_means: Vec<f64> = fit["means"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_f64().unwrap())
                .collect();
            for (g, w) in gmm.means.iter().zip(&want_means) {
                assert!(
                    (g - w).abs() < 0.5,
                    "means {:?} vs {want_means:?}",
                    gmm.means
                );
            }
        }
    }
}

#[test]
fn posteriors_sum_to_one_and_likelihood_is_consistent() {
    let (values, _) = reference_values();
    let k = 50;
    let gmm = Gmm::fit(&values, &config(k, 60, 4), &mut |_, _| {}).unwrap();
    assert_eq!(gmm.means.len(), k);
    assert!(gmm.means.windows(2).all(|m| m[0] <= m[1]), "sorted by mean");
    let weight_sum: f64 = gmm.weights.iter().sum();
    assert!((weight_sum - 1.0).abs() < 1e-9);
    let post = gmm.posteriors(&values);
    assert_eq!(post.len(), values.len() * k);
    for (i, row) in post.chunks(k).enumerate() {
        let s: f64 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-9, "value {i}: posteriors sum to {s}");
    }
    let ll = gmm.log_likelihood_of(&values);
    let last = *gmm.log_likelihood.last().unwrap();
    assert!((ll - last).abs() < 1e-8 * ll.abs(), "{ll} vs {last}");
}

#[test]
fn deterministic_for_a_seed_on_any_number_of_threads() {
    let values: Vec<f64> = (0..20_000)
        .map(|i| ((i * 7919) % 1000) as f64 * 0.13 + (i % 3) as f64 * 40.0)
        .collect();
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| Gmm::fit(&values, &config(8, 20, seed), &mut |_, _| {}).unwrap())
    };
    let one = run(1, 3);
    let three = run(3, 3);
    assert_eq!(one.means, three.means);
    assert_eq!(one.variances, three.variances);
    assert_eq!(one.log_likelihood, three.log_likelihood);
    assert_ne!(one.means, run(1, 4).means, "the seed matters");
}

#[test]
fn collapsed_component_is_reseeded_with_a_warning() {
    let (values, _) = reference_values();
    // Component 2 starts a million units away: it explains nothing.
    let start = Gmm {
        weights: vec![0.4, 0.4, 0.2],
        means: vec![95.0, 150.0, 1e6],
        variances: vec![100.0, 100.0, 1.0],
        log_likelihood: vec![],
        iterations_run: 0,
        converged: false,
        warnings: vec![],
        reseeds: 0,
    };
    let gmm = Gmm::fit_from(&values, &start, &config(3, 200, 1), &mut |_, _| {}).unwrap();
    assert!(gmm.reseeds >= 1);
    assert!(gmm.warnings[0].contains("collapsed"), "{:?}", gmm.warnings);
    assert!(
        gmm.means.iter().all(|m| (50.0..250.0).contains(m)),
        "{:?}",
        gmm.means
    );
    assert!(gmm.weights.iter().all(|w| *w > 0.01), "{:?}", gmm.weights);
    assert!(gmm.log_likelihood.iter().all(|ll| ll.is_finite()));
}

#[test]
fn year_like_integers_stay_finite() {
    // Years repeat exactly: components may sit on one year; the floor
    // keeps every density finite.
    let values: Vec<f64> = (0..5000).map(|i| 1950.0 + ((i * 37) % 60) as f64).collect();
    let gmm = Gmm::fit(&values, &config(50, 50, 0), &mut |_, _| {}).unwrap();
    assert!(gmm.variances.iter().all(|v| *v > 0.0 && v.is_finite()));
    assert!(gmm.log_likelihood.last().unwrap().is_finite());
    for row in gmm.posteriors(&values).chunks(50) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}

#[test]
fn degenerate_values_are_errors_or_defined() {
    let quiet = &mut |_: usize, _: f64| {};
    let err = Gmm::fit(&[120.0; 100], &config(50, 10, 0), quiet).unwrap_err();
    assert!(err.contains("1 distinct value"), "{err}");
    // One distinct value and one component is a well-posed (if dull) model.
    let one = Gmm::fit(&[120.0; 100], &config(1, 10, 0), quiet).unwrap();
    assert_eq!(one.means, vec![120.0]);
    assert!(one.posteriors(&[120.0]).iter().all(|p| *p == 1.0));

    let err = Gmm::fit(&[1.0, f64::NAN, 3.0], &config(2, 10, 0), quiet).unwrap_err();
    assert!(err.contains("value 1 is NaN"), "{err}");
    assert!(Gmm::fit(&[], &config(2, 10, 0), quiet).is_err());
    assert!(Gmm::fit(&[1.0, 2.0], &config(0, 10, 0), quiet).is_err());
}
