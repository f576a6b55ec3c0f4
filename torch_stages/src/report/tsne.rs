//! Exact t-SNE (van der Maaten & Hinton 2008) for the map of Fig. 16, as
//! scikit-learn's `TSNE(method="exact")` runs it: perplexity-calibrated
//! Gaussian affinities, a Student-t kernel in 2-D, 250 iterations of early
//! exaggeration (12, momentum 0.5) then momentum 0.8, delta-bar-delta
//! gains, learning rate max(n / 48, 50), and its stopping rules.
//!
//! Why t-SNE and not UMAP: the paper's Fig. 16 is t-SNE [88], and the
//! exact method is this one file with no approximate-neighbour search. Its
//! O(n²) cost per iteration is a second or two at the paper's 1000 GTZAN
//! tracks. It starts from the data's first two principal components (not
//! from random points), so the map is a function of the vectors alone:
//! there is no seed to choose, and equal inputs give equal bytes.
//!
//! Checked against scikit-learn 1.9 (tests/tsne.rs, reference made by
//! tests/tsne_reference.py): the affinities, the objective and its gradient
//! to 1e-12, and the first 10 iterations of the descent from the same start
//! to 1e-8. A whole run is not bit-comparable: the exaggerated phase is
//! chaotic, and a change of 1e-12 in the start moves scikit-learn's own map
//! by tens of units. So the properties a map must have are tested instead:
//! well-separated clusters stay separated, the KL divergence falls, equal
//! inputs give equal maps.

use nalgebra::{DMatrix, SymmetricEigen};

/// The perplexity asked for (scikit-learn's default); fewer than 91
/// points get (n - 1) / 3, so that every point has neighbours to calibrate
/// on.
pub const PERPLEXITY: f64 = 30.0;
pub const ITERATIONS: usize = 1000;
const EXAGGERATION: f64 = 12.0;
const EXPLORATION: usize = 250;
const CHECK_EVERY: usize = 50;
const PATIENCE: usize = 300;
const MIN_GRAD_NORM: f64 = 1e-7;
const MIN_GAIN: f64 = 0.01;
const ENTROPY_TOLERANCE: f64 = 1e-5;
const EPS: f64 = f64::EPSILON;

/// A 2-D map and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub points: Vec<[f64; 2]>,
    pub perplexity: f64,
    /// (iteration, KL(P || Q)) every 50 iterations and at the end, with the
    /// true P (not the exaggerated one).
    pub kl: Vec<(usize, f64)>,
}

/// The map of the rows of `x` (`n` x `d`, row-major); needs n >= 4 so that
/// the perplexity is at least 1.
pub fn embed(x: &[f64], n: usize, d: usize) -> Embedding {
    let gram = gram(x, n, d);
    let distances: Vec<f64> = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            (gram[(i, i)] + gram[(j, j)] - 2.0 * gram[(i, j)]).max(0.0)
        })
        .collect();
    let perplexity = PERPLEXITY.min((n as f64 - 1.0) / 3.0);
    let p = joint_probabilities(&distances, n, perplexity);
    let mut embedding = optimise(&p, pca_start(gram, n), ITERATIONS);
    embedding.perplexity = perplexity;
    embedding
}

/// X Xᵀ of the centred rows.
fn gram(x: &[f64], n: usize, d: usize) -> DMatrix<f64> {
    let mut centred = DMatrix::from_row_slice(n, d, x);
    for mut column in centred.column_iter_mut() {
        let mean = column.mean();
        column.add_scalar_mut(-mean);
    }
    &centred * centred.transpose()
}

/// The first two principal components' scores (from the Gram matrix's
/// leading eigenvectors, each signed so that its largest entry is
/// positive), scaled as scikit-learn's `init="pca"`: the first has
/// standard deviation 1e-4.
fn pca_start(gram: DMatrix<f64>, n: usize) -> Vec<[f64; 2]> {
    let eigen = SymmetricEigen::new(gram);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let component = |k: usize| -> Vec<f64> {
        let v = eigen.eigenvectors.column(order[k]);
        let peak = v
            .iter()
            .copied()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        let scale = eigen.eigenvalues[order[k]].max(0.0).sqrt() * peak.signum();
        v.iter().map(|x| x * scale).collect()
    };
    let (first, second) = (component(0), component(1));
    let mean = first.iter().sum::<f64>() / n as f64;
    let sd = (first.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    let scale = if sd > 0.0 { 1e-4 / sd } else { 1.0 };
    first
        .iter()
        .zip(&second)
        .map(|(a, b)| [a * scale, b * scale])
        .collect()
}

/// The symmetric affinities P (`n` x `n`, row-major, summing to 1) from
/// squared distances: each point's Gaussian bandwidth found by bisection so
/// that its conditional distribution has the given perplexity
/// (scikit-learn's `_joint_probabilities`).
pub fn joint_probabilities(distances: &[f64], n: usize, perplexity: f64) -> Vec<f64> {
    let target = perplexity.ln();
    let mut conditional = vec![0.0; n * n];
    for i in 0..n {
        let row = &distances[i * n..(i + 1) * n];
        let p = &mut conditional[i * n..(i + 1) * n];
        let (mut beta, mut low, mut high) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
        for _ in 0..100 {
            for j in (0..n).filter(|&j| j != i) {
                p[j] = (-row[j] * beta).exp();
            }
            let mut sum: f64 = p.iter().sum();
            if sum == 0.0 {
                sum = 1e-8;
            }
            let mut weighted = 0.0;
            for j in 0..n {
                p[j] /= sum;
                weighted += row[j] * p[j];
            }
            let excess = sum.ln() + beta * weighted - target;
            if excess.abs() <= ENTROPY_TOLERANCE {
                break;
            }
            if excess > 0.0 {
                low = beta;
                beta = if high.is_infinite() {
                    beta * 2.0
                } else {
                    (beta + high) / 2.0
                };
            } else {
                high = beta;
                beta = if low.is_infinite() {
                    beta / 2.0
                } else {
                    (beta + low) / 2.0
                };
            }
        }
    }
    let mut p = vec![0.0; n * n];
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..n {
            p[i * n + j] = conditional[i * n + j] + conditional[j * n + i];
            total += p[i * n + j];
        }
    }
    let total = total.max(EPS);
    for i in 0..n {
        for j in 0..n {
            p[i * n + j] = if i == j {
                0.0
            } else {
                (p[i * n + j] / total).max(EPS)
            };
        }
    }
    p
}

