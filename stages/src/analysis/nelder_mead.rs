//! Derivative-free minimisation for the variance parameters.
//!
//! Nelder-Mead with the dimension-adaptive coefficients of Gao and Han
//! (2012, "Implementing the Nelder-Mead simplex algorithm with adaptive
//! parameters", Comput. Optim. Appl. 51), which keep the simplex from
//! collapsing in the 3 to 16 dimensions of the study's models, restarted
//! from the best point until a restart no longer improves it (a stalled
//! simplex is the method's known failure). Our own rather than argmin's: the
//! REML criterion costs microseconds, so the optimiser's own overhead counts,
//! and the fitter needs both stopping tests (simplex size and spread of
//! values) and the restarts, with results identical on every machine.

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Offset of the initial simplex's vertices along each axis.
    pub step: f64,
    /// Converged when the vertices' values differ by at most this...
    pub f_tol: f64,
    /// ...and every vertex lies within this distance (max norm) of the best.
    pub x_tol: f64,
    /// Budget of function evaluations over all restarts.
    pub max_evaluations: usize,
    /// Restarts after the first convergence (each from the best point).
    pub max_restarts: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            step: 0.5,
            f_tol: 1e-10,
            x_tol: 1e-7,
            max_evaluations: 200_000,
            max_restarts: 3,
        }
    }
}

/// The best point found.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    pub evaluations: usize,
    /// False when the evaluation budget ran out first.
    pub converged: bool,
}

/// The objective with its evaluation budget.
struct Counted<F> {
    f: F,
    evaluations: usize,
    max: usize,
}

impl<F: FnMut(&[f64]) -> f64> Counted<F> {
    /// None once the budget is spent; non-finite values become +infinity.
    fn eval(&mut self, x: &[f64]) -> Option<f64> {
        if self.evaluations >= self.max {
            return None;
        }
        self.evaluations += 1;
        let v = (self.f)(x);
        Some(if v.is_finite() { v } else { f64::INFINITY })
    }
}

/// Minimises `f` from `x0`. Non-finite values count as +infinity, so the
/// objective may refuse a point by returning NaN.
pub fn minimize(f: impl FnMut(&[f64]) -> f64, x0: &[f64], config: &Config) -> Minimum {
    let mut objective = Counted {
        f,
        evaluations: 0,
        max: config.max_evaluations.max(1),
    };
    let f0 = objective.eval(x0).unwrap_or(f64::INFINITY);
    let mut best = (x0.to_vec(), f0);
    let mut converged = false;
    for _ in 0..=config.max_restarts {
        let (x, fx, done) = simplex_search(&mut objective, &best.0, best.1, config);
        let improvement = best.1 - fx;
        if fx < best.1 {
            best = (x, fx);
        }
        converged = done;
        if !done || improvement.is_nan() || improvement <= config.f_tol {
            break;
        }
    }
    Minimum {
        x: best.0,
        f: best.1,
        evaluations: objective.evaluations,
        converged,
    }
}

