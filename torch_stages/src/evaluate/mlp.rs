//! The MLP probe (SPEC 6; the paper's section 4.4.2): two hidden layers of
//! 256 ReLU units trained by Adam, as scikit-learn's `MLPClassifier` /
//! `MLPRegressor(hidden_layer_sizes=(256, 256))` with default settings,
//! which is what the paper ran. Computed on the CPU in float32, the dtype
//! of the representations: libtorch (tch) does the matrix products, the
//! backward pass is written out as scikit-learn's `_backprop` is, and the
//! Adam update is one fused pass (about half the time per step of
//! autograd plus an Adam made of tensor operations). A step copies no
//! parameters and allocates no buffers: libtorch writes its products into
//! buffers made once per training, and the loss, the ReLU masks and Adam
//! work on the same buffers in place.
//!
//! Threads: every product and weight update of a step is cut into two
//! fixed halves run as rayon tasks ([`both`]). While every core has a
//! repeat of its own, each thread runs its halves in turn; a core left
//! idle (fewer repeats left than cores) takes halves of the repeats still
//! running ([`super::probe::probe_repeats`] keeps it from falling
//! asleep). The halves depend on the shapes only, so the results do not
//! depend on the number of threads (tested).
//!
//! scikit-learn's conventions, reproduced (checked against scikit-learn
//! 1.9 in `tests/reference/evaluate/`):
//!
//! * init: every weight and bias uniform in +-sqrt(6 / (fan_in + fan_out));
//! * loss per mini-batch of b samples: mean cross-entropy of the softmax
//!   (classification) or half the mean squared error (regression), plus
//!   0.5 * alpha * sum |W|^2 / b over the weights (not the biases), alpha
//!   = 1e-4;
//! * Adam with lr 1e-3, beta 0.9 / 0.999, eps 1e-8 added to sqrt(v) with
//!   the bias correction folded into the step size (scikit-learn's form);
//! * b = min(200, n); one iteration = one epoch over the reshuffled
//!   training set, at most 200;
//! * stopping: scikit-learn stops when the epoch's mean training loss has
//!   not improved on the best so far by more than tol = 1e-4 for more than
//!   10 consecutive epochs. We do the same: the paper's numbers come from
//!   that rule, and an MLP trained on after its loss has flattened only
//!   overfits further.
//!
//! Differences, by design: two classes get a two-way softmax (scikit-learn
//! uses one logistic unit: the same model family); the output layer has a
//! unit for every class of the dataset, also for classes absent from the
//! training part (scikit-learn knows only the training classes; such a
//! class is never predicted in either). Random numbers (init, batch order)
//! come from our own seeded stream, never libtorch's global generator, so
//! concurrent stages cannot disturb each other's results.

use tch::{Device, Kind, Tensor};
use thiserror::Error;

use stages::rng::Rng;

#[derive(Debug, Error, PartialEq)]
pub enum MlpError {
    #[error("{0}")]
    Shape(String),
    #[error("sample {sample}: {what}")]
    Target { sample: usize, what: String },
    #[error("setting `{name}`: {rule}")]
    Setting {
        name: &'static str,
        rule: &'static str,
    },
    #[error("training diverged at epoch {epoch}: the loss is {loss}")]
    Diverged { epoch: usize, loss: f64 },
}

/// What the probe predicts, one entry per training sample.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Classes {
        of_sample: &'a [usize],
        n_classes: usize,
    },
    Values(&'a [f64]),
}

impl Target<'_> {
    fn len(&self) -> usize {
        match self {
            Target::Classes { of_sample, .. } => of_sample.len(),
            Target::Values(values) => values.len(),
        }
    }

    fn outputs(&self) -> usize {
        match self {
            Target::Classes { n_classes, .. } => *n_classes,
            Target::Values(_) => 1,
        }
    }
}

