//! The experimental design (SPEC 7; section 4.3 and Algorithm 2 of the
//! paper): which representations to learn.
//!
//! Factors: strategy (6 levels), the presence of each of the m sources (2
//! levels each) and, derived from them, the number of sources n. Phase 1:
//! SS-R on each source, `ssr_repeats` times. Phase 2: the five multi-source
//! strategies on all sources, `multi_repeats` times. Phase 3 (Algorithm 2):
//! from the candidates (multi-source strategy x subset of 2..m-1 sources;
//! 5 x 246 = 1230 for m = 8), `greedy_runs` times: keep the candidates
//! whose addition gives the whole design (phases 1 and 2 included) the
//! least unbalance, among them those giving the least aliasing, pick one at
//! random (seeded).
//!
//! Readings of the paper where it is terse:
//! - Unbalance: max over factors (strategy, n, each source's presence) of
//!   the spread between level counts, over the levels some remaining
//!   candidate can still fill ("except for those already exhausted"): SS-R,
//!   n = 1 and n = m never count in phase 3, nor does n = 7 once its 40
//!   candidates are used up. n is a factor of the paper and the one its
//!   footnote 5 wants balanced, so it counts.
//! - Aliasing: correlation between the columns of the main-effect model
//!   matrix (6 strategy indicators, m source indicators); the criterion is
//!   the largest |correlation| between columns of different factors (the
//!   strategy indicators are levels of one factor, exclusive by
//!   construction); a column that is still constant correlates 0.
//! - Ties in aliasing are values within 1e-9; the random pick of step i
//!   indexes the tied candidates (in candidate order) with a blake3 draw of
//!   the seed and i.
//!
//! Growing `greedy_runs` appends phase-3 runs and changes none before them;
//! growing a repeat count appends to its phase. Because phase 3 balances
//! the whole design, as the paper's does, a change of repeats re-plans
//! phase 3; runs picked either way keep their id and seed (both derive
//! from what the run is, not where it sits).
//!
//! Outputs of the stage: `runs` (run_id Utf8, phase Int64, strategy Utf8,
//! sources Utf8, n_sources Int64, seed Int64) and `alias` (row Utf8, column
//! Utf8, value Float64: the alias matrix in long form); metadata runs,
//! max_unbalance, max_abs_alias, candidates_left.
//!
//! Checked against an independent numpy implementation
//! (tests/reference/design/make_design.py).

mod criteria;
mod greedy;
mod ids;
mod plan;
mod stage;

#[cfg(test)]
mod tests;

pub use plan::{alias_of, assess, plan_runs, AliasMatrix, DesignError, DesignParams, Quality, Run};
pub use stage::Design;
