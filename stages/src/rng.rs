//! Seeded random streams and the few distributions the crate draws from:
//! the synthetic corpus, initialisations (pLSA, GMM, the MLP probe), splits
//! and the bootstrap.
//!
//! Results are content-addressed by their parameters, seed included, so the
//! numbers behind a seed must never change with a dependency upgrade: a
//! SplitMix64 and textbook samplers that we own give exactly that. The
//! corpus derives a stream per (corpus seed, purpose, track) ([`Rng::derive`]),
//! so adding a table or a track never shifts the numbers of another.

/// SplitMix64 (Steele, Lea and Flood 2014): one u64 of state, full period,
/// passes BigCrush; plenty for synthesis, sampling and initialisation.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent stream for one purpose: blake3 over the corpus seed
    /// and a path of names (e.g. `["tag", "syn_l00042"]`).
    pub fn derive(seed: u64, path: &[&str]) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"mdr-synth-v1");
        hasher.update(&seed.to_le_bytes());
        for part in path {
            // Length-prefixed so ["ab", "c"] and ["a", "bc"] differ.
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        Rng::new(u64::from_le_bytes(first))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in (0, 1]: safe under a logarithm.
    pub fn uniform_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform in [-1, 1), as f32: audio noise.
    pub fn noise(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    /// Uniform index in 0..n; n must be > 0 (callers pass non-empty
    /// lengths). The modulo bias is below 2^-40 for any n used here.
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal (Box-Muller; one of the pair is discarded so a
    /// stream's position never depends on a cached value).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform_open();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub fn gauss(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.normal()
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through the
    /// usual U^(1/shape) boost.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let boost = self.uniform_open().powf(1.0 / shape);
            return self.gamma(shape + 1.0) * boost;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform_open();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Dirichlet with the given concentration per component.
    pub fn dirichlet(&mut self, alpha: &[f64]) -> Vec<f64> {
        let mut draws: Vec<f64> = alpha.iter().map(|&a| self.gamma(a)).collect();
        let total: f64 = draws.iter().sum();
        if total > 0.0 {
            draws.iter_mut().for_each(|d| *d /= total);
        } else {
            let n = draws.len() as f64;
            draws.iter_mut().for_each(|d| *d = 1.0 / n);
        }
        draws
    }

    /// Poisson(lambda): Knuth's product method for small means, the normal
    /// approximation (rounded, floored at 0) above 30, where it is within a
    /// few percent and the exact shape does not matter here.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 || !lambda.is_finite() {
            return 0;
        }
        if lambda > 30.0 {
            return self.gauss(lambda, lambda.sqrt()).round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut product = self.uniform_open();
        let mut k = 0;
        while product > limit {
            product *= self.uniform_open();
            k += 1;
        }
        k
    }

    /// Geometric number of failures before a success with probability p.
    pub fn geometric(&mut self, p: f64) -> u64 {
        if p >= 1.0 {
            return 0;
        }
        (self.uniform_open().ln() / (1.0 - p).ln()).floor().max(0.0) as u64
    }

    /// An index drawn with probability proportional to `weights` (all
    /// finite and >= 0, at least one > 0; else uniform).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        if total.is_nan() || total <= 0.0 {
            return self.below(weights.len());
        }
        let mut target = self.uniform() * total;
        for (i, &w) in weights.iter().enumerate() {
            if target < w {
                return i;
            }
            target -= w;
        }
        weights.len() - 1
    }

    /// A uniformly random element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Draws from a fixed categorical distribution many times: cumulative
/// weights and a binary search, O(log n) per draw.
#[derive(Debug, Clone)]
pub struct Categorical {
    cumulative: Vec<f64>,
}

impl Categorical {
    /// `weights` finite and >= 0 with a positive sum; else every index is
    /// equally likely.
    pub fn new(weights: &[f64]) -> Self {
        let usable =
            weights.iter().all(|w| w.is_finite() && *w >= 0.0) && weights.iter().sum::<f64>() > 0.0;
        let mut total = 0.0;
        let cumulative = weights
            .iter()
            .map(|&w| {
                total += if usable { w } else { 1.0 };
                total
            })
            .collect();
        Categorical { cumulative }
    }

    pub fn draw(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.uniform() * total;
        self.cumulative
            .partition_point(|&c| c <= target)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_streams_differ_by_path_and_seed() {
        let a = Rng::derive(1, &["tag", "x"]).next_u64();
        assert_ne!(a, Rng::derive(1, &["ta", "gx"]).next_u64());
        assert_ne!(a, Rng::derive(2, &["tag", "x"]).next_u64());
        assert_eq!(a, Rng::derive(1, &["tag", "x"]).next_u64());
    }

    #[test]
    fn samplers_have_their_means() {
        let mut rng = Rng::new(7);
        let n = 20_000;
        let mean = |f: &mut dyn FnMut() -> f64| (0..n).map(|_| f()).sum::<f64>() / n as f64;
        assert!((mean(&mut || rng.normal()) - 0.0).abs() < 0.03);
        assert!((mean(&mut || rng.gamma(2.5)) - 2.5).abs() < 0.06);
        assert!((mean(&mut || rng.gamma(0.3)) - 0.3).abs() < 0.02);
        assert!((mean(&mut || rng.poisson(4.0) as f64) - 4.0).abs() < 0.06);
        assert!((mean(&mut || rng.poisson(80.0) as f64) - 80.0).abs() < 0.3);
        assert!((mean(&mut || rng.geometric(0.25) as f64) - 3.0).abs() < 0.1);
        let cat = Categorical::new(&[1.0, 0.0, 3.0]);
        let draws: Vec<usize> = (0..n).map(|_| cat.draw(&mut rng)).collect();
        assert!(!draws.contains(&1));
        let share = draws.iter().filter(|&&d| d == 2).count() as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.02);
    }
}