/// Training settings; `Default` gives scikit-learn's defaults with
/// hidden_layer_sizes = (256, 256).
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    pub hidden: Vec<usize>,
    pub learning_rate: f64,
    /// L2 penalty (scikit-learn's `alpha`).
    pub alpha: f64,
    pub max_batch: usize,
    pub max_epochs: usize,
    pub tol: f64,
    pub n_iter_no_change: usize,
    /// Reshuffle the training set every epoch.
    pub shuffle: bool,
    /// Seed of the initialisation and of the batch order.
    pub seed: u64,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            hidden: vec![256, 256],
            learning_rate: 1e-3,
            alpha: 1e-4,
            max_batch: 200,
            max_epochs: 200,
            tol: 1e-4,
            n_iter_no_change: 10,
            shuffle: true,
            seed: 0,
        }
    }
}

impl MlpConfig {
    fn check(&self) -> Result<(), MlpError> {
        let bad = |name, rule| Err(MlpError::Setting { name, rule });
        if self.hidden.contains(&0) {
            return bad("hidden", "layer sizes must be positive");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", "must be finite and > 0");
        }
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return bad("alpha", "must be finite and >= 0");
        }
        if self.max_batch == 0 || self.max_epochs == 0 {
            return bad("max_batch / max_epochs", "must be positive");
        }
        Ok(())
    }
}

/// How training went.
#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    /// Mean loss of each epoch (penalty included), as scikit-learn's
    /// `loss_curve_`.
    pub loss_curve: Vec<f64>,
    /// Whether the stopping rule ended training before `max_epochs`.
    pub stopped_early: bool,
}

/// One fully connected layer: `w: [fan_in, fan_out]` and `b: [fan_out]`,
/// contiguous float32 CPU tensors that libtorch multiplies and Adam
/// updates in place (see [`values_mut`]), with Adam's moment estimates.
struct Layer {
    fan_in: usize,
    fan_out: usize,
    w: Tensor,
    b: Tensor,
    adam_w: Moments,
    adam_b: Moments,
}

