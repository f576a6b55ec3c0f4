//! A one-dimensional Gaussian mixture fitted by EM: turns a scalar label
//! (tempo, release year) into a distribution over k components, the z of
//! the bpm and year sources.
//!
//! The fit runs on standardised values (so the variance floor and the
//! running sums mean the same for years and tempi) and reports everything
//! in the data's units, components sorted by mean (component 0 = lowest).

use rayon::prelude::*;

use crate::rng::Rng;

/// The default variance floor, relative to the data's variance.
pub const DEFAULT_VAR_FLOOR: f64 = 1e-6;

/// A component explaining less than this many values is collapsed.
pub const MIN_COUNT: f64 = 1.0;

/// Points per parallel work unit; fixed so that sums are grouped the same
/// way whatever the number of threads (bit-identical results).
const CHUNK: usize = 8192;

/// How to fit.
#[derive(Debug, Clone)]
pub struct GmmConfig {
    /// Number of components.
    pub k: usize,
    /// Maximum number of EM iterations.
    pub iterations: usize,
    /// Seed of the k-means++ initialisation and of re-seeding.
    pub seed: u64,
    /// Stop once the relative change of the log-likelihood between two
    /// iterations falls below this; 0 runs every iteration.
    pub tolerance: f64,
    /// Added to every variance (as scikit-learn's `reg_covar`), in units of
    /// the data's variance: a component sitting on one distinct value (a
    /// single year) keeps a finite density.
    pub var_floor: f64,
}

/// A fitted mixture, in the data's units, components sorted by mean.
#[derive(Debug, Clone)]
pub struct Gmm {
    pub weights: Vec<f64>,
    pub means: Vec<f64>,
    pub variances: Vec<f64>,
    /// Total log-likelihood at the initialisation and after each iteration
    /// (`iterations_run + 1` values).
    pub log_likelihood: Vec<f64>,
    pub iterations_run: usize,
    /// Whether `tolerance` ended the run before `iterations`.
    pub converged: bool,
    /// What was re-seeded and why, in order.
    pub warnings: Vec<String>,
    pub reseeds: usize,
}

/// Standardised parameters during the fit.
#[derive(Debug, Clone)]
struct Params {
    weights: Vec<f64>,
    means: Vec<f64>,
    variances: Vec<f64>,
}

/// Sufficient statistics of one E-step, per component: effective count,
/// and the first two moments about the component's current mean.
#[derive(Debug, Clone)]
struct Stats {
    ll: f64,
    count: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl Gmm {
    /// Fits from a seeded k-means++ start. Errors on an empty or
    /// non-finite input, or fewer distinct values than components.
    pub fn fit(
        values: &[f64],
        config: &GmmConfig,
        on_iteration: &mut dyn FnMut(usize, f64),
    ) -> Result<Gmm, String> {
        let (shift, scale) = check_and_standardise(values, config)?;
        let z: Vec<f64> = values.iter().map(|v| (v - shift) / scale).collect();
        let mut rng = Rng::new(config.seed);
        let start = kmeans_start(&z, config.k, config.var_floor, &mut rng);
        Ok(em(&z, start, config, &mut rng, shift, scale, on_iteration))
    }

    /// Fits from a given start (in the data's units) instead of k-means++;
    /// `config.seed` still drives re-seeding.
    pub fn fit_from(
        values: &[f64],
        start: &Gmm,
        config: &GmmConfig,
        on_iteration: &mut dyn FnMut(usize, f64),
    ) -> Result<Gmm, String> {
        let k = config.k;
        if start.weights.len() != k || start.means.len() != k || start.variances.len() != k {
            return Err(format!("the start must have {k} components"));
        }
        let (shift, scale) = check_and_standardise(values, config)?;
        let z: Vec<f64> = values.iter().map(|v| (v - shift) / scale).collect();
        let params = Params {
            weights: start.weights.clone(),
            means: start.means.iter().map(|m| (m - shift) / scale).collect(),
            variances: start
                .variances
                .iter()
                .map(|v| v / (scale * scale))
                .collect(),
        };
        let mut rng = Rng::new(config.seed);
        Ok(em(&z, params, config, &mut rng, shift, scale, on_iteration))
    }

    /// `n x k` posteriors P(component | value), rows summing to 1.
    pub fn posteriors(&self, values: &[f64]) -> Vec<f64> {
        let k = self.means.len();
        let mut out = vec![0.0; values.len() * k];
        out.par_chunks_mut(k)
            .zip(values.par_iter())
            .for_each(|(row, &x)| {
                let lse = self.log_terms(x, row);
                row.iter_mut().for_each(|v| *v = (*v - lse).exp());
            });
        out
    }

    /// Total log-likelihood of `values`.
    pub fn log_likelihood_of(&self, values: &[f64]) -> f64 {
        let k = self.means.len();
        let per_chunk: Vec<f64> = values
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut terms = vec![0.0; k];
                chunk.iter().map(|&x| self.log_terms(x, &mut terms)).sum()
            })
            .collect();
        per_chunk.iter().sum()
    }

    /// Fills `terms[j] = ln w_j + ln N(x | μ_j, σ²_j)`; returns their
    /// log-sum-exp, ln p(x).
    fn log_terms(&self, x: f64, terms: &mut [f64]) -> f64 {
        for (j, t) in terms.iter_mut().enumerate() {
            let v = self.variances[j];
            let d = x - self.means[j];
            *t = self.weights[j].ln() - 0.5 * (std::f64::consts::TAU * v).ln() - d * d / (2.0 * v);
        }
        log_sum_exp(terms)
    }
}

