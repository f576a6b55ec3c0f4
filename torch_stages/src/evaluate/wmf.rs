//! Content-aware weighted matrix factorisation fitted by alternating least
//! squares (SPEC 6; the paper's Eq. 7-9, after Hu, Koren and Volinsky 2008
//! and Liang, Zhan and Ellis 2015).
//!
//! With counts R (users x items), preference P = [R > 0], confidence
//! C = 1 + alpha R, user factors U (users x r), item factors V (items x r),
//! item features X (items x d) and the content projection W (d x r), ALS
//! minimises
//!
//! ```text
//! L = sum_ui c_ui (p_ui - u_u . v_i)^2 + lambda_U sum_u |u_u|^2
//!   + lambda_V sum_i |v_i - W^T x_i|^2 + lambda_W |W|_F^2
//! ```
//!
//! (the paper writes lambda/2 on the penalties; we follow the authors' code,
//! which has no halves: only the scale of the lambdas differs). Each block
//! update is that block's exact minimiser, so L never increases:
//!
//! * u_u = (V^T C_u V + lambda_U I)^-1 V^T C_u p_u, with V^T C_u V computed
//!   as V^T V + V^T (C_u - I) V so that a user costs O(n_u r^2), not O(items);
//! * v_i = (U^T C_i U + lambda_V I)^-1 (U^T C_i p_i + lambda_V W^T x_i);
//! * W = (lambda_V X^T X + lambda_W I)^-1 lambda_V X^T V, solved in the dual
//!   form X^T (lambda_V X X^T + lambda_W I)^-1 lambda_V V when there are
//!   fewer items than feature dimensions (same solution, smaller system).
//!   X is fixed, so the Cholesky factor is computed once per fit.
//!
//! Start: V ~ N(0, 0.01^2) from the seed, W fitted to it, U = 0; then each
//! iteration updates U, V and W in that order (as the authors' code).
//! Cold-start items get the factors W^T x_i (see [`Wmf::content_factors`]).

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rayon::prelude::*;
use thiserror::Error;

use stages::labels::csr::Csr;
use stages::rng::Rng;

/// Scale of the random start of the item factors.
const INIT_SD: f64 = 0.01;

#[derive(Debug, Error, PartialEq)]
pub enum WmfError {
    #[error("{name} = {value}: {rule}")]
    Setting {
        name: &'static str,
        value: f64,
        rule: &'static str,
    },
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("a {0} system is not positive definite (non-finite features or factors?)")]
    NotPositiveDefinite(&'static str),
}

/// The model's hyper-parameters; `Default` gives the paper's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WmfConfig {
    pub factors: usize,
    pub iterations: usize,
    pub alpha: f64,
    pub lambda_u: f64,
    pub lambda_v: f64,
    pub lambda_w: f64,
    pub seed: u64,
}

impl Default for WmfConfig {
    fn default() -> Self {
        WmfConfig {
            factors: 50,
            iterations: 15,
            alpha: 0.1,
            lambda_u: 1e-5,
            lambda_v: 1e-5,
            lambda_w: 0.1,
            seed: 0,
        }
    }
}

impl WmfConfig {
    fn check(&self) -> Result<(), WmfError> {
        let rules: [(&'static str, f64, bool, &'static str); 6] = [
            (
                "factors",
                self.factors as f64,
                self.factors >= 1,
                "must be at least 1",
            ),
            (
                "iterations",
                self.iterations as f64,
                self.iterations >= 1,
                "must be at least 1",
            ),
            (
                "alpha",
                self.alpha,
                self.alpha >= 0.0 && self.alpha.is_finite(),
                "must be finite and >= 0",
            ),
            (
                "lambda_u",
                self.lambda_u,
                self.lambda_u > 0.0 && self.lambda_u.is_finite(),
                "must be finite and > 0",
            ),
            (
                "lambda_v",
                self.lambda_v,
                self.lambda_v > 0.0 && self.lambda_v.is_finite(),
                "must be finite and > 0",
            ),
            (
                "lambda_w",
                self.lambda_w,
                self.lambda_w > 0.0 && self.lambda_w.is_finite(),
                "must be finite and > 0",
            ),
        ];
        for (name, value, ok, rule) in rules {
            if !ok {
                return Err(WmfError::Setting { name, value, rule });
            }
        }
        Ok(())
    }
}