/// Adam's first and second moments of one parameter array.
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Moments {
    fn new(n: usize) -> Moments {
        Moments {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }
}

/// A multi-layer perceptron with ReLU hidden units.
pub struct Mlp {
    layers: Vec<Layer>,
}

/// The buffers of one training run, allocated once so that a step
/// allocates none: the batch's features `x: [batch, d]`, each layer's
/// activations and deltas `[batch, fan_out]` (a shorter last batch uses
/// their first rows) and gradients `dw: [fan_in, fan_out]`, `db:
/// [fan_out]`.
struct Workspace {
    x: Tensor,
    activations: Vec<Tensor>,
    deltas: Vec<Tensor>,
    dw: Vec<Tensor>,
    db: Vec<Vec<f32>>,
}

/// Views of a workspace for the batches of one size, made once per size
/// (a view costs about a microsecond; a step needs fifty).
struct Views {
    layers: Vec<LayerViews>,
}

/// The two halves (see [`halves`]) of each product of one layer's step:
/// `forward` = [input rows, output rows, w, b]; `dw` = [input columns
/// transposed, delta, dw rows]; `below` (not for the first layer) = [delta
/// rows, w transposed, delta rows below, input rows]. `delta` is the
/// layer's whole delta.
struct LayerViews {
    forward: [[Tensor; 4]; 2],
    dw: [[Tensor; 3]; 2],
    below: Option<[[Tensor; 4]; 2]>,
    delta: Tensor,
}

/// The checked training targets: class indices, or values in float32.
enum Truth<'a> {
    Classes(&'a [usize]),
    Values(Vec<f32>),
}

impl Mlp {
    /// Layer sizes `sizes = [inputs, hidden.., outputs]`, Glorot-uniform
    /// weights and biases as scikit-learn draws them.
    pub fn glorot(sizes: &[usize], seed: u64) -> Mlp {
        let mut rng = Rng::derive(seed, &["evaluate/mlp-init"]);
        let layers = sizes
            .windows(2)
            .map(|pair| {
                let (fan_in, fan_out) = (pair[0], pair[1]);
                let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
                let mut draw = |n: usize| -> Vec<f32> {
                    (0..n).map(|_| rng.range(-bound, bound) as f32).collect()
                };
                let w = draw(fan_in * fan_out);
                let b = draw(fan_out);
                Layer::new(&w, &b, fan_in, fan_out)
            })
            .collect();
        Mlp { layers }
    }

    /// Given weights, each `(w: [fan_in, fan_out] row-major, b: [fan_out])`.
    pub fn from_weights(
        sizes: &[usize],
        weights: &[(Vec<f32>, Vec<f32>)],
    ) -> Result<Mlp, MlpError> {
        if weights.len() + 1 != sizes.len() {
            return Err(MlpError::Shape(format!(
                "{} layer sizes need {} weight matrices, got {}",
                sizes.len(),
                sizes.len().saturating_sub(1),
                weights.len()
            )));
        }
        let mut layers = Vec::with_capacity(weights.len());
        for (k, (pair, (w, b))) in sizes.windows(2).zip(weights).enumerate() {
            if w.len() != pair[0] * pair[1] || b.len() != pair[1] {
                return Err(MlpError::Shape(format!(
                    "layer {k}: expected {}x{} weights and {} biases, got {} and {}",
                    pair[0],
                    pair[1],
                    pair[1],
                    w.len(),
                    b.len()
                )));
            }
            layers.push(Layer::new(w, b, pair[0], pair[1]));
        }
        Ok(Mlp { layers })
    }

    /// Trains on `x: [n, d]` (row-major) and `target` (n entries).
    pub fn train(
        &mut self,
        x: &[f32],
        target: &Target,
        config: &MlpConfig,
    ) -> Result<Training, MlpError> {
        config.check()?;
        let (n, d) = self.check_input(x, target.len())?;
        if n == 0 {
            return Err(MlpError::Shape("no training sample".into()));
        }
        let outputs = self.layers.last().map_or(0, |l| l.fan_out);
        if outputs != target.outputs() {
            return Err(MlpError::Shape(format!(
                "the network has {outputs} outputs, the target needs {}",
                target.outputs()
            )));
        }
        let truth = truth(target)?;
        let batch = config.max_batch.min(n);
        let mut work = Workspace::new(&self.layers, batch, d);
        // Every batch has `batch` rows but a shorter last one.
        let views: Vec<Views> = [batch, n % batch]
            .into_iter()
            .filter(|&rows| rows > 0)
            .map(|rows| Views::new(&self.layers, &work, rows))
            .collect();
        let mut rng = Rng::derive(config.seed, &["evaluate/mlp-batches"]);
        let mut order: Vec<usize> = (0..n).collect();
        let mut step = 0i32;
        let mut squares = self.weight_squares();
        let mut best = f64::INFINITY;
        let mut no_improvement = 0;
        let mut loss_curve = Vec::new();
        for epoch in 1..=config.max_epochs {
            if config.shuffle {
                rng.shuffle(&mut order);
            }
            let mut total = 0.0;
            for chunk in order.chunks(batch) {
                let b = chunk.len() as f64;
                step += 1;
                let adam = Adam::new(step, config.learning_rate, config.alpha / b);
                work.gather(x, d, chunk);
                let views = &views[usize::from(chunk.len() < batch)];
                let (data_loss, next_squares) = self.step(&mut work, views, chunk, &truth, adam);
                total += (data_loss + 0.5 * config.alpha * squares / b) * b;
                squares = next_squares;
            }
            let epoch_loss = total / n as f64;
            if !epoch_loss.is_finite() {
                return Err(MlpError::Diverged {
                    epoch,
                    loss: epoch_loss,
                });
            }
            loss_curve.push(epoch_loss);
            // scikit-learn's rule (`_update_no_improvement_count`).
            if epoch_loss > best - config.tol {
                no_improvement += 1;
            } else {
                no_improvement = 0;
            }
            best = best.min(epoch_loss);
            if no_improvement > config.n_iter_no_change {
                return Ok(Training {
                    loss_curve,
                    stopped_early: epoch < config.max_epochs,
                });
            }
        }
        Ok(Training {
            loss_curve,
            stopped_early: false,
        })
    }

    /// One training step on the batch `rows` (gathered into `work.x`):
    /// the forward pass, then from the output layer down each layer's
    /// gradients of the batch's averaged data loss and its Adam update
    /// (while its buffers are still in the cache). Returns that loss and
    /// sum |W|^2 after the update (the next batch's penalty).
    /// Backpropagation by hand, as scikit-learn's `_backprop`: the output
    /// delta is (softmax - onehot) / b or (output - y) / b, and a hidden
    /// delta is zeroed where the unit's activation is zero (the ReLU's
    /// derivative); a layer's update waits for the delta below, which
    /// needs its weights before the update.
    fn step(
        &mut self,
        work: &mut Workspace,
        views: &Views,
        rows: &[usize],
        truth: &Truth,
        adam: Adam,
    ) -> (f64, f64) {
        let last = self.layers.len() - 1;
        for (k, layer) in views.layers.iter().enumerate() {
            let hidden = k < last;
            halves(&layer.forward, |[input, mut out, w, b]| {
                let _ = b.addmm_out(&out, &input, &w);
                if hidden {
                    let _ = out.relu_();
                }
            });
        }
        let width = self.layers[last].fan_out;
        let out = &values(&work.activations[last])[..rows.len() * width];
        let delta = &mut values_mut(&mut work.deltas[last])[..rows.len() * width];
        let loss = output_delta(out, delta, width, rows, truth);
        let mut squares = 0.0;
        for (k, layer) in self.layers.iter_mut().enumerate().rev() {
            let view = &views.layers[k];
            halves(&view.dw, |[input_t, delta, dw]| {
                let _ = input_t.mm_out(&dw, &delta);
            });
            column_sums(values(&view.delta), layer.fan_out, &mut work.db[k]);
            if let Some(below) = &view.below {
                halves(below, |[delta, w_t, mut below, input]| {
                    let _ = delta.mm_out(&below, &w_t);
                    for (d, &a) in values_mut(&mut below).iter_mut().zip(values(&input)) {
                        // A select, not a branch, so that it vectorises.
                        *d = if a == 0.0 { 0.0 } else { *d };
                    }
                });
            }
            squares += layer.update(&work.dw[k], &work.db[k], adam);
        }
        (loss, squares)
    }

    fn weight_squares(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| sum_of_squares(values(&l.w)))
            .sum()
    }

    fn check_input(&self, x: &[f32], n: usize) -> Result<(usize, usize), MlpError> {
        let d = self.layers.first().map_or(0, |l| l.fan_in);
        if x.len() != n * d {
            return Err(MlpError::Shape(format!(
                "{} feature values for {n} samples of {d} dimensions",
                x.len()
            )));
        }
        Ok((n, d))
    }

    /// The network's outputs for `x: [n, d]`: `[n, out]` row-major.
    fn outputs(&self, x: &[f32], n: usize) -> Result<(Vec<f32>, usize), MlpError> {
        let (n, d) = self.check_input(x, n)?;
        let mut a = Tensor::from_slice(x).view([n as i64, d as i64]);
        for (k, layer) in self.layers.iter().enumerate() {
            a = layer.b.addmm(&a, &layer.w);
            if k + 1 < self.layers.len() {
                let _ = a.relu_();
            }
        }
        let width = self.layers.last().map_or(d, |l| l.fan_out);
        Ok((values(&a).to_vec(), width))
    }

    /// The most probable class of each of the `n` samples of `x`.
    pub fn predict_classes(&self, x: &[f32], n: usize) -> Result<Vec<usize>, MlpError> {
        let (out, width) = self.outputs(x, n)?;
        Ok(out
            .chunks(width.max(1))
            .map(|row| {
                // First maximum, as numpy's argmax.
                let mut best = 0;
                for (k, v) in row.iter().enumerate() {
                    if *v > row[best] {
                        best = k;
                    }
                }
                best
            })
            .collect())
    }

    /// The regression output for each of the `n` samples of `x`.
    pub fn predict_values(&self, x: &[f32], n: usize) -> Result<Vec<f64>, MlpError> {
        let (out, _) = self.outputs(x, n)?;
        Ok(out.into_iter().map(f64::from).collect())
    }
}

