//! One repeat of a classification or regression evaluation: standardise
//! the features on the training part, fit the MLP probe, score the test
//! part (accuracy or R^2).

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::metrics::{accuracy, r2};
use super::mlp::{fit, MlpConfig, MlpError, Target};
use super::splits::Part;
use super::standardize::Standardizer;

/// The outcome of one repeat.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeScore {
    /// "accuracy" or "r2".
    pub metric: &'static str,
    pub value: f64,
    pub n_train: usize,
    pub n_test: usize,
    pub epochs: usize,
    pub stopped_early: bool,
}

/// Every repeat `(parts, config)`, run concurrently: each is independent,
/// and once every repeat has started, a thread whose repeat is done takes
/// halves of the steps of those still running (see the module docs of
/// [`super`] on threads) instead of idling.
pub fn probe_repeats(
    x: &[f32],
    d: usize,
    target: &Target,
    repeats: &[(&[Part], MlpConfig)],
) -> Vec<Result<ProbeScore, MlpError>> {
    let unstarted = AtomicUsize::new(repeats.len());
    let unfinished = AtomicUsize::new(repeats.len());
    repeats
        .par_iter()
        .map(|(parts, config)| {
            unstarted.fetch_sub(1, Ordering::AcqRel);
            let score = {
                let _done = Done(&unfinished);
                probe(x, d, target, parts, config)
            };
            // Not before: the helper would start a waiting repeat inside
            // this one, nesting repeats on the stack.
            if unstarted.load(Ordering::Acquire) == 0 {
                help_until_done(&unfinished);
            }
            score
        })
        .collect()
}

/// Counts a repeat as finished when dropped, also by a panic, so that the
/// helpers stop and the panic reaches the caller.
struct Done<'a>(&'a AtomicUsize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs the rayon work there is (the halves of the steps of the repeats
/// still running) until every repeat has finished. An idle rayon thread
/// would go to sleep within microseconds, and waking it takes about as
/// long as a half (a tenth of a millisecond on a virtual machine), so the
/// repeat's own thread would mostly have run both halves by then.
fn help_until_done(unfinished: &AtomicUsize) {
    while unfinished.load(Ordering::Acquire) > 0 {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::thread::yield_now();
        }
    }
}

/// Evaluates `x: [n, d]` against `target` (n entries) on the split `parts`.
pub fn probe(
    x: &[f32],
    d: usize,
    target: &Target,
    parts: &[Part],
    config: &MlpConfig,
) -> Result<ProbeScore, MlpError> {
    let rows =
        |part: Part| -> Vec<usize> { (0..parts.len()).filter(|&i| parts[i] == part).collect() };
    let (train, test) = (rows(Part::Train), rows(Part::Test));
    if test.is_empty() {
        return Err(MlpError::Shape("the split has no test track".into()));
    }
    let scaler = Standardizer::fit(x, d, &train);
    let x_train = scaler.apply_f32(x, &train);
    let x_test = scaler.apply_f32(x, &test);
    let (metric, value, training) = match *target {
        Target::Classes {
            of_sample,
            n_classes,
        } => {
            let pick =
                |rows: &[usize]| -> Vec<usize> { rows.iter().map(|&r| of_sample[r]).collect() };
            let (y_train, y_test) = (pick(&train), pick(&test));
            let (mlp, training) = fit(
                &x_train,
                d,
                &Target::Classes {
                    of_sample: &y_train,
                    n_classes,
                },
                config,
            )?;
            let predicted = mlp.predict_classes(&x_test, test.len())?;
            ("accuracy", accuracy(&predicted, &y_test), training)
        }
        Target::Values(values) => {
            let pick = |rows: &[usize]| -> Vec<f64> { rows.iter().map(|&r| values[r]).collect() };
            let (y_train, y_test) = (pick(&train), pick(&test));
            let (mlp, training) = fit(&x_train, d, &Target::Values(&y_train), config)?;
            let predicted = mlp.predict_values(&x_test, test.len())?;
            ("r2", r2(&predicted, &y_test), training)
        }
    };
    Ok(ProbeScore {
        metric,
        value: value.unwrap_or(f64::NAN),
        n_train: train.len(),
        n_test: test.len(),
        epochs: training.loss_curve.len(),
        stopped_early: training.stopped_early,
    })
}
