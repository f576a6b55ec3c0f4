//! Standard normal draws for the bootstrap, from the crate's own seeded
//! SplitMix64 (crate::rng) so that a seed means the same draws after any
//! dependency upgrade: results are content-addressed by their seed.

use crate::rng::Rng;

/// Box-Muller pairs; the second of each pair is kept for the next call.
#[derive(Debug, Clone)]
pub struct Normal {
    uniform: Rng,
    spare: Option<f64>,
}

impl Normal {
    pub fn new(seed: u64) -> Self {
        Normal {
            uniform: Rng::new(seed),
            spare: None,
        }
    }

    pub fn sample(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // u1 in (0, 1] keeps the logarithm finite.
        let u1 = self.uniform.uniform_open();
        let u2 = self.uniform.uniform_open();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }

    /// Uniform index in 0..n, for the case bootstrap.
    pub fn index(&mut self, n: usize) -> usize {
        self.uniform.below(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_and_tails_are_those_of_a_standard_normal() {
        let mut normal = Normal::new(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| normal.sample()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let kurtosis =
            draws.iter().map(|z| (z - mean).powi(4)).sum::<f64>() / n as f64 / var.powi(2);
        // Standard errors: 0.0022, 0.0032, 0.011.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
        assert!((kurtosis - 3.0).abs() < 0.06, "kurtosis {kurtosis}");
        // P(|Z| > 1.96) = 0.05, standard error 0.0005.
        let tail = draws.iter().filter(|z| z.abs() > 1.96).count() as f64 / n as f64;
        assert!((tail - 0.05).abs() < 0.0025, "tail {tail}");
    }

    #[test]
    fn a_seed_fixes_the_draws() {
        let a: Vec<f64> = {
            let mut n = Normal::new(3);
            (0..5).map(|_| n.sample()).collect()
        };
        let mut n = Normal::new(3);
        assert!(a.iter().all(|&v| v == n.sample()));
        assert_ne!(a[0], Normal::new(4).sample());
    }
}
