//! The MLP probe (SPEC 6; the paper's section 4.4.2): two hidden layers of
//! 256 ReLU units trained by Adam, as scikit-learn's `MLPClassifier` /
//! `MLPRegressor(hidden_layer_sizes=(256, 256))` with default settings,
//! which is what the paper ran. Computed on the CPU in float32, the dtype
//! of the representations: libtorch (tch) does the matrix products, the
//! backward pass is written out as scikit-learn's `_backprop` is, and the
//! Adam update is one fused pass over plain buffers (about half the time
//! per step of autograd plus an Adam made of tensor operations).
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

use tch::{Kind, Tensor};
use thiserror::Error;

use crate::synth::rng::Rng;

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

/// One fully connected layer: `w: [fan_in, fan_out]` row-major, `b:
/// [fan_out]`, with Adam's moment estimates beside them.
struct Layer {
    fan_in: usize,
    fan_out: usize,
    w: Vec<f32>,
    b: Vec<f32>,
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

/// A multi-layer perceptron with ReLU hidden units. Parameters live in
/// plain buffers: libtorch does the matrix products of each step, the
/// parameter update is one fused pass here (see [`adam_update`]).
pub struct Mlp {
    layers: Vec<Layer>,
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
                Layer::new(w, b, fan_in, fan_out)
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
            layers.push(Layer::new(w.clone(), b.clone(), pair[0], pair[1]));
        }
        Ok(Mlp { layers })
    }

    /// The layers' parameters as tensors: `([fan_in, fan_out], [fan_out])`.
    fn tensors(&self) -> Vec<(Tensor, Tensor)> {
        self.layers
            .iter()
            .map(|l| {
                (
                    Tensor::from_slice(&l.w).view([l.fan_in as i64, l.fan_out as i64]),
                    Tensor::from_slice(&l.b),
                )
            })
            .collect()
    }

    /// The activations of every layer for `x`: `[x, hidden.., output]`,
    /// the output before the softmax (or the regression output).
    fn forward(params: &[(Tensor, Tensor)], x: &Tensor) -> Vec<Tensor> {
        let mut activations = vec![x.shallow_clone()];
        for (k, (w, b)) in params.iter().enumerate() {
            let mut z = b.addmm(&activations[k], w);
            if k + 1 < params.len() {
                let _ = z.relu_();
            }
            activations.push(z);
        }
        activations
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
        let _guard = tch::no_grad_guard();
        let x = Tensor::from_slice(x).view([n as i64, d as i64]);
        let y = target_tensor(target)?;
        let batch = config.max_batch.min(n);
        let mut rng = Rng::derive(config.seed, &["evaluate/mlp-batches"]);
        let mut order: Vec<i64> = (0..n as i64).collect();
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
                let index = Tensor::from_slice(chunk);
                let b = chunk.len() as f64;
                let (data_loss, grads) = self.gradients(
                    &x.index_select(0, &index),
                    &y.index_select(0, &index),
                    target,
                )?;
                total += (data_loss + 0.5 * config.alpha * squares / b) * b;
                step += 1;
                squares = self.adam_step(&grads, step, config.learning_rate, config.alpha / b);
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

    /// The batch's mean data loss and, per layer, the gradients of the
    /// summed-then-averaged data loss: `(dW: [fan_in * fan_out], db)`.
    /// Backpropagation by hand, as scikit-learn's `_backprop`: the output
    /// delta is (softmax - onehot) / b or (output - y) / b, and a hidden
    /// delta is masked by the ReLU's derivative, sign(activation).
    #[allow(clippy::type_complexity)]
    fn gradients(
        &self,
        x: &Tensor,
        y: &Tensor,
        target: &Target,
    ) -> Result<(f64, Vec<(Vec<f32>, Vec<f32>)>), MlpError> {
        let params = self.tensors();
        let activations = Mlp::forward(&params, x);
        let out = &activations[params.len()];
        let b = x.size()[0] as f64;
        let (loss, mut delta) = match target {
            Target::Classes { n_classes, .. } => {
                let log_p = out.log_softmax(1, Kind::Float);
                let loss = -log_p
                    .gather(1, &y.unsqueeze(1), false)
                    .mean(Kind::Float)
                    .double_value(&[]);
                let onehot = y.one_hot(*n_classes as i64).to_kind(Kind::Float);
                (loss, (log_p.exp() - onehot) / b)
            }
            Target::Values(_) => {
                let diff = out - y.unsqueeze(1);
                let loss = 0.5 * diff.square().mean(Kind::Float).double_value(&[]);
                (loss, diff / b)
            }
        };
        let mut grads = Vec::with_capacity(params.len());
        for k in (0..params.len()).rev() {
            let dw = activations[k].tr().mm(&delta);
            let db = delta.sum_dim_intlist([0i64].as_slice(), false, Kind::Float);
            if k > 0 {
                delta = delta.mm(&params[k].0.tr()) * activations[k].sign();
            }
            grads.push((host(&dw)?, host(&db)?));
        }
        grads.reverse();
        Ok((loss, grads))
    }

    /// One Adam step on every parameter, the L2 term's gradient (`l2 *
    /// W`, l2 = alpha / b) added to the weights'. Returns sum |W|^2 after
    /// the step (the next batch's penalty).
    fn adam_step(&mut self, grads: &[(Vec<f32>, Vec<f32>)], step: i32, lr: f64, l2: f64) -> f64 {
        let rate = (lr * (1.0 - BETA2.powi(step)).sqrt() / (1.0 - BETA1.powi(step))) as f32;
        let mut squares = 0.0;
        for (layer, (dw, db)) in self.layers.iter_mut().zip(grads) {
            squares += adam_update(&mut layer.w, dw, &mut layer.adam_w, rate, l2 as f32);
            adam_update(&mut layer.b, db, &mut layer.adam_b, rate, 0.0);
        }
        squares
    }

    fn weight_squares(&self) -> f64 {
        self.layers.iter().map(|l| sum_of_squares(&l.w)).sum()
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
        let _guard = tch::no_grad_guard();
        let params = self.tensors();
        let mut activations =
            Mlp::forward(&params, &Tensor::from_slice(x).view([n as i64, d as i64]));
        let out = activations
            .pop()
            .unwrap_or_else(|| Tensor::zeros([0, 0], (Kind::Float, tch::Device::Cpu)));
        let width = out.size().get(1).copied().unwrap_or(0) as usize;
        Ok((host(&out)?, width))
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

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f32 = 1e-8;

/// scikit-learn's Adam on one array, fused into one pass: g = grad + l2 *
/// p; m and v moving averages; p -= rate * m / (sqrt(v) + eps), with the
/// bias correction folded into `rate`. Returns sum p^2 after the update.
fn adam_update(p: &mut [f32], grad: &[f32], state: &mut Moments, rate: f32, l2: f32) -> f64 {
    let (b1, b2) = (BETA1 as f32, BETA2 as f32);
    for (((p, &g), m), v) in p.iter_mut().zip(grad).zip(&mut state.m).zip(&mut state.v) {
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

/// A tensor's values, copied out (row-major).
fn host(t: &Tensor) -> Result<Vec<f32>, MlpError> {
    Vec::<f32>::try_from(t.contiguous().view([-1])).map_err(|e| MlpError::Shape(e.to_string()))
}

impl Layer {
    fn new(w: Vec<f32>, b: Vec<f32>, fan_in: usize, fan_out: usize) -> Layer {
        Layer {
            fan_in,
            fan_out,
            adam_w: Moments::new(w.len()),
            adam_b: Moments::new(b.len()),
            w,
            b,
        }
    }
}

fn target_tensor(target: &Target) -> Result<Tensor, MlpError> {
    match target {
        Target::Classes {
            of_sample,
            n_classes,
        } => {
            let mut labels = Vec::with_capacity(of_sample.len());
            for (sample, &class) in of_sample.iter().enumerate() {
                if class >= *n_classes {
                    return Err(MlpError::Target {
                        sample,
                        what: format!("class {class} of {n_classes}"),
                    });
                }
                labels.push(class as i64);
            }
            Ok(Tensor::from_slice(&labels))
        }
        Target::Values(values) => {
            if let Some(sample) = values.iter().position(|v| !v.is_finite()) {
                return Err(MlpError::Target {
                    sample,
                    what: format!("value {} is not finite", values[sample]),
                });
            }
            let as_f32: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            Ok(Tensor::from_slice(&as_f32))
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
