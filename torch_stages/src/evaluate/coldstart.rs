//! One repeat of the cold-start recommendation evaluation (SPEC 6; the
//! paper's "outer matrix" protocol, after van den Oord et al. 2013):
//!
//! 1. the held-out items' interactions are removed; WMF is fitted on the
//!    training items (features standardised on those items, as the
//!    authors standardised theirs);
//! 2. every item, held out or not, gets the factors W^T x_i from its
//!    features alone;
//! 3. all items are ranked for each user by u_u . (W^T x_i), and the
//!    ranking scored by nDCG@k with the held-out items the user listened
//!    to as relevant (see [`super::metrics::ndcg_at_k`]): as the paper
//!    (Sect. 4.2) predicts "based on all tracks, including those that were
//!    held out", the training items compete for the top ranks.
//!
//! The mean runs over the users who have at least one held-out positive
//! and at least one training interaction. Users with no held-out positive
//! have no defined nDCG; users with held-out positives but nothing in
//! training have all-zero factors and hence no ranking (every item ties).
//! Both are excluded from the mean and counted (as in the authors' code,
//! which keeps validation users that also appear in training).

use nalgebra::DMatrix;
use rayon::prelude::*;
use thiserror::Error;

use super::metrics::ndcg_at_k;
use super::splits::Part;
use super::standardize::Standardizer;
use super::wmf::{fit, WmfConfig, WmfError};
use stages::labels::csr::Csr;

#[derive(Debug, Error, PartialEq)]
pub enum ColdStartError {
    #[error("WMF: {0}")]
    Wmf(#[from] WmfError),
    #[error("no user has both a training interaction and a held-out positive: nDCG is undefined")]
    NoUser,
    #[error("{0}")]
    Shape(String),
}

/// The outcome of one repeat.
#[derive(Debug, Clone, PartialEq)]
pub struct ColdStartScore {
    pub ndcg: f64,
    pub n_train_items: usize,
    pub n_test_items: usize,
    pub users: UserCounts,
    /// The WMF objective at the start and after each iteration.
    pub objective: Vec<f64>,
}

/// Who the mean is over, and who was left out and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserCounts {
    pub evaluated: usize,
    pub without_heldout: usize,
    pub without_training: usize,
}

/// Evaluates features `x: [items, d]` on `counts` (users x items) with the
/// items split by `parts`.
pub fn cold_start(
    counts: &Csr,
    x: &[f32],
    d: usize,
    parts: &[Part],
    config: &WmfConfig,
    top_k: usize,
    on_iteration: &mut dyn FnMut(usize),
) -> Result<ColdStartScore, ColdStartError> {
    if parts.len() != counts.n_cols || x.len() != counts.n_cols * d {
        return Err(ColdStartError::Shape(format!(
            "{} items in the interactions, {} in the split, {} feature values of dimension {d}",
            counts.n_cols,
            parts.len(),
            x.len()
        )));
    }
    let train: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i] == Part::Train)
        .collect();
    let test: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i] == Part::Test)
        .collect();
    let (train_counts, heldout) = split_columns(counts, parts);
    let scaler = Standardizer::fit(x, d, &train);
    let x_train = DMatrix::from_row_slice(train.len(), d, &scaler.apply(x, &train));
    let all: Vec<usize> = (0..parts.len()).collect();
    let x_all = DMatrix::from_row_slice(all.len(), d, &scaler.apply(x, &all));
    let model = fit(&train_counts, &x_train, config, on_iteration)?;
    let trained: Vec<bool> = (0..counts.n_rows)
        .map(|u| !train_counts.row(u).0.is_empty())
        .collect();
    let (ndcg, users) = mean_ndcg(
        &model.users,
        &model.content_factors(&x_all),
        &heldout,
        &trained,
        top_k,
    );
    Ok(ColdStartScore {
        ndcg: ndcg.ok_or(ColdStartError::NoUser)?,
        n_train_items: train.len(),
        n_test_items: test.len(),
        users,
        objective: model.objective,
    })
}

/// The interactions with the training items (renumbered in item order),
/// what WMF is fitted on, and those with the held-out items (in the
/// numbering of all items), what the ranking of all items is scored on.
fn split_columns(counts: &Csr, parts: &[Part]) -> (Csr, Csr) {
    let mut position = vec![0u32; parts.len()];
    let mut n_train = 0u32;
    for (i, part) in parts.iter().enumerate() {
        if *part == Part::Train {
            position[i] = n_train;
            n_train += 1;
        }
    }
    let (mut train, mut heldout) = (Vec::new(), Vec::new());
    for u in 0..counts.n_rows {
        let (cols, values) = counts.row(u);
        for (&i, &v) in cols.iter().zip(values) {
            if parts[i as usize] == Part::Train {
                train.push((u as u32, position[i as usize], v));
            } else {
                heldout.push((u as u32, i, v));
            }
        }
    }
    (
        Csr::from_triplets(counts.n_rows, n_train as usize, &train),
        Csr::from_triplets(counts.n_rows, counts.n_cols, &heldout),
    )
}

