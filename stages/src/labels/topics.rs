//! The strongest items of each topic: the paper's Table 2, and the handle
//! for explaining a predicted z in words.

/// One entry of a topic's ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct TopItem {
    pub topic: usize,
    /// 1 = strongest.
    pub rank: usize,
    /// Column (item) index.
    pub item: usize,
    /// P(item | topic).
    pub weight: f64,
}

/// For each of the `k` topics, the `n` items with the highest P(item |
/// topic) in `phi_wk` (`n_items x k`), strongest first; ties go to the
/// lower item index so the table is deterministic.
pub fn top_items(phi_wk: &[f64], k: usize, n: usize) -> Vec<TopItem> {
    let n_items = phi_wk.len().checked_div(k).unwrap_or(0);
    let n = n.min(n_items);
    let mut out = Vec::with_capacity(k * n);
    let mut order: Vec<usize> = Vec::with_capacity(n_items);
    for topic in 0..k {
        let weight = |w: usize| phi_wk[w * k + topic];
        let stronger = |a: &usize, b: &usize| weight(*b).total_cmp(&weight(*a)).then(a.cmp(b));
        order.clear();
        order.extend(0..n_items);
        if n == 0 {
            continue;
        }
        if n < n_items {
            order.select_nth_unstable_by(n - 1, stronger);
            order.truncate(n);
        }
        order.sort_unstable_by(stronger);
        out.extend(order.iter().enumerate().map(|(i, &item)| TopItem {
            topic,
            rank: i + 1,
            item,
            weight: weight(item),
        }));
    }
    out
}
