//! The three phases of the design (SPEC 7) and the quality of a design.

use thiserror::Error;

use super::criteria::{Point, Tally, STRATEGIES};
use super::{greedy, ids};
use crate::study::{Source, Strategy};

/// The budget and factors of a design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignParams {
    /// Phase 1: SS-R runs per source.
    pub ssr_repeats: usize,
    /// Phase 2: runs per multi-source strategy on all sources.
    pub multi_repeats: usize,
    /// Phase 3: runs picked by the greedy algorithm.
    pub greedy_runs: usize,
    pub seed: u64,
    /// The learning sources the design draws from (any order, no repeats).
    pub sources: Vec<Source>,
}

impl DesignParams {
    /// The paper's budget: 6 x 8 + 5 x 5 + 352 = 425 runs on all sources.
    pub fn paper(seed: u64) -> Self {
        DesignParams {
            ssr_repeats: 6,
            multi_repeats: 5,
            greedy_runs: 352,
            seed,
            sources: Source::ALL.to_vec(),
        }
    }
}

/// One experimental run: one representation to learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Stable and readable, from [a-z0-9@._-]: "p1-ssr-bpm-r0",
    /// "p2-ms-cr@4-all-r1", "p3-mss-cr-self.tag.artist".
    pub id: String,
    /// 1: SS-R per source, 2: multi-source on all sources, 3: greedy.
    pub phase: u8,
    pub strategy: Strategy,
    /// In canonical order.
    pub sources: Vec<Source>,
    /// The training seed, from the design seed and the id (< 2^63).
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DesignError {
    #[error("no learning source: a design needs at least one")]
    NoSources,
    #[error("{0}")]
    UnknownSource(String),
    #[error("source `{0}` is listed twice")]
    DuplicateSource(Source),
    #[error(
        "the multi-source strategies need at least 2 sources, the design has {0}; \
         set multi_repeats to 0"
    )]
    TooFewSources(usize),
    #[error(
        "greedy_runs = {asked} exceeds the {available} phase-3 candidates \
         (5 strategies x subsets of 2..{} of the {sources} sources)",
        sources.saturating_sub(1)
    )]
    BudgetTooLarge {
        asked: usize,
        available: usize,
        sources: usize,
    },
    #[error("run `{run}` uses source `{outside}`, which is not one of the design's sources")]
    RunOutsideDesign { run: String, outside: Source },
}

impl DesignError {
    /// The stage parameter at fault.
    pub fn param(&self) -> &'static str {
        match self {
            DesignError::TooFewSources(_) => "multi_repeats",
            DesignError::BudgetTooLarge { .. } => "greedy_runs",
            _ => "sources",
        }
    }
}

/// Correlations between the columns of the main-effect model matrix (one
/// indicator per strategy, one per source) that vary in the design.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasMatrix {
    /// Strategy names, then source names.
    pub labels: Vec<String>,
    /// `[labels, labels]`, row-major, 1 on the diagonal.
    pub values: Vec<f64>,
}

/// How good a design is, by the criteria Algorithm 2 minimises.
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    /// Largest spread between the level counts of any factor (strategy,
    /// number of sources, presence of each source), over the levels that
    /// phase 3 can still fill.
    pub max_unbalance: usize,
    /// Largest absolute correlation between columns of different factors.
    pub max_abs_alias: f64,
    pub alias: AliasMatrix,
    /// Phase-3 candidates not in the design.
    pub candidates_left: usize,
}

/// Expands a design into its runs: phase 1, then 2, then 3, each phase
/// repeat-major. Pure and cheap (about 0.1 s for the paper's 425 runs,
/// release build), so the planner can call it to make one training node
/// per run.
pub fn plan_runs(p: &DesignParams) -> Result<Vec<Run>, DesignError> {
    let sources = design_sources(&p.sources)?;
    let m = sources.len();
    if m < 2 && p.multi_repeats > 0 {
        return Err(DesignError::TooFewSources(m));
    }
    let mut remaining = greedy::candidates(m);
    if p.greedy_runs > remaining.len() {
        return Err(DesignError::BudgetTooLarge {
            asked: p.greedy_runs,
            available: remaining.len(),
            sources: m,
        });
    }
    let mut design = Tally::new(m);
    let mut runs = Vec::new();
    for repeat in 0..p.ssr_repeats {
        for (i, &source) in sources.iter().enumerate() {
            let id = ids::single_source(source, repeat);
            let point = Point {
                strategy: 0,
                mask: 1 << i,
            };
            design.add(point);
            runs.push(run(id, 1, point, &sources, p.seed));
        }
    }
    for repeat in 0..p.multi_repeats {
        for (k, &strategy) in Strategy::ALL.iter().enumerate().skip(1) {
            let id = ids::all_sources(strategy, &sources, repeat);
            let point = Point {
                strategy: k,
                mask: (1 << m) - 1,
            };
            design.add(point);
            runs.push(run(id, 2, point, &sources, p.seed));
        }
    }
    let picked = greedy::pick(&mut design, &mut remaining, p.greedy_runs, p.seed);
    runs.extend(
        picked
            .into_iter()
            .map(|point| greedy_run(point, &sources, p.seed)),
    );
    Ok(runs)
}

