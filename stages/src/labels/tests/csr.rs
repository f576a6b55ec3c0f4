use crate::labels::csr::Csr;
use crate::labels::topics::top_items;
use crate::rng::Rng;

fn dense(m: &Csr) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; m.n_cols]; m.n_rows];
    for (r, row) in out.iter_mut().enumerate() {
        let (cols, vals) = m.row(r);
        for (&c, &v) in cols.iter().zip(vals) {
            row[c as usize] = v;
        }
    }
    out
}

#[test]
fn triplets_are_sorted_summed_and_zeros_dropped() {
    let m = Csr::from_triplets(
        3,
        4,
        &[
            (2, 3, 1.0),
            (0, 2, 2.0),
            (0, 1, 1.0),
            (0, 2, 3.0),
            (2, 0, 4.0),
            (2, 3, -1.0),
        ],
    );
    assert_eq!(m.indptr, vec![0, 2, 2, 3]);
    assert_eq!(m.indices, vec![1, 2, 0]);
    assert_eq!(m.values, vec![1.0, 5.0, 4.0]);
}

#[test]
fn transpose_and_group_sums_match_dense_algebra() {
    let mut rng = Rng::new(8);
    let triplets: Vec<(u32, u32, f64)> = (0..60)
        .map(|_| {
            (
                rng.below(9) as u32,
                rng.below(7) as u32,
                1.0 + rng.below(4) as f64,
            )
        })
        .collect();
    let m = Csr::from_triplets(9, 7, &triplets);
    let d = dense(&m);
    let t = dense(&m.transpose());
    for r in 0..9 {
        for c in 0..7 {
            assert_eq!(d[r][c], t[c][r]);
        }
    }
    // Rows 0..9 belong to groups [0, 1, None, 0, 2, 1, None, 2, 0].
    let groups = [
        Some(0),
        Some(1),
        None,
        Some(0),
        Some(2),
        Some(1),
        None,
        Some(2),
        Some(0),
    ];
    let g = dense(&m.sum_rows_by_group(&groups, 4));
    assert_eq!(g.len(), 4);
    for (group, row) in g.iter().enumerate() {
        for c in 0..7 {
            let want: f64 = (0..9)
                .filter(|&r| groups[r] == Some(group as u32))
                .map(|r| d[r][c])
                .sum();
            assert_eq!(row[c], want);
        }
    }
}

#[test]
fn compact_drops_empty_rows_and_columns() {
    let m = Csr::from_triplets(4, 5, &[(0, 3, 1.0), (2, 1, 2.0), (2, 3, 5.0)]);
    let c = m.compact();
    assert_eq!(c.kept_rows, vec![0, 2]);
    assert_eq!(c.kept_cols, vec![1, 3]);
    assert_eq!(dense(&c.matrix), vec![vec![0.0, 1.0], vec![2.0, 5.0]]);
}

#[test]
fn top_items_rank_each_topic() {
    // 4 items x 2 topics.
    let phi_wk = [0.1, 0.4, 0.5, 0.1, 0.1, 0.4, 0.3, 0.1];
    let top = top_items(&phi_wk, 2, 2);
    let got: Vec<(usize, usize, usize)> = top.iter().map(|t| (t.topic, t.rank, t.item)).collect();
    // Topic 1 ties items 0 and 2 at 0.4: the lower index ranks first.
    assert_eq!(got, vec![(0, 1, 1), (0, 2, 3), (1, 1, 0), (1, 2, 2)]);
    assert_eq!(top[0].weight, 0.5);
    assert_eq!(top_items(&phi_wk, 2, 10).len(), 8, "at most every item");
}