enum Outcome {
    Scored(f64),
    NoHeldout,
    NoTraining,
}

/// Mean nDCG@k over users: `users: [r, U]`, `items: [r, n]` (the factors
/// of every item ranked), `heldout`: U x n with the users' held-out
/// positives, `trained[u]`: whether user u had a training interaction.
pub fn mean_ndcg(
    users: &DMatrix<f64>,
    items: &DMatrix<f64>,
    heldout: &Csr,
    trained: &[bool],
    k: usize,
) -> (Option<f64>, UserCounts) {
    assert_eq!(items.ncols(), heldout.n_cols, "one factor column per item");
    let items_t = items.transpose();
    let per_user: Vec<Outcome> = (0..heldout.n_rows)
        .into_par_iter()
        .map(|u| {
            let (cols, _) = heldout.row(u);
            if cols.is_empty() {
                return Outcome::NoHeldout;
            }
            if !trained[u] {
                return Outcome::NoTraining;
            }
            let scores: Vec<f64> = (&items_t * users.column(u)).iter().copied().collect();
            let mut relevant = vec![false; items.ncols()];
            for &i in cols {
                relevant[i as usize] = true;
            }
            ndcg_at_k(&scores, &relevant, k).map_or(Outcome::NoHeldout, Outcome::Scored)
        })
        .collect();
    let mut counts = UserCounts::default();
    let mut sum = 0.0;
    for result in per_user {
        match result {
            Outcome::Scored(v) => {
                counts.evaluated += 1;
                sum += v;
            }
            Outcome::NoHeldout => counts.without_heldout += 1,
            Outcome::NoTraining => counts.without_training += 1,
        }
    }
    let mean = (counts.evaluated > 0).then(|| sum / counts.evaluated as f64);
    (mean, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ndcg_by_hand() {
        // r = 1: a user's score for item i is u * q_i. Items q = [3, 1, 2].
        let items = DMatrix::from_row_slice(1, 3, &[3.0, 1.0, 2.0]);
        // u0 = +1 ranks items 0, 2, 1; u1 = -1 ranks 1, 2, 0;
        // u2 has no held-out positive; u3 never trained.
        let users = DMatrix::from_row_slice(1, 4, &[1.0, -1.0, 1.0, 0.0]);
        let heldout =
            Csr::from_triplets(4, 3, &[(0, 2, 1.0), (1, 0, 4.0), (1, 2, 1.0), (3, 1, 2.0)]);
        let trained = [true, true, true, false];
        let (mean, counts) = mean_ndcg(&users, &items, &heldout, &trained, 500);
        // u0: relevant item 2 at rank 2 -> 1/log2(3).
        let u0 = 1.0 / 3f64.log2();
        // u1: relevant items 2 and 0 at ranks 2 and 3.
        let u1 = (1.0 / 3f64.log2() + 0.5) / (1.0 + 1.0 / 3f64.log2());
        assert!((mean.unwrap() - (u0 + u1) / 2.0).abs() < 1e-12);
        assert_eq!(
            counts,
            UserCounts {
                evaluated: 2,
                without_heldout: 1,
                without_training: 1
            }
        );
        // k = 1: u0 misses (0), u1's first item is irrelevant too (0).
        let (mean, _) = mean_ndcg(&users, &items, &heldout, &trained, 1);
        assert_eq!(mean, Some(0.0));
        // Nobody evaluable.
        let (mean, counts) = mean_ndcg(&users, &items, &heldout, &[false; 4], 500);
        assert_eq!(
            (mean, counts.evaluated, counts.without_training),
            (None, 0, 3)
        );
    }

    /// Held-out items compete with the training items, which are never
    /// relevant, even one the user listened to in training.
    #[test]
    fn training_items_compete_with_the_held_out_ones() {
        // Items q = [3, 1, 2, 4]; items 0 and 2 are held out, 1 and 3 not.
        let items = DMatrix::from_row_slice(1, 4, &[3.0, 1.0, 2.0, 4.0]);
        // u0 = +1 ranks 3, 0, 2, 1 and listened to held-out item 2 (and,
        // in training, to item 3); u1 = -1 ranks 1, 2, 0, 3: item 0.
        let users = DMatrix::from_row_slice(1, 2, &[1.0, -1.0]);
        let heldout = Csr::from_triplets(2, 4, &[(0, 2, 1.0), (1, 0, 1.0)]);
        let (mean, counts) = mean_ndcg(&users, &items, &heldout, &[true, true], 500);
        // u0: rank 3 -> 1 / log2(4) = 0.5; u1: rank 3 -> 0.5.
        assert!((mean.unwrap() - 0.5).abs() < 1e-12, "{mean:?}");
        assert_eq!(counts.evaluated, 2);
        // Ranking the held-out items alone (0, 2) puts each at rank 2.
        let alone = DMatrix::from_row_slice(1, 2, &[3.0, 2.0]);
        let heldout_alone = Csr::from_triplets(2, 2, &[(0, 1, 1.0), (1, 0, 1.0)]);
        let (mean, _) = mean_ndcg(&users, &alone, &heldout_alone, &[true, true], 500);
        assert!((mean.unwrap() - 1.0 / 3f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn columns_split_and_renumber() {
        let counts =
            Csr::from_triplets(2, 4, &[(0, 0, 1.0), (0, 3, 2.0), (1, 1, 3.0), (1, 2, 4.0)]);
        let parts = [Part::Train, Part::Test, Part::Train, Part::Test];
        let (train, heldout) = split_columns(&counts, &parts);
        assert_eq!((train.n_cols, heldout.n_cols), (2, 4));
        assert_eq!(train.row(0), (&[0u32][..], &[1.0][..]));
        assert_eq!(train.row(1), (&[1u32][..], &[4.0][..]));
        assert_eq!(heldout.row(0), (&[3u32][..], &[2.0][..]));
        assert_eq!(heldout.row(1), (&[1u32][..], &[3.0][..]));
    }

    #[test]
    fn informative_features_beat_noise() {
        use stages::rng::Rng;
        // 60 users of two tastes, 80 items of two kinds; feature 0 = kind.
        let mut rng = Rng::new(3);
        let kind: Vec<usize> = (0..80).map(|i| (i * 7) % 2).collect();
        let mut triplets = Vec::new();
        for u in 0..60u32 {
            for (i, k) in kind.iter().enumerate() {
                if rng.chance(if *k == u as usize % 2 { 0.3 } else { 0.03 }) {
                    triplets.push((u, i as u32, 1.0 + rng.below(5) as f64));
                }
            }
        }
        let counts = Csr::from_triplets(60, 80, &triplets);
        let parts: Vec<Part> = (0..80)
            .map(|i| if i % 5 == 0 { Part::Test } else { Part::Train })
            .collect();
        let config = WmfConfig {
            factors: 4,
            ..Default::default()
        };
        let score =
            |x: &[f32]| cold_start(&counts, x, 3, &parts, &config, 500, &mut |_| {}).unwrap();
        let informative: Vec<f32> = kind
            .iter()
            .flat_map(|&k| [k as f32, rng.normal() as f32, rng.normal() as f32])
            .collect();
        let noise: Vec<f32> = (0..240).map(|_| rng.normal() as f32).collect();
        let good = score(&informative);
        let bad = score(&noise);
        assert_eq!((good.n_train_items, good.n_test_items), (64, 16));
        assert_eq!(
            good.users.evaluated + good.users.without_heldout + good.users.without_training,
            60
        );
        // The best any representation can do: rank the user's kind first
        // (within a kind, which items a user played is chance).
        let item_kind: Vec<f64> = kind.iter().map(|&k| k as f64 * 2.0 - 1.0).collect();
        let taste: Vec<f64> = (0..60).map(|u| (u % 2) as f64 * 2.0 - 1.0).collect();
        let (_, heldout) = split_columns(&counts, &parts);
        let trained = vec![true; 60];
        let (oracle, _) = mean_ndcg(
            &DMatrix::from_row_slice(1, 60, &taste),
            &DMatrix::from_row_slice(1, 80, &item_kind),
            &heldout,
            &trained,
            500,
        );
        let oracle = oracle.unwrap();
        eprintln!(
            "nDCG@500: features {}, noise {}, oracle {oracle}",
            good.ndcg, bad.ndcg
        );
        // All 80 items are ranked: the 64 training items of a user's kind
        // compete with its held-out ones whatever the features, so the
        // scores sit closer together (on 2026-12-03: features 0.325,
        // noise 0.239, oracle 0.402; ranking the 16 held-out items alone
        // gave 0.95 of the oracle and a gap of more than 0.15).
        assert!(
            good.ndcg > 0.75 * oracle && good.ndcg > bad.ndcg + 0.05,
            "features {}, noise {}, oracle {oracle}",
            good.ndcg,
            bad.ndcg
        );
    }
}