fn check_and_standardise(values: &[f64], config: &GmmConfig) -> Result<(f64, f64), String> {
    if config.k == 0 {
        return Err("the number of components must be at least 1".into());
    }
    if values.is_empty() {
        return Err("no values".into());
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!("value {i} is {}", values[i]));
    }
    if !(config.var_floor > 0.0 && config.var_floor.is_finite()) {
        return Err(format!(
            "variance floor {} must be positive",
            config.var_floor
        ));
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted.dedup();
    if sorted.len() < config.k {
        return Err(format!(
            "{} distinct value(s) among {} cannot support {} components",
            sorted.len(),
            values.len(),
            config.k
        ));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let scale = if var > 0.0 { var.sqrt() } else { 1.0 };
    Ok((mean, scale))
}

/// k-means++ seeding (D² sampling), a few Lloyd rounds, then one M-step
/// from the hard assignment (scikit-learn's `init_params="kmeans"` idea).
fn kmeans_start(z: &[f64], k: usize, var_floor: f64, rng: &mut Rng) -> Params {
    let mut centers = vec![z[rng.below(z.len())]];
    let mut d2: Vec<f64> = z.iter().map(|x| (x - centers[0]).powi(2)).collect();
    while centers.len() < k {
        let c = z[sample_d2(&d2, rng)];
        centers.push(c);
        d2.iter_mut()
            .zip(z)
            .for_each(|(d, x)| *d = d.min((x - c).powi(2)));
    }
    let mut labels = vec![0usize; z.len()];
    for _ in 0..20 {
        centers.sort_unstable_by(f64::total_cmp);
        assign_nearest(z, &centers, &mut labels);
        let mut sum = vec![0.0; k];
        let mut count = vec![0usize; k];
        for (&x, &l) in z.iter().zip(&labels) {
            sum[l] += x;
            count[l] += 1;
        }
        let mut moved = false;
        for j in 0..k {
            if count[j] > 0 {
                let c = sum[j] / count[j] as f64;
                moved |= c != centers[j];
                centers[j] = c;
            }
        }
        if !moved {
            break;
        }
    }
    centers.sort_unstable_by(f64::total_cmp);
    assign_nearest(z, &centers, &mut labels);
    let mut count = vec![0.0; k];
    let mut sum = vec![0.0; k];
    for (&x, &l) in z.iter().zip(&labels) {
        count[l] += 1.0;
        sum[l] += x;
    }
    let means: Vec<f64> = (0..k)
        .map(|j| {
            if count[j] > 0.0 {
                sum[j] / count[j]
            } else {
                centers[j]
            }
        })
        .collect();
    let mut sq = vec![0.0; k];
    for (&x, &l) in z.iter().zip(&labels) {
        sq[l] += (x - means[l]).powi(2);
    }
    let n = z.len() as f64;
    Params {
        weights: count.iter().map(|c| c / n).collect(),
        variances: (0..k)
            .map(|j| if count[j] > 0.0 { sq[j] / count[j] } else { 1.0 } + var_floor)
            .collect(),
        means,
    }
}

/// An index drawn with probability proportional to `d2` (uniform if all 0).
fn sample_d2(d2: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = d2.iter().sum();
    // Also catches a NaN total.
    if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return rng.below(d2.len());
    }
    let mut target = rng.uniform_open() * total;
    for (i, &d) in d2.iter().enumerate() {
        if target <= d && d > 0.0 {
            return i;
        }
        target -= d;
    }
    // Rounding left a sliver: take the last point with positive weight.
    d2.iter().rposition(|&d| d > 0.0).unwrap_or(0)
}

/// Labels each value with its nearest center (`centers` ascending).
fn assign_nearest(z: &[f64], centers: &[f64], labels: &mut [usize]) {
    let mids: Vec<f64> = centers.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    labels
        .par_iter_mut()
        .zip(z.par_iter())
        .for_each(|(l, &x)| *l = mids.partition_point(|&m| m < x));
}

