//! Per-dimension standardisation fitted on the training part only, as
//! scikit-learn's `StandardScaler` (population std; a dimension that is
//! constant on the training part keeps scale 1), so that nothing about the
//! test tracks leaks into the model.

/// Mean and scale per dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardizer {
    /// Fits on the `rows` of `x: [n, d]` (row-major).
    pub fn fit(x: &[f32], d: usize, rows: &[usize]) -> Standardizer {
        let mut mean = vec![0.0f64; d];
        for &r in rows {
            for (m, &v) in mean.iter_mut().zip(&x[r * d..(r + 1) * d]) {
                *m += f64::from(v);
            }
        }
        let count = rows.len().max(1) as f64;
        mean.iter_mut().for_each(|m| *m /= count);
        let mut var = vec![0.0f64; d];
        for &r in rows {
            for ((s, &v), m) in var.iter_mut().zip(&x[r * d..(r + 1) * d]).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let scale = var
            .into_iter()
            .map(|s| {
                let sd = (s / count).sqrt();
                // scikit-learn's `_handle_zeros_in_scale`.
                if sd < 10.0 * f64::EPSILON {
                    1.0
                } else {
                    sd
                }
            })
            .collect();
        Standardizer { mean, scale }
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The standardised `rows` of `x`, stacked: `[rows.len(), d]`.
    pub fn apply(&self, x: &[f32], rows: &[usize]) -> Vec<f64> {
        let d = self.dim();
        let mut out = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            out.extend(
                x[r * d..(r + 1) * d]
                    .iter()
                    .zip(self.mean.iter().zip(&self.scale))
                    .map(|(&v, (m, s))| (f64::from(v) - m) / s),
            );
        }
        out
    }

    /// As [`Standardizer::apply`], in float32 (the probe's dtype).
    pub fn apply_f32(&self, x: &[f32], rows: &[usize]) -> Vec<f32> {
        self.apply(x, rows).into_iter().map(|v| v as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_on_the_given_rows_only() {
        // 3 rows x 2 dims; fit on rows 0 and 2: dim 0 = {1, 3}, dim 1 = {5, 5}.
        let x = [1.0, 5.0, 100.0, -7.0, 3.0, 5.0];
        let s = Standardizer::fit(&x, 2, &[0, 2]);
        let out = s.apply(&x, &[0, 1, 2]);
        // dim 0: mean 2, population sd 1; dim 1: constant, scale 1.
        assert_eq!(out, vec![-1.0, 0.0, 98.0, -12.0, 1.0, 0.0]);
    }
}
