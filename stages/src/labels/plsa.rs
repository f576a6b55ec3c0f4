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
//!
//! Speed (BENCHMARKS.md, issue 5): the pass is bound by the scattered reads
//! of φ_w and its accumulator row. Inside the iterations every row is
//! padded to whole cache lines (`Lane`), the hot loop is compiled for
//! AVX-512 where the CPU has it (same bits as the portable build), a
//! track's running sum stays in registers, the rows are prefetched a few
//! non-zeros ahead, and the big arrays ask for 2 MiB pages.

use std::ops::Range;

use rayon::prelude::*;

use super::csr::Csr;
use crate::rng::Rng;

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
    let mut rng = Rng::new(seed);
    let mut theta_dk: Vec<f64> = (0..n_rows * k).map(|_| rng.uniform_open()).collect();
    for row in theta_dk.chunks_mut(k) {
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
    let phi_wk: Vec<f64> = (0..n_cols * k).map(|_| rng.uniform_open()).collect();
    let lanes = k.div_ceil(8);
    let mut phi = to_lanes(&phi_wk, k, lanes);
    normalise_topics(&mut phi, k, lanes);
    (theta_dk, from_lanes(&phi, k, lanes))
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
    theta_dk: Vec<f64>,
    phi_wk: Vec<f64>,
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
    let lanes = step.lanes;
    let mut theta = to_lanes(&theta_dk, k, lanes);
    let mut phi = to_lanes(&phi_wk, k, lanes);
    let mut theta_next = zeroed_lanes(theta.len());
    let mut phi_next = zeroed_lanes(phi.len());
    let mut trace = Vec::with_capacity(config.iterations + 1);
    let mut converged = false;
    for done in 1..=config.iterations {
        let ll = step.run(x, &theta, &phi, &mut theta_next, &mut phi_next);
        std::mem::swap(&mut theta, &mut theta_next);
        std::mem::swap(&mut phi, &mut phi_next);
        trace.push(ll);
        on_iteration(done, ll);
        if let [.., before, last] = trace[..] {
            if (last - before).abs() < config.tolerance * before.abs() {
                converged = true;
                break;
            }
        }
    }
    let (theta_dk, phi_wk) = (from_lanes(&theta, k, lanes), from_lanes(&phi, k, lanes));
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

/// Eight values on one cache line. Inside an iteration θ, φ and the
/// accumulators are `lanes = ⌈k / 8⌉` of these per row, the topics padded
/// with zeros: every row starts on a cache line and spans the fewest lines,
/// and the loops have no scalar tails (one lane is one AVX-512 register).
/// The padding stays exactly 0 and adds exactly 0 to every sum.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Lane([f64; 8]);

/// The rows of `m_rk` (`n x k`) padded to `lanes` lanes each.
fn to_lanes(m_rk: &[f64], k: usize, lanes: usize) -> Vec<Lane> {
    let mut out = zeroed_lanes(m_rk.len() / k * lanes);
    for (row, padded) in m_rk.chunks(k).zip(out.chunks_mut(lanes)) {
        for (z, v) in row.iter().enumerate() {
            padded[z / 8].0[z % 8] = *v;
        }
    }
    out
}

/// The inverse of [`to_lanes`].
fn from_lanes(m: &[Lane], k: usize, lanes: usize) -> Vec<f64> {
    m.chunks(lanes)
        .flat_map(|row| row.iter().flat_map(|l| l.0).take(k))
        .collect()
}

/// `n` zero lanes, on 2 MiB pages where the system allows: φ and the
/// accumulators are read at random, and with 4 KiB pages most of those
/// reads would also miss the TLB.
fn zeroed_lanes(n: usize) -> Vec<Lane> {
    let mut v = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    {
        const HUGE_PAGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + n * std::mem::size_of::<Lane>();
        let (first, last) = (
            start.next_multiple_of(HUGE_PAGE),
            end / HUGE_PAGE * HUGE_PAGE,
        );
        if last > first {
            // SAFETY: advice about whole pages inside this vector's own
            // allocation, not yet written; madvise never changes its
            // contents, and a refusal (an error code) is harmless.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    v.resize(n, Lane::default());
    v
}

/// One EM iteration's reusable state: the row blocks and their φ
/// accumulators (`n_cols x lanes` each).
struct Step {
    k: usize,
    lanes: usize,
    blocks: Vec<Range<usize>>,
    phi_acc: Vec<Vec<Lane>>,
}

impl Step {
    /// Blocks of about equal non-zeros, as many as `MAX_BLOCKS` and the
    /// memory bound allow: a function of the shape alone.
    fn new(x: &Csr, k: usize) -> Step {
        let lanes = k.div_ceil(8);
        let acc_bytes = (x.n_cols * lanes * std::mem::size_of::<Lane>()).max(1);
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
            lanes,
            blocks: bounds.windows(2).map(|w| w[0]..w[1]).collect(),
            phi_acc: (0..n).map(|_| zeroed_lanes(x.n_cols * lanes)).collect(),
        }
    }

    /// Writes the next θ and φ (all padded); returns the log-likelihood of
    /// the current ones.
    fn run(
        &mut self,
        x: &Csr,
        theta: &[Lane],
        phi: &[Lane],
        theta_next: &mut [Lane],
        phi_next: &mut [Lane],
    ) -> f64 {
        let (k, lanes) = (self.k, self.lanes);
        let mut outs = Vec::with_capacity(self.blocks.len());
        let mut rest = theta_next;
        for rows in &self.blocks {
            let (out, tail) = rest.split_at_mut(rows.len() * lanes);
            outs.push(out);
            rest = tail;
        }
        let ll_blocks: Vec<f64> = self
            .blocks
            .par_iter()
            .zip(self.phi_acc.par_iter_mut())
            .zip(outs.into_par_iter())
            .map(|((rows, acc), out)| block(x, rows.clone(), theta, phi, k, out, acc))
            .collect();
        let phi_acc = &self.phi_acc;
        phi_next
            .par_chunks_mut(lanes)
            .enumerate()
            .for_each(|(w, row)| {
                let span = w * lanes..(w + 1) * lanes;
                row.fill(Lane::default());
                for acc in phi_acc {
                    for (r, a) in row.iter_mut().zip(&acc[span.clone()]) {
                        add_scaled(r, 1.0, a);
                    }
                }
                for (r, p) in row.iter_mut().zip(&phi[span]) {
                    r.0.iter_mut().zip(p.0).for_each(|(r, p)| *r *= p);
                }
            });
        normalise_topics(phi_next, k, lanes);
        ll_blocks.iter().sum()
    }
}

/// The EM sums for the tracks in `rows`, with p_dw = max(θ_d · φ_w, EPS):
/// writes `out` (those tracks' next θ, normalised) and `phi_acc[w] = Σ_d
/// x_dw θ_d / p_dw` (φ's numerator before the ⊙ φ); returns Σ x_dw ln p_dw.
///
/// Compiled twice, for AVX-512 and for the baseline target, from the same
/// code: Rust never fuses or reorders float operations, so both give the
/// same bits.
fn block(
    x: &Csr,
    rows: Range<usize>,
    theta: &[Lane],
    phi: &[Lane],
    k: usize,
    out: &mut [Lane],
    phi_acc: &mut [Lane],
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { block_avx512(x, rows, theta, phi, k, out, phi_acc) };
    }
    block_lanes(x, rows, theta, phi, k, out, phi_acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512(
    x: &Csr,
    rows: Range<usize>,
    theta: &[Lane],
    phi: &[Lane],
    k: usize,
    out: &mut [Lane],
    phi_acc: &mut [Lane],
) -> f64 {
    block_lanes(x, rows, theta, phi, k, out, phi_acc)
}

/// Picks the track accumulator: a fixed-size array for up to 64 topics
/// (the compiler keeps it in registers, about 1.3x faster), a vector above.
#[inline(always)]
fn block_lanes(
    x: &Csr,
    rows: Range<usize>,
    theta: &[Lane],
    phi: &[Lane],
    k: usize,
    out: &mut [Lane],
    phi_acc: &mut [Lane],
) -> f64 {
    let zero = Lane::default();
    let lanes = k.div_ceil(8);
    match lanes {
        1 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 1]),
        2 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 2]),
        3 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 3]),
        4 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 4]),
        5 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 5]),
        6 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 6]),
        7 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 7]),
        8 => block_with(x, rows, theta, phi, k, out, phi_acc, || [zero; 8]),
        _ => block_with(x, rows, theta, phi, k, out, phi_acc, || vec![zero; lanes]),
    }
}

