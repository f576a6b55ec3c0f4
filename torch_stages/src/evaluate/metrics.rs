//! The scores of SPEC 6: accuracy (classification), R^2 (regression) and
//! nDCG@k with binary relevance (the cold-start recommender, k = 500).
//!
//! R^2 is scikit-learn's `r2_score`: 1 - SS_res / SS_tot around the test
//! mean; when the test targets are constant it is 1 for a perfect
//! prediction and 0 otherwise.
//!
//! DCG@k = sum over ranks 1..=min(k, n) of rel / log2(rank + 1), and the
//! ideal DCG is that of the best possible ranking cut at the same k:
//! sum over ranks 1..=min(k, relevant) of 1 / log2(rank + 1). So a user with
//! more than k relevant items can still reach 1. (Leaving the ideal DCG
//! uncut, as some evaluation code does, caps such users below 1.) The
//! discount is the standard one; the Kaggle snippet in the authors' code
//! (`method=0`) gives ranks 1 and 2 the same weight, which we do not copy.
//!
//! Ties in score are broken by item position (earlier first), so a result
//! never depends on the sort's internals.

/// Share of `predicted` equal to `truth`; `None` for no sample.
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> Option<f64> {
    debug_assert_eq!(predicted.len(), truth.len());
    if truth.is_empty() {
        return None;
    }
    let hits = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    Some(hits as f64 / truth.len() as f64)
}

/// Coefficient of determination; `None` for no sample.
pub fn r2(predicted: &[f64], truth: &[f64]) -> Option<f64> {
    debug_assert_eq!(predicted.len(), truth.len());
    if truth.is_empty() {
        return None;
    }
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let total: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    let residual: f64 = predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (t - p).powi(2))
        .sum();
    Some(if total > 0.0 {
        1.0 - residual / total
    } else if residual == 0.0 {
        1.0
    } else {
        0.0
    })
}

/// nDCG@k of the items ranked by descending `scores`; `relevant[i]` says
/// whether item i is relevant. `None` when no item is relevant (the
/// metric is undefined: callers exclude and count such users).
pub fn ndcg_at_k(scores: &[f64], relevant: &[bool], k: usize) -> Option<f64> {
    debug_assert_eq!(scores.len(), relevant.len());
    let n_relevant = relevant.iter().filter(|r| **r).count();
    if n_relevant == 0 || k == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let dcg: f64 = order
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, &item)| relevant[item])
        .map(|(rank, _)| discount(rank))
        .sum();
    let ideal: f64 = (0..n_relevant.min(k)).map(discount).sum();
    Some(dcg / ideal)
}

/// 1 / log2(rank + 1) for the 1-based rank, given 0-based.
fn discount(rank0: usize) -> f64 {
    1.0 / ((rank0 + 2) as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn accuracy_and_r2_by_hand() {
        close(accuracy(&[0, 1, 2, 2], &[0, 1, 1, 2]).unwrap(), 0.75);
        assert_eq!(accuracy(&[], &[]), None);
        // truth mean 2: SS_tot = 2, SS_res = 0.25 + 0 + 0.25.
        close(r2(&[1.5, 2.0, 2.5], &[1.0, 2.0, 3.0]).unwrap(), 0.75);
        close(r2(&[2.0, 2.0], &[2.0, 2.0]).unwrap(), 1.0);
        close(r2(&[1.0, 2.0], &[2.0, 2.0]).unwrap(), 0.0);
        assert_eq!(r2(&[], &[]), None);
    }

    #[test]
    fn hand_computed_small_cases() {
        // Ranking: item 2 (rel), item 0, item 3 (rel), item 1.
        let scores = [0.5, 0.1, 0.9, 0.3];
        let relevant = [false, false, true, true];
        // DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3).
        let ideal = 1.0 + 1.0 / 3f64.log2();
        close(ndcg_at_k(&scores, &relevant, 500).unwrap(), 1.5 / ideal);
        // Cut at 2: only the first relevant item counts, ideal cut too.
        close(ndcg_at_k(&scores, &relevant, 2).unwrap(), 1.0 / ideal);
        // Cut at 1: a perfect first place.
        close(ndcg_at_k(&scores, &relevant, 1).unwrap(), 1.0);
    }

    #[test]
    fn no_relevant_item_is_undefined() {
        assert_eq!(ndcg_at_k(&[0.3, 0.2], &[false, false], 500), None);
        assert_eq!(ndcg_at_k(&[], &[], 500), None);
    }

    #[test]
    fn the_ideal_dcg_is_cut_at_k() {
        // Three relevant items, k = 2, and the two best-scored are relevant:
        // a perfect top 2 scores 1 (an uncut ideal would give less).
        let scores = [3.0, 2.0, 1.0, 0.0];
        let relevant = [true, true, false, true];
        close(ndcg_at_k(&scores, &relevant, 2).unwrap(), 1.0);
        // k = 3: DCG = 1 + 1/log2(3); ideal = 1 + 1/log2(3) + 1/2.
        let d3 = 1.0 + 1.0 / 3f64.log2();
        close(ndcg_at_k(&scores, &relevant, 3).unwrap(), d3 / (d3 + 0.5));
    }

    #[test]
    fn ties_keep_item_order() {
        // All scores equal: ranking = item order, relevant item at rank 3.
        let got = ndcg_at_k(&[0.0; 4], &[false, false, true, false], 500).unwrap();
        close(got, 1.0 / 2.0); // 1/log2(4)
    }
}
