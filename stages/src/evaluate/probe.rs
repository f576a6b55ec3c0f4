//! One repeat of a classification or regression evaluation: standardise
//! the features on the training part, fit the MLP probe, score the test
//! part (accuracy or R^2).

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

/// Every repeat `(parts, config)`, run concurrently (each is independent
/// and single-streamed; see the module docs of [`super`] on threads).
pub fn probe_repeats(
    x: &[f32],
    d: usize,
    target: &Target,
    repeats: &[(&[Part], MlpConfig)],
) -> Vec<Result<ProbeScore, MlpError>> {
    repeats
        .par_iter()
        .map(|(parts, config)| probe(x, d, target, parts, config))
        .collect()
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