/// [`block`] with a track accumulator from `zero` (its length is `lanes`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block_with<A: AsMut<[Lane]>>(
    x: &Csr,
    rows: Range<usize>,
    theta: &[Lane],
    phi: &[Lane],
    k: usize,
    out: &mut [Lane],
    phi_acc: &mut [Lane],
    zero: impl Fn() -> A,
) -> f64 {
    phi_acc.fill(Lane::default());
    let mut ll = 0.0;
    let end = x.indptr[rows.end];
    for (i, d) in rows.enumerate() {
        let mut acc = zero();
        let acc = acc.as_mut();
        let lanes = acc.len();
        let theta = &theta[d * lanes..(d + 1) * lanes];
        for j in x.indptr[d]..x.indptr[d + 1] {
            if j + PREFETCH_AHEAD < end {
                let ahead = x.indices[j + PREFETCH_AHEAD] as usize * lanes;
                prefetch(&phi[ahead..ahead + lanes]);
                prefetch(&phi_acc[ahead..ahead + lanes]);
            }
            let (w, v) = (x.indices[j] as usize, x.values[j]);
            let phi = &phi[w * lanes..(w + 1) * lanes];
            let p = dot_lanes(theta, phi).max(EPS);
            ll += v * p.ln();
            let ratio = v / p;
            for (a, f) in acc.iter_mut().zip(phi) {
                add_scaled(a, ratio, f);
            }
            for (a, t) in phi_acc[w * lanes..(w + 1) * lanes].iter_mut().zip(theta) {
                add_scaled(a, ratio, t);
            }
        }
        let next = &mut out[i * lanes..(i + 1) * lanes];
        for ((n, a), t) in next.iter_mut().zip(&*acc).zip(theta) {
            for ((n, a), t) in n.0.iter_mut().zip(a.0).zip(t.0) {
                *n = t * a;
            }
        }
        normalise_or_uniform(next, k);
    }
    ll
}