fn em(
    z: &[f64],
    mut params: Params,
    config: &GmmConfig,
    rng: &mut Rng,
    shift: f64,
    scale: f64,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Gmm {
    let k = config.k;
    let n = z.len() as f64;
    let max_reseeds = 2 * k;
    let mut reseeds = 0;
    let mut warnings = Vec::new();
    let mut trace = Vec::with_capacity(config.iterations + 1);
    let mut converged = false;
    for done in 1..=config.iterations {
        let stats = e_step(z, &params);
        trace.push(stats.ll);
        let mut collapsed = Vec::new();
        for j in 0..k {
            let c = stats.count[j];
            let mean = params.means[j] + stats.s1[j] / c;
            let var = (stats.s2[j] / c - (stats.s1[j] / c).powi(2)).max(0.0) + config.var_floor;
            if c < MIN_COUNT || !mean.is_finite() || !var.is_finite() {
                collapsed.push((j, c));
                params.weights[j] = 0.0;
            } else {
                params.weights[j] = c / n;
                params.means[j] = mean;
                params.variances[j] = var;
            }
        }
        let reseeded = !collapsed.is_empty() && reseeds < max_reseeds;
        if reseeded {
            reseed(
                z,
                &mut params,
                &collapsed,
                rng,
                done,
                shift,
                scale,
                &mut warnings,
            );
            reseeds += collapsed.len();
            if reseeds >= max_reseeds {
                warnings.push(format!(
                    "{reseeds} re-seeds: giving up; collapsed components keep weight 0"
                ));
            }
        }
        let total: f64 = params.weights.iter().sum();
        params.weights.iter_mut().for_each(|w| *w /= total);
        on_iteration(done, stats.ll);
        if let [.., before, last] = trace[..] {
            if !reseeded && (last - before).abs() < config.tolerance * before.abs() {
                converged = true;
                break;
            }
        }
    }
    let iterations_run = trace.len();
    trace.push(e_step(z, &params).ll);
    // Back to the data's units: a density in z is `scale` times one in x.
    let jacobian = n * scale.ln();
    trace.iter_mut().for_each(|ll| *ll -= jacobian);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| params.means[a].total_cmp(&params.means[b]));
    Gmm {
        weights: order.iter().map(|&j| params.weights[j]).collect(),
        means: order
            .iter()
            .map(|&j| shift + scale * params.means[j])
            .collect(),
        variances: order
            .iter()
            .map(|&j| scale * scale * params.variances[j])
            .collect(),
        log_likelihood: trace,
        iterations_run,
        converged,
        warnings,
        reseeds,
    }
}

/// Moves each collapsed component onto a value drawn by D² sampling
/// against the healthy components' means, with their average variance and
/// a fair share of weight; EM then decides what it explains.
#[allow(clippy::too_many_arguments)]
fn reseed(
    z: &[f64],
    params: &mut Params,
    collapsed: &[(usize, f64)],
    rng: &mut Rng,
    iteration: usize,
    shift: f64,
    scale: f64,
    warnings: &mut Vec<String>,
) {
    let k = params.means.len();
    let healthy: Vec<usize> = (0..k).filter(|&j| params.weights[j] > 0.0).collect();
    let var = if healthy.is_empty() {
        1.0
    } else {
        healthy.iter().map(|&j| params.variances[j]).sum::<f64>() / healthy.len() as f64
    };
    let mut anchors: Vec<f64> = healthy.iter().map(|&j| params.means[j]).collect();
    for &(j, count) in collapsed {
        let d2: Vec<f64> = z
            .par_iter()
            .map(|x| {
                anchors
                    .iter()
                    .map(|a| (x - a).powi(2))
                    .fold(f64::INFINITY, f64::min)
            })
            .map(|d| if d.is_finite() { d } else { 1.0 })
            .collect();
        let at = z[sample_d2(&d2, rng)];
        warnings.push(format!(
            "iteration {iteration}: component collapsed (effective count {count:.3}); re-seeded at {:.6}",
            shift + scale * at
        ));
        params.means[j] = at;
        params.variances[j] = var;
        params.weights[j] = 1.0 / k as f64;
        anchors.push(at);
    }
}

/// One E-step over fixed chunks, merged in chunk order.
fn e_step(z: &[f64], params: &Params) -> Stats {
    let k = params.means.len();
    let consts: Vec<f64> = (0..k)
        .map(|j| params.weights[j].ln() - 0.5 * (std::f64::consts::TAU * params.variances[j]).ln())
        .collect();
    let inv2v: Vec<f64> = params.variances.iter().map(|v| 0.5 / v).collect();
    let parts: Vec<Stats> = z
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut s = Stats {
                ll: 0.0,
                count: vec![0.0; k],
                s1: vec![0.0; k],
                s2: vec![0.0; k],
            };
            let mut terms = vec![0.0; k];
            for &x in chunk {
                for (((t, c), i), m) in terms.iter_mut().zip(&consts).zip(&inv2v).zip(&params.means)
                {
                    let d = x - m;
                    *t = c - d * d * i;
                }
                let lse = log_sum_exp(&terms);
                s.ll += lse;
                for (j, t) in terms.iter().enumerate() {
                    let r = (t - lse).exp();
                    let d = x - params.means[j];
                    s.count[j] += r;
                    s.s1[j] += r * d;
                    s.s2[j] += r * d * d;
                }
            }
            s
        })
        .collect();
    let mut total = Stats {
        ll: 0.0,
        count: vec![0.0; k],
        s1: vec![0.0; k],
        s2: vec![0.0; k],
    };
    for p in parts {
        total.ll += p.ll;
        for j in 0..k {
            total.count[j] += p.count[j];
            total.s1[j] += p.s1[j];
            total.s2[j] += p.s2[j];
        }
    }
    total
}

/// ln Σ exp(t), stable; -inf terms (weight-0 components) contribute 0.
fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}