/// A fitted model. Factors are stored one column per user or item so that
/// each is contiguous.
#[derive(Debug, Clone)]
pub struct Wmf {
    /// `[r, users]`.
    pub users: DMatrix<f64>,
    /// `[r, items]`.
    pub items: DMatrix<f64>,
    /// `[d, r]`.
    pub w: DMatrix<f64>,
    /// L at the start, then after each iteration (`iterations + 1` values).
    pub objective: Vec<f64>,
}

impl Wmf {
    /// Item factors predicted from content, W^T x_i: `[r, n]` for `x: [n, d]`.
    pub fn content_factors(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.w.tr_mul(&x.transpose())
    }
}

/// Fits the model. `counts`: users x items (zeros absent, values > 0);
/// `x`: `[items, d]`. `on_iteration` is called after each iteration.
pub fn fit(
    counts: &Csr,
    x: &DMatrix<f64>,
    config: &WmfConfig,
    on_iteration: &mut dyn FnMut(usize),
) -> Result<Wmf, WmfError> {
    config.check()?;
    if x.nrows() != counts.n_cols {
        return Err(WmfError::Shape(format!(
            "{} items have interactions but {} have features",
            counts.n_cols,
            x.nrows()
        )));
    }
    let r = config.factors;
    let by_item = counts.transpose();
    let ridge = Ridge::new(x, config.lambda_v, config.lambda_w)?;

    let mut rng = Rng::derive(config.seed, &["evaluate/wmf"]);
    let mut items = DMatrix::from_fn(r, counts.n_cols, |_, _| INIT_SD * rng.normal());
    let mut w = ridge.solve(&items);
    let mut users = DMatrix::zeros(r, counts.n_rows);
    let mut objective = vec![loss(counts, x, &users, &items, &w, config)];
    for iteration in 0..config.iterations {
        users = solve_side(counts, &items, config.alpha, config.lambda_u, None)?;
        let prior = config.lambda_v * w.tr_mul(&x.transpose());
        items = solve_side(
            &by_item,
            &users,
            config.alpha,
            config.lambda_v,
            Some(&prior),
        )?;
        w = ridge.solve(&items);
        objective.push(loss(counts, x, &users, &items, &w, config));
        on_iteration(iteration + 1);
    }
    Ok(Wmf {
        users,
        items,
        w,
        objective,
    })
}

/// The rows' factors given the other side's (`other: [r, m]`): row k solves
/// (O^T O + alpha sum_j r_kj o_j o_j^T + lambda I) f = sum_j c_kj o_j +
/// prior_k. Returns `[r, rows]`.
fn solve_side(
    rows: &Csr,
    other: &DMatrix<f64>,
    alpha: f64,
    lambda: f64,
    prior: Option<&DMatrix<f64>>,
) -> Result<DMatrix<f64>, WmfError> {
    let r = other.nrows();
    let mut gram = other * other.transpose();
    for k in 0..r {
        gram[(k, k)] += lambda;
    }
    let solved: Vec<DVector<f64>> = (0..rows.n_rows)
        .into_par_iter()
        .map(|row| {
            let (cols, values) = rows.row(row);
            let mut a = gram.clone();
            let mut b = match prior {
                Some(p) => p.column(row).into_owned(),
                None => DVector::zeros(r),
            };
            for (&j, &count) in cols.iter().zip(values) {
                let o = other.column(j as usize);
                a.ger(alpha * count, &o, &o, 1.0);
                b.axpy(1.0 + alpha * count, &o, 1.0);
            }
            Cholesky::<f64, Dyn>::new(a)
                .map(|c| c.solve(&b))
                .ok_or(WmfError::NotPositiveDefinite("factor"))
        })
        .collect::<Result<_, _>>()?;
    Ok(DMatrix::from_columns(&solved))
}

/// The W step's ridge regression, factorised once: primal
/// (lambda_V X^T X + lambda_W I) when d <= items, dual otherwise.
enum Ridge<'a> {
    Primal {
        x: &'a DMatrix<f64>,
        chol: Cholesky<f64, Dyn>,
        lambda_v: f64,
    },
    Dual {
        x: &'a DMatrix<f64>,
        chol: Cholesky<f64, Dyn>,
        lambda_v: f64,
    },
}

