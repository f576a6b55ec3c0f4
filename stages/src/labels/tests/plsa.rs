use super::support::hungarian;
use crate::labels::csr::Csr;
use crate::labels::plsa::{self, fit, fit_from, init, log_likelihood, PlsaConfig, EPS};
use crate::rng::Rng;

fn config(k: usize, iterations: usize, seed: u64) -> PlsaConfig {
    PlsaConfig {
        k,
        iterations,
        seed,
        tolerance: 0.0,
    }
}

/// A random sparse count matrix, every row non-empty.
fn random_counts(n_rows: usize, n_cols: usize, per_row: usize, seed: u64) -> Csr {
    let mut rng = Rng::new(seed);
    let mut triplets = Vec::new();
    for r in 0..n_rows {
        for _ in 0..1 + rng.below(per_row) {
            let c = rng.below(n_cols);
            triplets.push((r as u32, c as u32, (1 + rng.below(5)) as f64));
        }
    }
    Csr::from_triplets(n_rows, n_cols, &triplets)
}

fn quiet() -> impl FnMut(usize, f64) {
    |_, _| {}
}

#[test]
fn log_likelihood_never_decreases() {
    let x = random_counts(300, 120, 12, 1);
    let model = fit(&x, &config(8, 80, 7), &mut quiet()).unwrap();
    let ll = &model.log_likelihood;
    assert_eq!(ll.len(), 81);
    for (i, pair) in ll.windows(2).enumerate() {
        // Only rounding may make a step look negative.
        assert!(
            pair[1] >= pair[0] - 1e-10 * pair[0].abs(),
            "iteration {}: {} -> {}",
            i + 1,
            pair[0],
            pair[1]
        );
    }
    assert!(
        ll[80] > ll[0] + 1.0,
        "EM made progress: {} -> {}",
        ll[0],
        ll[80]
    );
    let recomputed = log_likelihood(&x, &model.theta_dk, &model.phi_wk, 8);
    assert_eq!(recomputed, ll[80]);
}

#[test]
fn recovers_planted_topics() {
    const TOPICS: usize = 5;
    const ITEMS: usize = 60;
    const TRACKS: usize = 500;
    const TOKENS: usize = 150;
    let mut rng = Rng::new(2018);
    // Topic t puts most of its mass on its own block of 12 items and the
    // rest anywhere: overlapping, not disjoint, topics.
    let true_phi: Vec<Vec<f64>> = (0..TOPICS)
        .map(|t| {
            let mut row: Vec<f64> = (0..ITEMS)
                .map(|w| {
                    let own = w / (ITEMS / TOPICS) == t;
                    rng.uniform_open() * if own { 1.0 } else { 0.08 }
                })
                .collect();
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= s);
            row
        })
        .collect();
    let draw = |p: &[f64], rng: &mut Rng| {
        let mut u = rng.uniform_open();
        for (i, &pi) in p.iter().enumerate() {
            if u <= pi {
                return i;
            }
            u -= pi;
        }
        p.len() - 1
    };
    let mut triplets = Vec::new();
    for d in 0..TRACKS {
        // One main topic and a random mix of the others.
        let main = rng.below(TOPICS);
        let mut theta: Vec<f64> = (0..TOPICS)
            .map(|t| if t == main { 3.0 } else { rng.uniform_open() })
            .collect();
        let s: f64 = theta.iter().sum();
        theta.iter_mut().for_each(|v| *v /= s);
        for _ in 0..TOKENS {
            let t = draw(&theta, &mut rng);
            let w = draw(&true_phi[t], &mut rng);
            triplets.push((d as u32, w as u32, 1.0));
        }
    }
    let x = Csr::from_triplets(TRACKS, ITEMS, &triplets);
    let model = fit(&x, &config(TOPICS, 300, 11), &mut quiet()).unwrap();

    let fitted =
        |z: usize| -> Vec<f64> { (0..ITEMS).map(|w| model.phi_wk[w * TOPICS + z]).collect() };
    let cosine = |a: &[f64], b: &[f64]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        dot / (norm(a) * norm(b))
    };
    let cos: Vec<Vec<f64>> = (0..TOPICS)
        .map(|t| {
            (0..TOPICS)
                .map(|z| cosine(&true_phi[t], &fitted(z)))
                .collect()
        })
        .collect();
    let cost: Vec<Vec<f64>> = cos.iter().map(|r| r.iter().map(|c| -c).collect()).collect();
    let matched = hungarian(&cost);
    for (t, &z) in matched.iter().enumerate() {
        assert!(
            cos[t][z] > 0.9,
            "planted topic {t} ~ fitted {z}: cosine {:.3} ({cos:?})",
            cos[t][z]
        );
    }
}

#[test]
fn deterministic_for_a_seed_on_any_number_of_threads() {
    let x = random_counts(400, 150, 15, 2);
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| fit(&x, &config(6, 15, seed), &mut quiet()).unwrap())
    };
    let one = run(1, 5);
    let three = run(3, 5);
    assert_eq!(one.theta_dk, three.theta_dk);
    assert_eq!(one.phi_wk, three.phi_wk);
    assert_eq!(one.log_likelihood, three.log_likelihood);
    let other = run(3, 6);
    assert_ne!(one.theta_dk, other.theta_dk, "the seed matters");
}

#[test]
fn outputs_are_distributions() {
    for k in [7, 50, 70] {
        outputs_are_distributions_with(k);
    }
}

