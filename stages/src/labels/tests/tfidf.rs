use super::support::reference;
use crate::labels::csr::Csr;
use crate::labels::tfidf::tfidf;

fn matrix(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().expect("number"))
                .collect()
        })
        .collect()
}

#[test]
fn tfidf_equals_scikit_learn() {
    let reference = reference("tfidf.json");
    let counts = matrix(&reference["counts"]);
    let want = matrix(&reference["tfidf"]);
    let mut triplets = Vec::new();
    for (r, row) in counts.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            triplets.push((r as u32, c as u32, v));
        }
    }
    let x = Csr::from_triplets(counts.len(), counts[0].len(), &triplets);
    let got = tfidf(&x);
    for (r, want_row) in want.iter().enumerate() {
        let mut row = vec![0.0; want_row.len()];
        let (cols, vals) = got.row(r);
        for (&c, &v) in cols.iter().zip(vals) {
            row[c as usize] = v;
        }
        for (c, (g, w)) in row.iter().zip(want_row).enumerate() {
            assert!(
                (g - w).abs() < 1e-12,
                "row {r} col {c}: {g} vs scikit-learn {w}"
            );
        }
    }
}