impl<'a> Ridge<'a> {
    fn new(x: &'a DMatrix<f64>, lambda_v: f64, lambda_w: f64) -> Result<Self, WmfError> {
        if x.ncols() <= x.nrows() {
            Ridge::primal(x, lambda_v, lambda_w)
        } else {
            Ridge::dual(x, lambda_v, lambda_w)
        }
    }

    fn primal(x: &'a DMatrix<f64>, lambda_v: f64, lambda_w: f64) -> Result<Self, WmfError> {
        let system = shifted(x.tr_mul(x) * lambda_v, lambda_w);
        let chol = Cholesky::new(system).ok_or(WmfError::NotPositiveDefinite("content"))?;
        Ok(Ridge::Primal { x, chol, lambda_v })
    }

    fn dual(x: &'a DMatrix<f64>, lambda_v: f64, lambda_w: f64) -> Result<Self, WmfError> {
        let system = shifted(x * x.transpose() * lambda_v, lambda_w);
        let chol = Cholesky::new(system).ok_or(WmfError::NotPositiveDefinite("content"))?;
        Ok(Ridge::Dual { x, chol, lambda_v })
    }

    /// W `[d, r]` for item factors `items: [r, n]`.
    fn solve(&self, items: &DMatrix<f64>) -> DMatrix<f64> {
        match self {
            Ridge::Primal { x, chol, lambda_v } => {
                chol.solve(&(x.tr_mul(&items.transpose()) * *lambda_v))
            }
            Ridge::Dual { x, chol, lambda_v } => {
                x.tr_mul(&chol.solve(&(items.transpose() * *lambda_v)))
            }
        }
    }
}

fn shifted(mut m: DMatrix<f64>, shift: f64) -> DMatrix<f64> {
    for k in 0..m.nrows() {
        m[(k, k)] += shift;
    }
    m
}

