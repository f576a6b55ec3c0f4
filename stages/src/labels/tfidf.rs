//! TF-IDF weighting, as scikit-learn's `TfidfTransformer()` defaults.

use super::csr::Csr;

/// Weights a `tracks x words` count matrix: tf = the raw count, smoothed
/// idf = ln((1 + n) / (1 + df)) + 1 with n the number of rows and df the
/// rows a word occurs in, then every row scaled to unit l2 norm (an
/// all-zero row stays zero). This damps words every lyric uses, the stop
/// words the paper filters this way.
pub fn tfidf(counts: &Csr) -> Csr {
    let n = counts.n_rows as f64;
    let mut df = vec![0usize; counts.n_cols];
    for (&c, &v) in counts.indices.iter().zip(&counts.values) {
        if v != 0.0 {
            df[c as usize] += 1;
        }
    }
    let idf: Vec<f64> = df
        .iter()
        .map(|&d| ((1.0 + n) / (1.0 + d as f64)).ln() + 1.0)
        .collect();
    let mut out = counts.clone();
    for r in 0..out.n_rows {
        let span = out.indptr[r]..out.indptr[r + 1];
        let (cols, vals) = (&out.indices[span.clone()], &mut out.values[span]);
        for (v, &c) in vals.iter_mut().zip(cols) {
            *v *= idf[c as usize];
        }
        let norm = vals.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            vals.iter_mut().for_each(|v| *v /= norm);
        }
    }
    out
}
