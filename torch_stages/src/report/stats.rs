//! The few statistics the report computes itself: means and Pearson's r.

/// The arithmetic mean; None for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Pearson's correlation of paired values, skipping pairs with a
/// non-finite member; None with fewer than 3 pairs or a constant side
/// (r is undefined there, and with 2 pairs it is always +-1).
pub fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let kept: Vec<(f64, f64)> = pairs
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if kept.len() < 3 {
        return None;
    }
    let n = kept.len() as f64;
    let mx = kept.iter().map(|p| p.0).sum::<f64>() / n;
    let my = kept.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &kept {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// A number for a table cell: three decimals, or "NA".
pub fn fmt(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "NA".into()
    }
}
