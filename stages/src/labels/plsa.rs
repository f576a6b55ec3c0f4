//! Probabilistic latent semantic analysis (Hofmann 1999) fitted by EM on a
//! sparse `tracks x items` weight matrix.
//!
//! Model: P(item w | track d) = Σ_z P(z | d) P(w | z). One EM iteration,
//! written multiplicatively so that it only ever touches the non-zeros
//! (p_dw = Σ_z θ_dz φ_wz):
//!
//! ```text
//! θ'_dz ∝ θ_dz · Σ_w x_dw φ_wz / p_dw      (normalised over z)
//! φ'_wz ∝ φ_wz · Σ_d x_dw θ_dz / p_dw      (normalised over w)
//! ```
//!
//! which is the E-step's responsibilities x_dw θ_dz φ_wz / p_dw summed
//! without ever storing them. One pass over the rows does both sums: rows
//! are split into a few fixed blocks run in parallel, each with its own φ
//! accumulator, added up in block order. The blocks depend on the matrix's
//! shape only, never on the thread count, so results are bit-identical on
//! any machine size.

use std::ops::Range;

use rayon::prelude::*;

use super::csr::Csr;
use super::rng::SplitMix64;

/// Floor for p_dw before dividing by it or taking its log (guards 0/0 and
/// ln 0 once an entry underflows).
pub const EPS: f64 = 1e-12;