/// `a += s * b`, lane-wise.
#[inline(always)]
fn add_scaled(a: &mut Lane, s: f64, b: &Lane) {
    for (a, b) in a.0.iter_mut().zip(b.0) {
        *a += s * b;
    }
}

/// Σ a ⊙ b with one running sum per lane position: the same sums, in the
/// same order, as [`dot`] on the unpadded rows.
#[inline(always)]
fn dot_lanes(a: &[Lane], b: &[Lane]) -> f64 {
    let mut s = [0.0f64; 8];
    for (a, b) in a.iter().zip(b) {
        for ((s, a), b) in s.iter_mut().zip(a.0).zip(b.0) {
            *s += a * b;
        }
    }
    sum8(s)
}

/// The fixed order in which the eight running sums of a dot product add up.
#[inline(always)]
fn sum8(s: [f64; 8]) -> f64 {
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// Asks for a row a few entries before it is needed: rows are scattered,
/// so the hardware prefetcher cannot guess them, and without this the
/// kernel mostly waits on memory (about 1.6x slower on the bench matrix).
#[inline(always)]
fn prefetch(row: &[Lane]) {
    #[cfg(target_arch = "x86_64")]
    for line in row {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint: it never faults and changes no
        // state; the address is that of a live value.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const Lane as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Scales a padded row to sum 1; a row whose mass underflowed to 0
/// becomes uniform over its first `k` values rather than 0/0.
#[inline(always)]
fn normalise_or_uniform(row: &mut [Lane], k: usize) {
    let mut s = [0.0f64; 8];
    for l in row.iter() {
        for (s, v) in s.iter_mut().zip(l.0) {
            *s += v;
        }
    }
    let sum = sum8(s);
    if sum > 0.0 && sum.is_finite() {
        for l in row.iter_mut() {
            l.0.iter_mut().for_each(|v| *v /= sum);
        }
    } else {
        for (z, v) in row.iter_mut().flat_map(|l| &mut l.0).enumerate() {
            *v = if z < k { 1.0 / k as f64 } else { 0.0 };
        }
    }
}

/// Scales each topic (column) of the padded rows `m` to sum 1 (uniform
/// where a topic's mass is 0); the padding stays 0.
fn normalise_topics(m: &mut [Lane], k: usize, lanes: usize) {
    let mut sums = vec![Lane::default(); lanes];
    for row in m.chunks(lanes) {
        for (s, v) in sums.iter_mut().zip(row) {
            add_scaled(s, 1.0, v);
        }
    }
    let finite = |s: f64| s > 0.0 && s.is_finite();
    let scale: Vec<Lane> = sums
        .iter()
        .map(|s| Lane(s.0.map(|s| if finite(s) { 1.0 / s } else { 0.0 })))
        .collect();
    for row in m.chunks_mut(lanes) {
        for (v, s) in row.iter_mut().zip(&scale) {
            v.0.iter_mut().zip(s.0).for_each(|(v, s)| *v *= s);
        }
    }
    let dead = (0..k).filter(|&z| !finite(sums[z / 8].0[z % 8]));
    let uniform = 1.0 / (m.len() / lanes) as f64;
    for z in dead {
        for row in m.chunks_mut(lanes) {
            row[z / 8].0[z % 8] = uniform;
        }
    }
}

/// [`dot_lanes`] on unpadded rows (value z goes to running sum z mod 8):
/// the same bits.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0f64; 8];
    for (z, (a, b)) in a.iter().zip(b).enumerate() {
        s[z % 8] += a * b;
    }
    sum8(s)
}