impl Workspace {
    fn new(layers: &[Layer], batch: usize, d: usize) -> Workspace {
        let zeros = |rows: usize, cols: usize| {
            Tensor::zeros([rows as i64, cols as i64], (Kind::Float, Device::Cpu))
        };
        Workspace {
            x: zeros(batch, d),
            activations: layers.iter().map(|l| zeros(batch, l.fan_out)).collect(),
            deltas: layers.iter().map(|l| zeros(batch, l.fan_out)).collect(),
            dw: layers.iter().map(|l| zeros(l.fan_in, l.fan_out)).collect(),
            db: layers.iter().map(|l| vec![0.0; l.fan_out]).collect(),
        }
    }

    /// The rows `rows` of `x: [n, d]` into the first rows of `self.x`.
    fn gather(&mut self, x: &[f32], d: usize, rows: &[usize]) {
        for (to, &row) in values_mut(&mut self.x).chunks_exact_mut(d).zip(rows) {
            to.copy_from_slice(&x[row * d..(row + 1) * d]);
        }
    }

    /// The input of layer `k`: the features or the activations below.
    fn input(&self, k: usize) -> &Tensor {
        match k {
            0 => &self.x,
            _ => &self.activations[k - 1],
        }
    }
}

impl Views {
    fn new(layers: &[Layer], work: &Workspace, rows: usize) -> Views {
        let n = rows as i64;
        let layers = layers
            .iter()
            .enumerate()
            .map(|(k, layer)| {
                let input = work.input(k).narrow(0, 0, n);
                let delta = work.deltas[k].narrow(0, 0, n);
                let [i0, i1] = cut(&input, 0);
                let [o0, o1] = cut(&work.activations[k].narrow(0, 0, n), 0);
                let [c0, c1] = cut(&input, 1);
                let [g0, g1] = cut(&work.dw[k], 0);
                let [d0, d1] = cut(&delta, 0);
                let (w, b) = (&layer.w, &layer.b);
                let below = (k > 0).then(|| {
                    let [l0, l1] = cut(&work.deltas[k - 1].narrow(0, 0, n), 0);
                    [
                        [d0.shallow_clone(), w.tr(), l0, i0.shallow_clone()],
                        [d1, w.tr(), l1, i1.shallow_clone()],
                    ]
                });
                LayerViews {
                    forward: [
                        [i0, o0, w.shallow_clone(), b.shallow_clone()],
                        [i1, o1, w.shallow_clone(), b.shallow_clone()],
                    ],
                    dw: [
                        [c0.tr(), delta.shallow_clone(), g0],
                        [c1.tr(), delta.shallow_clone(), g1],
                    ],
                    below,
                    delta,
                }
            })
            .collect();
        Views { layers }
    }
}