/// KL(P || Q) and its gradient with respect to the points, for P as
/// [`joint_probabilities`] gives it (scikit-learn's `_kl_divergence` with
/// one degree of freedom).
pub fn kl_and_gradient(p: &[f64], y: &[[f64; 2]]) -> (f64, Vec<[f64; 2]>) {
    let n = y.len();
    let mut kernel = vec![0.0; n * n];
    let mut total = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            let d2 = (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2);
            let k = 1.0 / (1.0 + d2);
            kernel[i * n + j] = k;
            kernel[j * n + i] = k;
            total += 2.0 * k;
        }
    }
    let mut kl = 0.0;
    let mut gradient = vec![[0.0; 2]; n];
    for i in 0..n {
        for j in (0..n).filter(|&j| j != i) {
            let (pij, k) = (p[i * n + j], kernel[i * n + j]);
            let q = (k / total).max(EPS);
            kl += pij * (pij.max(EPS) / q).ln();
            let pull = 4.0 * (pij - q) * k;
            gradient[i][0] += pull * (y[i][0] - y[j][0]);
            gradient[i][1] += pull * (y[i][1] - y[j][1]);
        }
    }
    (kl, gradient)
}

/// `iterations` of gradient descent from `start` on affinities `p`: the
/// exaggerated phase, then the rest (each with fresh momentum and gains,
/// as scikit-learn).
pub fn optimise(p: &[f64], start: Vec<[f64; 2]>, iterations: usize) -> Embedding {
    let n = start.len();
    let rate = (n as f64 / EXAGGERATION / 4.0).max(50.0);
    let exaggerated: Vec<f64> = p.iter().map(|v| v * EXAGGERATION).collect();
    let mut embedding = Embedding {
        points: start,
        perplexity: f64::NAN,
        kl: Vec::new(),
    };
    let explore = iterations.min(EXPLORATION);
    let next = descend(
        &mut embedding,
        &exaggerated,
        0,
        explore,
        0.5,
        rate,
        EXPLORATION,
    );
    // That phase saw αP: KL(αP || Q) = α (KL(P || Q) + ln α).
    for (_, kl) in &mut embedding.kl {
        *kl = *kl / EXAGGERATION - EXAGGERATION.ln();
    }
    descend(&mut embedding, p, next, iterations, 0.8, rate, PATIENCE);
    embedding
}

/// Iterations `from..to`; returns the one to continue from.
fn descend(
    e: &mut Embedding,
    p: &[f64],
    from: usize,
    to: usize,
    momentum: f64,
    rate: f64,
    patience: usize,
) -> usize {
    let n = e.points.len();
    let mut update = vec![[0.0f64; 2]; n];
    let mut gains = vec![[1.0f64; 2]; n];
    let (mut best, mut best_at) = (f64::MAX, from);
    for it in from..to {
        let (kl, mut gradient) = kl_and_gradient(p, &e.points);
        for ((g, u), gain) in gradient.iter_mut().zip(&update).zip(&mut gains) {
            for k in 0..2 {
                gain[k] = if u[k] * g[k] < 0.0 {
                    gain[k] + 0.2
                } else {
                    gain[k] * 0.8
                };
                gain[k] = gain[k].max(MIN_GAIN);
                g[k] *= gain[k];
            }
        }
        for ((point, u), g) in e.points.iter_mut().zip(&mut update).zip(&gradient) {
            for k in 0..2 {
                u[k] = momentum * u[k] - rate * g[k];
                point[k] += u[k];
            }
        }
        let check = (it + 1) % CHECK_EVERY == 0;
        if check || it + 1 == to {
            e.kl.push((it + 1, kl));
        }
        if check {
            if kl < best {
                (best, best_at) = (kl, it);
            } else if it - best_at > patience {
                return it + 1;
            }
            let norm = gradient
                .iter()
                .map(|g| g[0] * g[0] + g[1] * g[1])
                .sum::<f64>()
                .sqrt();
            if norm <= MIN_GRAD_NORM {
                return it + 1;
            }
        }
    }
    to
}
