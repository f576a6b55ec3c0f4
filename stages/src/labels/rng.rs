//! A seeded random stream for initialisation.
//!
//! Results are content-addressed by their parameters, seed included, so the
//! stream behind a seed must never change with a dependency upgrade: a
//! ten-line SplitMix64 we own gives exactly that.

/// SplitMix64 (Steele, Lea and Flood 2014): one u64 of state, full period.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never exactly 0, so a multiplicative EM update
    /// can never start from a dead entry.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform index in 0..n (n > 0); the modulo bias is below 2^-40 for
    /// any n this module uses.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