/// How to fit.
#[derive(Debug, Clone)]
pub struct PlsaConfig {
    /// Number of topics.
    pub k: usize,
    /// Maximum number of EM iterations.
    pub iterations: usize,
    /// Seed of the random initialisation.
    pub seed: u64,
    /// Stop once the relative change of the log-likelihood between two
    /// iterations falls below this; 0 runs every iteration.
    pub tolerance: f64,
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Plsa {
    pub k: usize,
    /// `n_rows x k`: row d is P(topic | track d) and sums to 1.
    pub theta_dk: Vec<f64>,
    /// `n_cols x k`: entry (w, z) is P(item w | topic z); each column sums to 1.
    pub phi_wk: Vec<f64>,
    /// Σ x_dw ln p_dw at the initialisation and after each iteration
    /// (`iterations_run + 1` values).
    pub log_likelihood: Vec<f64>,
    pub iterations_run: usize,
    /// Whether `tolerance` ended the run before `iterations`.
    pub converged: bool,
}

/// The seeded random start: uniform (0, 1] entries, θ normalised per row,
/// φ per topic. Returns (`theta_dk`, `phi_wk`).
pub fn init(n_rows: usize, n_cols: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    if k == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut rng = SplitMix64::new(seed);
    let mut theta_dk: Vec<f64> = (0..n_rows * k).map(|_| rng.next_open01()).collect();
    for row in theta_dk.chunks_mut(k) {
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
    let mut phi_wk: Vec<f64> = (0..n_cols * k).map(|_| rng.next_open01()).collect();
    normalise_columns(&mut phi_wk, k);
    (theta_dk, phi_wk)
}

/// Fits from the seeded random start. `on_iteration(done, ll)` is called
/// after each iteration with the log-likelihood that iteration started from.
pub fn fit(
    x: &Csr,
    config: &PlsaConfig,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Plsa, String> {
    validate(x, config.k)?;
    let (theta_dk, phi_wk) = init(x.n_rows, x.n_cols, config.k, config.seed);
    fit_from(x, theta_dk, phi_wk, config, on_iteration)
}

/// Fits from a given start (`config.seed` is unused): lets a benchmark
/// hand both implementations the same start.
pub fn fit_from(
    x: &Csr,
    mut theta_dk: Vec<f64>,
    mut phi_wk: Vec<f64>,
    config: &PlsaConfig,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Plsa, String> {
    let k = config.k;
    validate(x, k)?;
    if theta_dk.len() != x.n_rows * k || phi_wk.len() != x.n_cols * k {
        return Err(format!(
            "start has {} and {} values, expected {} x {k} and {} x {k}",
            theta_dk.len(),
            phi_wk.len(),
            x.n_rows,
            x.n_cols
        ));
    }
    if let Some(v) = theta_dk
        .iter()
        .chain(&phi_wk)
        .find(|v| !(v.is_finite() && **v >= 0.0))
    {
        return Err(format!("start holds {v}, not a probability"));
    }
    let mut step = Step::new(x, k);
    let mut theta_next = vec![0.0; theta_dk.len()];
    let mut phi_next = vec![0.0; phi_wk.len()];
    let mut trace = Vec::with_capacity(config.iterations + 1);
    let mut converged = false;
    for done in 1..=config.iterations {
        let ll = step.run(x, &theta_dk, &phi_wk, &mut theta_next, &mut phi_next);
        std::mem::swap(&mut theta_dk, &mut theta_next);
        std::mem::swap(&mut phi_wk, &mut phi_next);
        trace.push(ll);
        on_iteration(done, ll);
        if let [.., before, last] = trace[..] {
            if (last - before).abs() < config.tolerance * before.abs() {
                converged = true;
                break;
            }
        }
    }
    let iterations_run = trace.len();
    trace.push(log_likelihood(x, &theta_dk, &phi_wk, k));
    Ok(Plsa {
        k,
        theta_dk,
        phi_wk,
        log_likelihood: trace,
        iterations_run,
        converged,
    })
}

/// Σ x_dw ln max(p_dw, EPS) of a model.
pub fn log_likelihood(x: &Csr, theta_dk: &[f64], phi_wk: &[f64], k: usize) -> f64 {
    let per_row: Vec<f64> = (0..x.n_rows)
        .into_par_iter()
        .map(|d| {
            let theta = &theta_dk[d * k..(d + 1) * k];
            let (cols, vals) = x.row(d);
            cols.iter()
                .zip(vals)
                .map(|(&w, &v)| {
                    let phi = &phi_wk[w as usize * k..(w as usize + 1) * k];
                    v * dot(theta, phi).max(EPS).ln()
                })
                .sum::<f64>()
        })
        .collect();
    per_row.iter().sum()
}

fn validate(x: &Csr, k: usize) -> Result<(), String> {
    if k == 0 {
        return Err("the number of topics must be at least 1".into());
    }
    if x.n_rows == 0 || x.nnz() == 0 {
        return Err("the matrix has no entries".into());
    }
    if let Some(r) = (0..x.n_rows).find(|&r| x.row(r).1.iter().all(|&v| v == 0.0)) {
        return Err(format!("row {r} has no positive weight"));
    }
    if let Some(i) = x.values.iter().position(|v| !v.is_finite() || *v < 0.0) {
        let r = x.indptr.partition_point(|&p| p <= i) - 1;
        return Err(format!(
            "row {r}, column {}: weight {} is not a finite non-negative number",
            x.indices[i], x.values[i]
        ));
    }
    Ok(())
}

/// Upper bound on the memory of the per-block φ accumulators.
const ACCUMULATOR_BYTES: usize = 1 << 30;
/// At most this many row blocks, i.e. this many threads per iteration.
const MAX_BLOCKS: usize = 4;
/// How many non-zeros ahead to prefetch.
const PREFETCH_AHEAD: usize = 4;

/// One EM iteration's reusable state: the row blocks and their φ
/// accumulators (`n_cols x k` each).
struct Step {
    k: usize,
    blocks: Vec<Range<usize>>,
    phi_acc: Vec<Vec<f64>>,
}

impl Step {
    /// Blocks of about equal non-zeros, as many as `MAX_BLOCKS` and the
    /// memory bound allow: a function of the shape alone.
    fn new(x: &Csr, k: usize) -> Step {
        let acc_bytes = (x.n_cols * k * std::mem::size_of::<f64>()).max(1);
        let n = MAX_BLOCKS
            .min(ACCUMULATOR_BYTES / acc_bytes)
            .clamp(1, x.n_rows.max(1));
        let bounds: Vec<usize> = (0..=n)
            .map(|b| match b {
                0 => 0,
                b if b == n => x.n_rows,
                b => x.indptr.partition_point(|&p| p < x.nnz() * b / n),
            })
            .collect();
        Step {
            k,
            blocks: bounds.windows(2).map(|w| w[0]..w[1]).collect(),
            phi_acc: vec![vec![0.0; x.n_cols * k]; n],
        }
    }

    /// Writes the next θ and φ; returns the log-likelihood of the current ones.
    fn run(
        &mut self,
        x: &Csr,
        theta_dk: &[f64],
        phi_wk: &[f64],
        theta_next: &mut [f64],
        phi_next: &mut [f64],
    ) -> f64 {
        let k = self.k;
        let mut outs = Vec::with_capacity(self.blocks.len());
        let mut rest = theta_next;
        for rows in &self.blocks {
            let (out, tail) = rest.split_at_mut(rows.len() * k);
            outs.push(out);
            rest = tail;
        }
        let ll_blocks: Vec<f64> = self
            .blocks
            .par_iter()
            .zip(self.phi_acc.par_iter_mut())
            .zip(outs.into_par_iter())
            .map(|((rows, acc), out)| block(x, rows.clone(), theta_dk, phi_wk, k, out, acc))
            .collect();
        let phi_acc = &self.phi_acc;
        phi_next.par_chunks_mut(k).enumerate().for_each(|(w, row)| {
            let span = w * k..(w + 1) * k;
            row.fill(0.0);
            for acc in phi_acc {
                row.iter_mut()
                    .zip(&acc[span.clone()])
                    .for_each(|(r, a)| *r += a);
            }
            row.iter_mut().zip(&phi_wk[span]).for_each(|(r, p)| *r *= p);
        });
        normalise_columns(phi_next, k);
        ll_blocks.iter().sum()
    }
}

/// The EM sums for the tracks in `rows`, with p_dw = max(θ_d · φ_w, EPS):
/// writes `out` (those tracks' next θ, normalised) and `phi_acc[w] = Σ_d
/// x_dw θ_d / p_dw` (φ's numerator before the ⊙ φ); returns Σ x_dw ln p_dw.
fn block(
    x: &Csr,
    rows: Range<usize>,
    theta_dk: &[f64],
    phi_wk: &[f64],
    k: usize,
    out: &mut [f64],
    phi_acc: &mut [f64],
) -> f64 {
    phi_acc.fill(0.0);
    let mut acc = vec![0.0; k];
    let mut ll = 0.0;
    let end = x.indptr[rows.end];
    for (i, d) in rows.enumerate() {
        let theta = &theta_dk[d * k..(d + 1) * k];
        acc.fill(0.0);
        for j in x.indptr[d]..x.indptr[d + 1] {
            if j + PREFETCH_AHEAD < end {
                let ahead = x.indices[j + PREFETCH_AHEAD] as usize * k;
                prefetch(&phi_wk[ahead..ahead + k]);
                prefetch(&phi_acc[ahead..ahead + k]);
            }
            let (w, v) = (x.indices[j] as usize, x.values[j]);
            let phi = &phi_wk[w * k..(w + 1) * k];
            let p = dot(theta, phi).max(EPS);
            ll += v * p.ln();
            let ratio = v / p;
            for (a, f) in acc.iter_mut().zip(phi) {
                *a += ratio * f;
            }
            for (a, t) in phi_acc[w * k..(w + 1) * k].iter_mut().zip(theta) {
                *a += ratio * t;
            }
        }
        let next = &mut out[i * k..(i + 1) * k];
        for ((n, a), t) in next.iter_mut().zip(&acc).zip(theta) {
            *n = t * a;
        }
        normalise_or_uniform(next);
    }
    ll
}

/// Asks for a row a few entries before it is needed: rows are scattered,
/// so the hardware prefetcher cannot guess them, and without this the
/// kernel mostly waits on memory (about 1.6x slower on the bench matrix).
#[inline(always)]
fn prefetch(row: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // One touch per 64-byte line, plus the last value's line.
        for v in row.iter().step_by(8).chain(row.last()) {
            // SAFETY: a prefetch is a hint: it never faults and changes no
            // state; the address is that of a live value.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(v as *const f64 as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Scales `v` to sum 1; a row whose mass underflowed to 0 becomes uniform
/// rather than 0/0.
fn normalise_or_uniform(v: &mut [f64]) {
    let sum: f64 = v.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        v.iter_mut().for_each(|x| *x /= sum);
    } else {
        let uniform = 1.0 / v.len() as f64;
        v.iter_mut().for_each(|x| *x = uniform);
    }
}

/// Scales each column of `m_rk` (`n_rows x k`) to sum 1 (uniform where a
/// column's mass is 0).
fn normalise_columns(m_rk: &mut [f64], k: usize) {
    if k == 0 {
        return;
    }
    let n_rows = m_rk.len() / k;
    let mut sums = vec![0.0; k];
    for row in m_rk.chunks(k) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    let scale: Vec<Option<f64>> = sums
        .iter()
        .map(|&s| (s > 0.0 && s.is_finite()).then(|| 1.0 / s))
        .collect();
    for row in m_rk.chunks_mut(k) {
        for (v, s) in row.iter_mut().zip(&scale) {
            *v = match s {
                Some(s) => *v * s,
                None => 1.0 / n_rows as f64,
            };
        }
    }
}

/// Dot product with four independent sums, so the compiler can vectorise
/// it (one running sum forbids reordering float additions).
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..4 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}