/// `t` cut in two halves along `dim`, at half its size.
fn cut(t: &Tensor, dim: i64) -> [Tensor; 2] {
    let n = t.size()[dim as usize];
    [t.narrow(dim, 0, n / 2), t.narrow(dim, n / 2, n - n / 2)]
}

/// The batch's mean data loss from the output layer's values `out: [b,
/// width]`, and the output delta written into `delta: [b, width]`.
fn output_delta(
    out: &[f32],
    delta: &mut [f32],
    width: usize,
    rows: &[usize],
    truth: &Truth,
) -> f64 {
    let b = rows.len() as f32;
    let mut loss = 0.0;
    match truth {
        Truth::Classes(of_sample) => {
            let samples = out.chunks_exact(width).zip(delta.chunks_exact_mut(width));
            for ((z, delta), &row) in samples.zip(rows) {
                let class = of_sample[row];
                let max = z.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                let mut sum = 0.0f32;
                for (e, &v) in delta.iter_mut().zip(z) {
                    *e = (v - max).exp();
                    sum += *e;
                }
                loss -= f64::from(z[class] - max - sum.ln());
                for (j, p) in delta.iter_mut().enumerate() {
                    let hit = if j == class { 1.0 } else { 0.0 };
                    *p = (*p / sum - hit) / b;
                }
            }
            loss / f64::from(b)
        }
        Truth::Values(values) => {
            for ((&o, d), &row) in out.iter().zip(delta).zip(rows) {
                let diff = o - values[row];
                loss += f64::from(diff * diff);
                *d = diff / b;
            }
            0.5 * loss / f64::from(b)
        }
    }
}