fn outputs_are_distributions_with(k: usize) {
    let x = random_counts(250, 90, 10, 3);
    let model = fit(&x, &config(k, 40, 1), &mut quiet()).unwrap();
    for (d, row) in model.theta_dk.chunks(k).enumerate() {
        let s: f64 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-6, "row {d} sums to {s}");
        assert!(row.iter().all(|v| *v >= 0.0));
    }
    for z in 0..k {
        let s: f64 = model.phi_wk.chunks(k).map(|row| row[z]).sum();
        assert!((s - 1.0).abs() < 1e-6, "topic {z} sums to {s}");
    }
}

/// The multiplicative two-pass update equals textbook EM with explicit
/// responsibilities P(z | d, w).
#[test]
fn matches_textbook_em() {
    // One padded lane, two lanes, and more topics than the fixed-size
    // accumulators hold (plsa.rs pads topics to lanes of 8).
    for k in [4, 13, 70] {
        matches_textbook_em_with(k);
    }
}

fn matches_textbook_em_with(k: usize) {
    let x = random_counts(30, 20, 6, 4);
    let (mut theta, mut phi) = init(x.n_rows, x.n_cols, k, 9);
    let model = fit_from(
        &x,
        theta.clone(),
        phi.clone(),
        &config(k, 5, 0),
        &mut quiet(),
    )
    .unwrap();
    for _ in 0..5 {
        let mut theta_new = vec![0.0; theta.len()];
        let mut phi_new = vec![0.0; phi.len()];
        for d in 0..x.n_rows {
            let (cols, vals) = x.row(d);
            for (&w, &n) in cols.iter().zip(vals) {
                let w = w as usize;
                let joint: Vec<f64> = (0..k).map(|z| theta[d * k + z] * phi[w * k + z]).collect();
                let total: f64 = joint.iter().sum::<f64>().max(EPS);
                for z in 0..k {
                    let responsibility = joint[z] / total;
                    theta_new[d * k + z] += n * responsibility;
                    phi_new[w * k + z] += n * responsibility;
                }
            }
        }
        for row in theta_new.chunks_mut(k) {
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= s);
        }
        for z in 0..k {
            let s: f64 = phi_new.chunks(k).map(|r| r[z]).sum();
            phi_new.chunks_mut(k).for_each(|r| r[z] /= s);
        }
        theta = theta_new;
        phi = phi_new;
    }
    let close = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * x.abs().max(1e-300) + 1e-15)
    };
    assert!(close(&theta, &model.theta_dk), "k = {k}");
    assert!(close(&phi, &model.phi_wk), "k = {k}");
}

#[test]
fn tolerance_stops_early_at_the_first_small_change() {
    let x = random_counts(200, 80, 10, 5);
    let mut seen = 0;
    let mut cfg = config(5, 500, 3);
    cfg.tolerance = 1e-5;
    let model = fit(&x, &cfg, &mut |done, _| seen = done).unwrap();
    assert!(model.converged);
    assert!(model.iterations_run < 500, "ran {}", model.iterations_run);
    assert_eq!(seen, model.iterations_run);
    // Trace entries 0..iterations_run are the likelihoods each iteration
    // started from; the stop is at the first relative change below 1e-5.
    let changes: Vec<f64> = model.log_likelihood[..model.iterations_run]
        .windows(2)
        .map(|p| (p[1] - p[0]).abs() / p[0].abs())
        .collect();
    let (last, earlier) = changes.split_last().unwrap();
    assert!(*last < 1e-5);
    assert!(earlier.iter().all(|c| *c >= 1e-5));

    let full = fit(&x, &config(5, 20, 3), &mut quiet()).unwrap();
    assert_eq!(full.iterations_run, 20);
    assert!(!full.converged);
}

#[test]
fn bad_inputs_are_errors() {
    let x = random_counts(10, 5, 3, 6);
    let err = fit(&x, &config(0, 5, 0), &mut quiet()).unwrap_err();
    assert!(err.contains("at least 1"), "{err}");

    let empty = Csr::from_triplets(0, 0, &[]);
    let err = fit(&empty, &config(3, 5, 0), &mut quiet()).unwrap_err();
    assert!(err.contains("no entries"), "{err}");

    let with_empty_row = Csr::from_triplets(3, 2, &[(0, 0, 1.0), (2, 1, 2.0)]);
    let err = fit(&with_empty_row, &config(2, 5, 0), &mut quiet()).unwrap_err();
    assert!(err.contains("row 1"), "{err}");

    let negative = Csr::from_triplets(2, 2, &[(0, 0, 1.0), (1, 1, -2.0)]);
    let err = fit(&negative, &config(2, 5, 0), &mut quiet()).unwrap_err();
    assert!(err.contains("row 1, column 1"), "{err}");

    let nan = Csr::from_triplets(2, 2, &[(0, 0, 1.0), (1, 0, f64::NAN)]);
    assert!(fit(&nan, &config(2, 5, 0), &mut quiet()).is_err());

    let err = plsa::fit_from(
        &x,
        vec![0.5; 3],
        vec![0.5; 10],
        &config(2, 5, 0),
        &mut quiet(),
    )
    .unwrap_err();
    assert!(err.contains("expected"), "{err}");
    let (theta, mut phi) = init(x.n_rows, x.n_cols, 2, 0);
    phi[3] = f64::NAN;
    let err = plsa::fit_from(&x, theta, phi, &config(2, 5, 0), &mut quiet()).unwrap_err();
    assert!(err.contains("NaN"), "{err}");
    assert_eq!(init(4, 3, 0, 0), (vec![], vec![]));
}