/// One simplex search from `x0` (value `f0`): the best vertex, its value,
/// and whether the stopping test was met before the budget ran out.
fn simplex_search<F: FnMut(&[f64]) -> f64>(
    objective: &mut Counted<F>,
    x0: &[f64],
    f0: f64,
    config: &Config,
) -> (Vec<f64>, f64, bool) {
    let n = x0.len();
    if n == 0 {
        return (Vec::new(), f0, true);
    }
    let nf = n as f64;
    let (alpha, beta, gamma, delta) = (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf);

    let mut vertices: Vec<Vec<f64>> = vec![x0.to_vec()];
    let mut values = vec![f0];
    // Until evaluated, a vertex counts as infinitely bad.
    for i in 0..n {
        let mut v = x0.to_vec();
        v[i] += config.step;
        vertices.push(v);
        values.push(f64::INFINITY);
    }
    macro_rules! eval_or_stop {
        ($x:expr) => {
            match objective.eval($x) {
                Some(v) => v,
                None => {
                    let best = (0..=n)
                        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
                        .unwrap_or(0);
                    return (vertices[best].clone(), values[best], false);
                }
            }
        };
    }
    for i in 1..=n {
        values[i] = eval_or_stop!(&vertices[i]);
    }
    let mut order: Vec<usize> = (0..=n).collect();
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut trial2 = vec![0.0; n];
    loop {
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let (best, worst, second_worst) = (order[0], order[n], order[n - 1]);
        let spread = values[worst] - values[best];
        let size = vertices
            .iter()
            .flat_map(|v| v.iter().zip(&vertices[best]).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if spread <= config.f_tol && size <= config.x_tol {
            return (vertices[best].clone(), values[best], true);
        }

        centroid.iter_mut().for_each(|c| *c = 0.0);
        for &i in &order[..n] {
            for (c, v) in centroid.iter_mut().zip(&vertices[i]) {
                *c += v / nf;
            }
        }
        let toward = |coef: f64, from: &[f64], out: &mut [f64]| {
            for ((o, c), w) in out.iter_mut().zip(&centroid).zip(from) {
                *o = c + coef * (c - w);
            }
        };
        toward(alpha, &vertices[worst], &mut trial);
        let f_reflect = eval_or_stop!(&trial);
        if f_reflect < values[best] {
            toward(alpha * beta, &vertices[worst], &mut trial2);
            let f_expand = eval_or_stop!(&trial2);
            if f_expand < f_reflect {
                vertices[worst].copy_from_slice(&trial2);
                values[worst] = f_expand;
            } else {
                vertices[worst].copy_from_slice(&trial);
                values[worst] = f_reflect;
            }
            continue;
        }
        if f_reflect < values[second_worst] {
            vertices[worst].copy_from_slice(&trial);
            values[worst] = f_reflect;
            continue;
        }
        // Contract: outside when the reflection beat the worst vertex.
        let outside = f_reflect < values[worst];
        let coef = if outside { alpha * gamma } else { -gamma };
        toward(coef, &vertices[worst], &mut trial2);
        let f_contract = eval_or_stop!(&trial2);
        let bar = if outside { f_reflect } else { values[worst] };
        if f_contract <= bar {
            vertices[worst].copy_from_slice(&trial2);
            values[worst] = f_contract;
            continue;
        }
        // Shrink toward the best vertex.
        let anchor = vertices[best].clone();
        for &i in &order[1..] {
            for (v, a) in vertices[i].iter_mut().zip(&anchor) {
                *v = a + delta * (*v - a);
            }
            values[i] = f64::INFINITY;
            values[i] = eval_or_stop!(&vertices[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64]) -> f64 {
        x.windows(2)
            .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
            .sum()
    }

    #[test]
    fn finds_the_rosenbrock_minimum() {
        for n in [2, 4, 8] {
            let start = vec![-1.2; n];
            let m = minimize(rosenbrock, &start, &Config::default());
            assert!(m.converged, "n = {n}");
            for (i, xi) in m.x.iter().enumerate() {
                assert!((xi - 1.0).abs() < 1e-5, "n = {n}: x[{i}] = {xi}");
            }
            assert!(m.f < 1e-10, "n = {n}: f = {}", m.f);
        }
    }

    #[test]
    fn finds_an_ill_conditioned_quadratic_minimum_in_16_dimensions() {
        let centre: Vec<f64> = (0..16).map(|i| (i as f64 * 0.37).sin()).collect();
        let f = |x: &[f64]| {
            x.iter()
                .zip(&centre)
                .enumerate()
                .map(|(i, (a, c))| 10f64.powf(i as f64 / 5.0) * (a - c).powi(2))
                .sum::<f64>()
        };
        let m = minimize(f, &[0.0; 16], &Config::default());
        assert!(m.converged);
        for (xi, ci) in m.x.iter().zip(&centre) {
            assert!((xi - ci).abs() < 1e-5, "{xi} vs {ci}");
        }
    }

    #[test]
    fn refused_points_and_budget() {
        // The objective refuses x < 0: the minimum on the boundary side is
        // approached from inside.
        let f = |x: &[f64]| {
            if x[0] < 0.0 {
                f64::NAN
            } else {
                (x[0] - 2.0).powi(2)
            }
        };
        let m = minimize(f, &[5.0], &Config::default());
        assert!((m.x[0] - 2.0).abs() < 1e-6);
        let tight = Config {
            max_evaluations: 10,
            ..Config::default()
        };
        let m = minimize(rosenbrock, &[-1.2, 1.0], &tight);
        assert!(!m.converged);
        assert_eq!(m.evaluations, 10);
        assert!(m.f <= rosenbrock(&[-1.2, 1.0]));
    }
}
