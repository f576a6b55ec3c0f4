//! Phase 3: the greedy sequential fractional design (Algorithm 2).

use super::criteria::{Point, Tally, STRATEGIES};
use super::ids::hash_u64;

/// Two aliasing values closer than this are a tie: candidates that are
/// mirror images of each other must tie despite rounding.
const ALIAS_TIE: f64 = 1e-9;

/// Every phase-3 run: each multi-source strategy (all but SS-R) with each
/// subset of 2..m-1 of the m sources; strategy-major, subsets by increasing
/// bit mask. This order is part of the design: the random pick indexes it.
pub(super) fn candidates(sources: usize) -> Vec<Point> {
    let sizes = 2..sources;
    (1..STRATEGIES)
        .flat_map(|strategy| {
            let sizes = sizes.clone();
            (0..1u32 << sources)
                .filter(move |mask| sizes.contains(&(mask.count_ones() as usize)))
                .map(move |mask| Point { strategy, mask })
        })
        .collect()
}

/// Picks `budget` runs from `remaining` (removed from it), one at a time:
/// keep the candidates giving the least unbalance of the whole design
/// (`design`, updated as runs are picked), among them those giving the
/// least maximum absolute aliasing, and pick one of those at random. The
/// draw of step i depends only on the seed and i, so a larger budget
/// repeats the same first picks.
pub(super) fn pick(
    design: &mut Tally,
    remaining: &mut Vec<Point>,
    budget: usize,
    seed: u64,
) -> Vec<Point> {
    let mut open = Tally::new(design.columns() - STRATEGIES);
    for &p in remaining.iter() {
        open.add(p);
    }
    let mut picked = Vec::with_capacity(budget);
    let mut kept = Vec::with_capacity(remaining.len());
    let mut aliases = Vec::with_capacity(remaining.len());
    for step in 0..budget as u64 {
        let unbalance: Vec<usize> = remaining
            .iter()
            .map(|&p| design.unbalance(&open, Some(p)))
            .collect();
        let Some(&least) = unbalance.iter().min() else {
            break;
        };
        kept.clear();
        kept.extend((0..remaining.len()).filter(|&k| unbalance[k] == least));
        aliases.clear();
        aliases.extend(
            kept.iter()
                .map(|&k| design.max_abs_alias(Some(remaining[k]))),
        );
        let best = aliases.iter().copied().fold(f64::INFINITY, f64::min);
        let ties: Vec<usize> = kept
            .iter()
            .zip(&aliases)
            .filter(|(_, &a)| a <= best + ALIAS_TIE)
            .map(|(&k, _)| k)
            .collect();
        let draw = hash_u64(
            b"mdr-design-step\0",
            &[&seed.to_le_bytes(), &step.to_le_bytes()],
        );
        let chosen = ties[(draw % ties.len() as u64) as usize];
        let p = remaining.remove(chosen);
        design.add(p);
        open.remove(p);
        picked.push(p);
    }
    picked
}