/// Runs `work` on two pieces of one computation as two rayon tasks: in a
/// busy pool this thread runs both in turn, while an idle core takes the
/// second (so the last repeat of an evaluation gets every core). Outside
/// a rayon pool, in turn here: a hop into the pool for every piece would
/// cost more than it saves. The pieces do not depend on the number of
/// threads, so neither do the results.
fn both<T: Send, R: Send>(first: T, second: T, work: impl Fn(T) -> R + Sync) -> (R, R) {
    if rayon::current_thread_index().is_some() {
        rayon::join(|| work(first), || work(second))
    } else {
        (work(first), work(second))
    }
}

/// [`both`] on the two halves of a product, each a set of views (see
/// [`LayerViews`]); a `Tensor` may move to another thread but not be
/// shared with one, hence the handles made here.
fn halves<const N: usize>(views: &[[Tensor; N]; 2], work: impl Fn([Tensor; N]) + Sync) {
    let [first, second] = views
        .each_ref()
        .map(|half| half.each_ref().map(Tensor::shallow_clone));
    both(first, second, work);
}

/// The values of a contiguous float32 CPU tensor in place, without a copy:
/// the loss, the ReLU masks and Adam work on the buffers libtorch uses.
fn values(t: &Tensor) -> &[f32] {
    match plain_len(t) {
        0 => &[],
        // SAFETY: `t` is a contiguous float32 CPU tensor (`plain_len`), so
        // `data_ptr` points at `n` initialised, aligned floats. The slice
        // borrows `t`; this module writes a buffer only through
        // `values_mut` or libtorch calls made while no slice of it lives.
        n => unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, n) },
    }
}

/// [`values`], writable.
fn values_mut(t: &mut Tensor) -> &mut [f32] {
    match plain_len(t) {
        0 => &mut [],
        // SAFETY: as in `values`; the slice borrows `t` mutably, and no
        // other view of the same values is used while it lives.
        n => unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n) },
    }
}

