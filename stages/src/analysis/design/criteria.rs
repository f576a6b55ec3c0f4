//! The two criteria of Algorithm 2, unbalance and aliasing, kept as running
//! tallies of a design so that scoring one more run costs a few dozen
//! operations instead of a pass over every run of the design.

use crate::study::{Source, Strategy};

/// Columns of the model matrix before the sources: one indicator per
/// strategy, in `Strategy::ALL` order.
pub(super) const STRATEGIES: usize = Strategy::ALL.len();

/// The most model-matrix columns a design can have.
const MAX_COLUMNS: usize = STRATEGIES + Source::ALL.len();

/// One run as the criteria see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Point {
    /// Index into `Strategy::ALL`.
    pub strategy: usize,
    /// Bit i set when the design's i-th source (canonical order) is present.
    pub mask: u32,
}

impl Point {
    fn size(self) -> usize {
        self.mask.count_ones() as usize
    }

    /// Bit c set when model-matrix column c is 1 in this run's row.
    fn columns(self) -> u64 {
        (1u64 << self.strategy) | (u64::from(self.mask) << STRATEGIES)
    }
}

/// Level counts and model-matrix cross products of a set of runs.
///
/// The factors are strategy (6 levels), number of sources (1..=m) and the
/// presence of each source (2 levels). The model matrix has the 6 strategy
/// indicators and then the m source indicators (n is their sum, so it has
/// no column of its own).
#[derive(Debug, Clone)]
pub(super) struct Tally {
    sources: usize,
    runs: usize,
    strategy: [usize; STRATEGIES],
    /// Runs per number of sources, indexed 0..=sources.
    size: Vec<usize>,
    /// `[columns, columns]`: runs in which both columns are 1; the
    /// diagonal holds the column sums.
    cross: Vec<usize>,
}

impl Tally {
    pub fn new(sources: usize) -> Self {
        let columns = STRATEGIES + sources;
        Tally {
            sources,
            runs: 0,
            strategy: [0; STRATEGIES],
            size: vec![0; sources + 1],
            cross: vec![0; columns * columns],
        }
    }

    pub fn columns(&self) -> usize {
        STRATEGIES + self.sources
    }

    pub fn add(&mut self, p: Point) {
        self.update(p, true);
    }

    pub fn remove(&mut self, p: Point) {
        self.update(p, false);
    }

    fn update(&mut self, p: Point, add: bool) {
        let step = |count: &mut usize| {
            if add {
                *count += 1;
            } else {
                *count -= 1;
            }
        };
        step(&mut self.runs);
        step(&mut self.strategy[p.strategy]);
        step(&mut self.size[p.size()]);
        let columns = self.columns();
        let bits = p.columns();
        for i in (0..columns).filter(|i| bits >> i & 1 == 1) {
            for j in (0..columns).filter(|j| bits >> j & 1 == 1) {
                step(&mut self.cross[i * columns + j]);
            }
        }
    }

    fn present(&self, source: usize) -> usize {
        let c = STRATEGIES + source;
        self.cross[c * self.columns() + c]
    }

    /// The largest spread (max - min count) between the levels of any
    /// factor once `extra` is added, counting only the levels that some run
    /// of `open` still has: a level no remaining run can fill is exhausted
    /// and left out (the paper's footnote 7).
    pub fn unbalance(&self, open: &Tally, extra: Option<Point>) -> usize {
        let plus = |hit: bool| usize::from(hit);
        let strategy = (0..STRATEGIES)
            .filter(|&l| open.strategy[l] > 0)
            .map(|l| self.strategy[l] + plus(extra.is_some_and(|p| p.strategy == l)));
        let size = (1..=self.sources)
            .filter(|&n| open.size[n] > 0)
            .map(|n| self.size[n] + plus(extra.is_some_and(|p| p.size() == n)));
        let mut worst = spread(strategy).max(spread(size));
        let runs = self.runs + plus(extra.is_some());
        for s in 0..self.sources {
            let present = self.present(s) + plus(extra.is_some_and(|p| p.mask >> s & 1 == 1));
            let open_present = open.present(s) > 0;
            let open_absent = open.present(s) < open.runs;
            if open_present && open_absent {
                worst = worst.max(present.abs_diff(runs - present));
            }
        }
        worst
    }

    /// The largest absolute correlation between model-matrix columns of
    /// different factors once `extra` is added. Strategy indicators are
    /// levels of one factor, mutually exclusive by construction, so their
    /// pairs are not aliasing and are skipped.
    pub fn max_abs_alias(&self, extra: Option<Point>) -> f64 {
        let columns = self.columns();
        let bits = extra.map_or(0, Point::columns);
        let inv_sd = self.inverse_sds(bits);
        let n = (self.runs + usize::from(extra.is_some())) as f64;
        let mut worst: f64 = 0.0;
        for i in 0..columns {
            for j in (i + 1).max(STRATEGIES)..columns {
                let c = self.correlation(i, j, bits, n, &inv_sd);
                worst = worst.max(c.abs());
            }
        }
        worst
    }

    /// `[columns]`: 1 / (n * standard deviation of the column), 0 for a
    /// constant column, with the run whose columns are `bits` added. On the
    /// stack: this runs for every candidate of every step.
    fn inverse_sds(&self, bits: u64) -> [f64; MAX_COLUMNS] {
        let n = (self.runs + usize::from(bits != 0)) as f64;
        let mut inv = [0.0; MAX_COLUMNS];
        for (i, v) in inv.iter_mut().enumerate().take(self.columns()) {
            let sum = self.sum_with(i, bits);
            let scaled_var = n * sum - sum * sum;
            if scaled_var > 0.0 {
                *v = 1.0 / scaled_var.sqrt();
            }
        }
        inv
    }

    fn sum_with(&self, i: usize, bits: u64) -> f64 {
        (self.cross[i * self.columns() + i] + usize::from(bits >> i & 1 == 1)) as f64
    }

    /// Pearson correlation from counts: (n C_ij - S_i S_j) / sqrt((n S_i -
    /// S_i^2)(n S_j - S_j^2)); 0 when either column is constant (a column
    /// without variation carries no effect that could be aliased).
    fn correlation(&self, i: usize, j: usize, bits: u64, n: f64, inv_sd: &[f64]) -> f64 {
        let both = usize::from(bits >> i & 1 == 1 && bits >> j & 1 == 1);
        let cross = (self.cross[i * self.columns() + j] + both) as f64;
        let cov = n * cross - self.sum_with(i, bits) * self.sum_with(j, bits);
        cov * inv_sd[i] * inv_sd[j]
    }

    /// The correlation matrix of the non-constant columns, with their
    /// indices (labels are the caller's).
    pub fn correlations(&self) -> (Vec<usize>, Vec<f64>) {
        let inv_sd = self.inverse_sds(0);
        let kept: Vec<usize> = (0..self.columns()).filter(|&i| inv_sd[i] > 0.0).collect();
        let n = self.runs as f64;
        let values = kept
            .iter()
            .flat_map(|&i| {
                let inv_sd = &inv_sd;
                kept.iter().map(move |&j| {
                    if i == j {
                        1.0
                    } else {
                        self.correlation(i, j, 0, n, inv_sd)
                    }
                })
            })
            .collect();
        (kept, values)
    }
}

/// max - min of some counts; 0 for fewer than two.
fn spread(counts: impl Iterator<Item = usize>) -> usize {
    let (lo, hi, len) = counts.fold((usize::MAX, 0, 0), |(lo, hi, len), c| {
        (lo.min(c), hi.max(c), len + 1)
    });
    if len < 2 {
        0
    } else {
        hi - lo
    }
}