/// A phase-3 run.
pub(super) fn greedy_run(point: Point, sources: &[Source], seed: u64) -> Run {
    let id = ids::greedy(Strategy::ALL[point.strategy], &subset(sources, point.mask));
    run(id, 3, point, sources, seed)
}

fn run(id: String, phase: u8, point: Point, sources: &[Source], seed: u64) -> Run {
    Run {
        seed: ids::run_seed(seed, &id),
        id,
        phase,
        strategy: Strategy::ALL[point.strategy],
        sources: subset(sources, point.mask),
    }
}

fn subset(sources: &[Source], mask: u32) -> Vec<Source> {
    (0..sources.len())
        .filter(|i| mask >> i & 1 == 1)
        .map(|i| sources[i])
        .collect()
}

/// The design's sources in canonical order.
fn design_sources(sources: &[Source]) -> Result<Vec<Source>, DesignError> {
    let mut sorted = sources.to_vec();
    sorted.sort();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(DesignError::DuplicateSource(pair[0]));
    }
    if sorted.is_empty() {
        return Err(DesignError::NoSources);
    }
    Ok(sorted)
}

/// The quality of any set of runs on `sources` (planned, or drawn some
/// other way, e.g. at random for comparison).
pub fn assess(sources: &[Source], runs: &[Run]) -> Result<Quality, DesignError> {
    let sources = design_sources(sources)?;
    let m = sources.len();
    let mut remaining = greedy::candidates(m);
    let mut design = Tally::new(m);
    for r in runs {
        let point = point(&sources, r.strategy, &r.sources).map_err(|outside| {
            DesignError::RunOutsideDesign {
                run: r.id.clone(),
                outside,
            }
        })?;
        design.add(point);
        remaining.retain(|&c| c != point);
    }
    let mut open = Tally::new(m);
    for &p in &remaining {
        open.add(p);
    }
    Ok(Quality {
        max_unbalance: design.unbalance(&open, None),
        max_abs_alias: design.max_abs_alias(None),
        alias: alias_matrix(&design, &sources),
        candidates_left: remaining.len(),
    })
}

/// The alias matrix of runs given by strategy and sources (a design made
/// elsewhere: a user's runs table), on the sources they use, as
/// [`assess`] gives it for a design on those sources.
pub fn alias_of<'a>(runs: impl IntoIterator<Item = (Strategy, &'a [Source])>) -> AliasMatrix {
    let runs: Vec<(Strategy, &[Source])> = runs.into_iter().collect();
    let mut sources: Vec<Source> = runs.iter().flat_map(|r| r.1.iter().copied()).collect();
    sources.sort();
    sources.dedup();
    let mut design = Tally::new(sources.len());
    for (strategy, set) in runs {
        design.add(point(&sources, strategy, set).expect("the runs use only their own sources"));
    }
    alias_matrix(&design, &sources)
}

/// A run as the criteria see it; the error is a source outside `sources`.
fn point(sources: &[Source], strategy: Strategy, set: &[Source]) -> Result<Point, Source> {
    let mut mask = 0u32;
    for s in set {
        let i = sources.iter().position(|d| d == s).ok_or(*s)?;
        mask |= 1 << i;
    }
    let strategy = Strategy::ALL
        .iter()
        .position(|&s| s == strategy)
        .expect("every strategy is in Strategy::ALL");
    Ok(Point { strategy, mask })
}

fn alias_matrix(design: &Tally, sources: &[Source]) -> AliasMatrix {
    let (kept, values) = design.correlations();
    let labels = kept
        .iter()
        .map(|&c| match c.checked_sub(STRATEGIES) {
            None => Strategy::ALL[c].name().to_string(),
            Some(s) => sources[s].name().to_string(),
        })
        .collect();
    AliasMatrix { labels, values }
}