/// The number of values of `t`, which must be a contiguous float32 CPU
/// tensor (every tensor of this module is).
fn plain_len(t: &Tensor) -> usize {
    assert!(
        t.kind() == Kind::Float && t.device() == Device::Cpu && t.is_contiguous(),
        "the MLP's buffers are contiguous float32 CPU tensors"
    );
    t.numel()
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f32 = 1e-8;

/// scikit-learn's Adam on one array, fused into one pass: g = grad + l2 *
/// p; m and v moving averages; p -= rate * m / (sqrt(v) + eps), with the
/// bias correction folded into `rate`. Returns sum p^2 after the update.
fn adam_update(
    p: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    rate: f32,
    l2: f32,
) -> f64 {
    let (b1, b2) = (BETA1 as f32, BETA2 as f32);
    for (((p, &g), m), v) in p.iter_mut().zip(grad).zip(m).zip(v) {
        let g = g + l2 * *p;
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *p -= rate * *m / (v.sqrt() + EPS);
    }
    sum_of_squares(p)
}

/// sum p^2 in 16 float32 lanes (so that it vectorises), added up in f64.
fn sum_of_squares(p: &[f32]) -> f64 {
    const LANES: usize = 16;
    let mut lanes = [0.0f32; LANES];
    let chunks = p.chunks_exact(LANES);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    for chunk in chunks {
        for (acc, &v) in lanes.iter_mut().zip(chunk) {
            *acc += v * v;
        }
    }
    lanes.iter().map(|&v| f64::from(v)).sum::<f64>() + tail
}

/// The column sums of `delta: [b, width]` into `sums: [width]`.
fn column_sums(delta: &[f32], width: usize, sums: &mut [f32]) {
    sums.fill(0.0);
    for row in delta.chunks_exact(width) {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

/// The settings of one Adam step: the step size with scikit-learn's bias
/// correction folded in, and the L2 term's factor (alpha / b).
#[derive(Clone, Copy)]
struct Adam {
    rate: f32,
    l2: f32,
}

impl Adam {
    fn new(step: i32, lr: f64, l2: f64) -> Adam {
        let rate = lr * (1.0 - BETA2.powi(step)).sqrt() / (1.0 - BETA1.powi(step));
        Adam {
            rate: rate as f32,
            l2: l2 as f32,
        }
    }
}

impl Layer {
    /// One Adam step on the layer's parameters given their gradients, the
    /// L2 term's gradient (`l2 * W`) added to the weights'. Returns sum
    /// |W|^2 after the step.
    fn update(&mut self, dw: &Tensor, db: &[f32], adam: Adam) -> f64 {
        let w = values_mut(&mut self.w);
        let half = w.len() / 2;
        let (w, g) = (w.split_at_mut(half), values(dw).split_at(half));
        let (m, v) = (
            self.adam_w.m.split_at_mut(half),
            self.adam_w.v.split_at_mut(half),
        );
        let (first, second) = both(
            (w.0, g.0, m.0, v.0),
            (w.1, g.1, m.1, v.1),
            |(w, g, m, v)| adam_update(w, g, m, v, adam.rate, adam.l2),
        );
        let b = values_mut(&mut self.b);
        adam_update(
            b,
            db,
            &mut self.adam_b.m,
            &mut self.adam_b.v,
            adam.rate,
            0.0,
        );
        first + second
    }

    fn new(w: &[f32], b: &[f32], fan_in: usize, fan_out: usize) -> Layer {
        Layer {
            fan_in,
            fan_out,
            w: Tensor::from_slice(w).view([fan_in as i64, fan_out as i64]),
            b: Tensor::from_slice(b),
            adam_w: Moments::new(w.len()),
            adam_b: Moments::new(b.len()),
        }
    }
}

fn truth<'a>(target: &Target<'a>) -> Result<Truth<'a>, MlpError> {
    match *target {
        Target::Classes {
            of_sample,
            n_classes,
        } => {
            if let Some(sample) = of_sample.iter().position(|&c| c >= n_classes) {
                return Err(MlpError::Target {
                    sample,
                    what: format!("class {} of {n_classes}", of_sample[sample]),
                });
            }
            Ok(Truth::Classes(of_sample))
        }
        Target::Values(values) => {
            if let Some(sample) = values.iter().position(|v| !v.is_finite()) {
                return Err(MlpError::Target {
                    sample,
                    what: format!("value {} is not finite", values[sample]),
                });
            }
            Ok(Truth::Values(values.iter().map(|&v| v as f32).collect()))
        }
    }
}

/// Layer sizes for `d` inputs and `target`'s outputs.
pub fn layer_sizes(d: usize, config: &MlpConfig, target: &Target) -> Vec<usize> {
    let mut sizes = vec![d];
    sizes.extend(&config.hidden);
    sizes.push(target.outputs());
    sizes
}

/// Glorot init then training: the probe of one repeat.
pub fn fit(
    x: &[f32],
    d: usize,
    target: &Target,
    config: &MlpConfig,
) -> Result<(Mlp, Training), MlpError> {
    let mut mlp = Mlp::glorot(&layer_sizes(d, config, target), config.seed);
    let training = mlp.train(x, target, config)?;
    Ok((mlp, training))
}