/// L of the module docs, computed in O(nnz r + (users + items) r^2 + items d r):
/// sum_ui c (p - s)^2 = sum_ui s^2 - 2 sum_nnz s + nnz + sum_nnz alpha r (1 - s)^2
/// and sum_ui s^2 = <U^T U, V^T V>.
pub fn loss(
    counts: &Csr,
    x: &DMatrix<f64>,
    users: &DMatrix<f64>,
    items: &DMatrix<f64>,
    w: &DMatrix<f64>,
    config: &WmfConfig,
) -> f64 {
    let all_squares = (users * users.transpose()).dot(&(items * items.transpose()));
    let mut observed = 0.0;
    for u in 0..counts.n_rows {
        let (cols, values) = counts.row(u);
        let user = users.column(u);
        for (&i, &count) in cols.iter().zip(values) {
            let s = user.dot(&items.column(i as usize));
            observed += -2.0 * s + 1.0 + config.alpha * count * (1.0 - s).powi(2);
        }
    }
    let content = items - w.tr_mul(&x.transpose());
    all_squares
        + observed
        + config.lambda_u * users.norm_squared()
        + config.lambda_v * content.norm_squared()
        + config.lambda_w * w.norm_squared()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users who like one of two kinds of items; features say the kind.
    fn toy(users: usize, items: usize, d: usize, seed: u64) -> (Csr, DMatrix<f64>) {
        let mut rng = Rng::new(seed);
        let kind: Vec<usize> = (0..items).map(|i| i % 2).collect();
        let x = DMatrix::from_fn(items, d, |i, k| {
            let signal = if k == 0 {
                kind[i] as f64 * 2.0 - 1.0
            } else {
                0.0
            };
            signal + 0.5 * rng.normal()
        });
        let mut triplets = Vec::new();
        for u in 0..users {
            for (i, &k) in kind.iter().enumerate() {
                let likes = k == u % 2;
                if rng.chance(if likes { 0.4 } else { 0.05 }) {
                    triplets.push((u as u32, i as u32, 1.0 + rng.below(20) as f64));
                }
            }
        }
        (Csr::from_triplets(users, items, &triplets), x)
    }

    #[test]
    fn the_objective_decreases_every_iteration() {
        for (d, items) in [(6, 40), (60, 40)] {
            let (counts, x) = toy(30, items, d, 5);
            let config = WmfConfig {
                factors: 5,
                iterations: 15,
                // Larger penalties than the paper's, so every term matters.
                lambda_u: 0.1,
                lambda_v: 0.5,
                ..WmfConfig::default()
            };
            let mut seen = 0;
            let model = fit(&counts, &x, &config, &mut |i| seen = i).unwrap();
            assert_eq!(seen, 15);
            assert_eq!(model.objective.len(), 16);
            for (t, pair) in model.objective.windows(2).enumerate() {
                assert!(
                    pair[1] <= pair[0] * (1.0 + 1e-12),
                    "d = {d}: L rose at iteration {}: {:?}",
                    t + 1,
                    model.objective
                );
            }
            let first = model.objective[0];
            let last = *model.objective.last().unwrap();
            assert!(last < 0.5 * first, "d = {d}: {first} -> {last}");
        }
    }

    #[test]
    fn the_objective_matches_its_definition() {
        let (counts, x) = toy(7, 9, 3, 2);
        let config = WmfConfig {
            factors: 2,
            lambda_u: 0.3,
            lambda_v: 0.7,
            lambda_w: 1.1,
            alpha: 0.4,
            ..WmfConfig::default()
        };
        let mut rng = Rng::new(9);
        let users = DMatrix::from_fn(2, 7, |_, _| rng.normal());
        let items = DMatrix::from_fn(2, 9, |_, _| rng.normal());
        let w = DMatrix::from_fn(3, 2, |_, _| rng.normal());
        let mut dense = DMatrix::<f64>::zeros(7, 9);
        for u in 0..7 {
            let (cols, values) = counts.row(u);
            for (&i, &c) in cols.iter().zip(values) {
                dense[(u, i as usize)] = c;
            }
        }
        let mut expected = 0.0;
        for u in 0..7 {
            for i in 0..9 {
                let p = if dense[(u, i)] > 0.0 { 1.0 } else { 0.0 };
                let c = 1.0 + config.alpha * dense[(u, i)];
                let s = users.column(u).dot(&items.column(i));
                expected += c * (p - s) * (p - s);
            }
        }
        expected += 0.3 * users.norm_squared();
        for i in 0..9 {
            let v = items.column(i) - w.transpose() * x.row(i).transpose();
            expected += 0.7 * v.norm_squared();
        }
        expected += 1.1 * w.norm_squared();
        let got = loss(&counts, &x, &users, &items, &w, &config);
        assert!(
            (got - expected).abs() < 1e-9 * expected,
            "{got} vs {expected}"
        );
    }

    #[test]
    fn primal_and_dual_ridge_agree() {
        let mut rng = Rng::new(4);
        let x = DMatrix::from_fn(8, 5, |_, _| rng.normal());
        let v = DMatrix::from_fn(3, 8, |_, _| rng.normal());
        let primal = Ridge::primal(&x, 0.3, 0.2).unwrap().solve(&v);
        let dual = Ridge::dual(&x, 0.3, 0.2).unwrap().solve(&v);
        assert!((primal - dual).abs().max() < 1e-10);
    }

    #[test]
    fn content_factors_rank_held_out_items_by_taste() {
        let (counts, x) = toy(40, 60, 4, 8);
        let model = fit(
            &counts,
            &x,
            &WmfConfig {
                factors: 4,
                ..Default::default()
            },
            &mut |_| {},
        )
        .unwrap();
        // New items of each kind, described by features alone.
        let fresh = DMatrix::from_row_slice(2, 4, &[1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0]);
        let q = model.content_factors(&fresh);
        let mut agree = 0;
        for u in 0..40 {
            let s = model.users.column(u).transpose() * &q;
            let prefers_kind_1 = s[0] > s[1];
            agree += usize::from(prefers_kind_1 == (u % 2 == 1));
        }
        assert!(agree >= 36, "{agree} of 40 users rank their kind first");
    }

    #[test]
    fn bad_settings_and_shapes_are_refused() {
        let (counts, x) = toy(5, 6, 2, 1);
        let config = WmfConfig {
            lambda_w: 0.0,
            ..Default::default()
        };
        let err = fit(&counts, &x, &config, &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                WmfError::Setting {
                    name: "lambda_w",
                    ..
                }
            ),
            "{err}"
        );
        let short = x.rows(0, 5).into_owned();
        let err = fit(&counts, &short, &WmfConfig::default(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, WmfError::Shape(_)), "{err}");
    }
}
