//! The exact t-SNE against scikit-learn 1.9 (tsne_reference.py ->
//! tsne.json), and the properties a map must have whatever the reference.

use serde_json::Value;

use crate::report::tsne::{self, Embedding};

fn reference() -> Value {
    let path = format!("{}/src/report/tests/tsne.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn points(v: &Value) -> Vec<[f64; 2]> {
    rows(v).into_iter().map(|r| [r[0], r[1]]).collect()
}

fn squared_distances(x: &[Vec<f64>]) -> Vec<f64> {
    x.iter()
        .flat_map(|a| {
            x.iter()
                .map(move |b| a.iter().zip(b).map(|(u, v)| (u - v).powi(2)).sum())
        })
        .collect()
}

/// P, KL and its gradient as scikit-learn's `_joint_probabilities` and
/// `_kl_divergence`; the first iterations of the descent as
/// `TSNE(method="exact")` runs them from the same start (later ones are
/// chaotic: see tsne_reference.py).
#[test]
fn agrees_with_scikit_learn() {
    let r = reference();
    let x = rows(&r["x"]);
    let n = x.len();
    let p = tsne::joint_probabilities(&squared_distances(&x), n, r["perplexity"].as_f64().unwrap());
    let want = rows(&r["p"]);
    for i in 0..n {
        for j in 0..n {
            let got = p[i * n + j];
            assert!(
                (got - want[i][j]).abs() < 1e-12,
                "P[{i}][{j}] {got} vs {}",
                want[i][j]
            );
        }
    }
    let (kl, gradient) = tsne::kl_and_gradient(&p, &points(&r["y"]));
    let want_kl = r["kl"].as_f64().unwrap();
    assert!(
        (kl - want_kl).abs() < 1e-12 * want_kl.abs().max(1.0),
        "{kl} vs {want_kl}"
    );
    for (got, want) in gradient.iter().zip(points(&r["gradient"])) {
        for k in 0..2 {
            assert!((got[k] - want[k]).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }
    let steps = r["steps"].as_u64().unwrap() as usize;
    let run = tsne::optimise(&p, points(&r["start"]), steps);
    let want = points(&r["descended"]);
    let worst = run
        .points
        .iter()
        .zip(&want)
        .map(|(a, b)| (a[0] - b[0]).abs().max((a[1] - b[1]).abs()))
        .fold(0.0, f64::max);
    assert!(worst < 1e-8, "largest coordinate difference {worst}");
}

/// Three clusters, each 12 points on a small sphere around a corner of a
/// 10-D cube, far apart.
fn clusters() -> (Vec<f64>, Vec<usize>) {
    let (d, per) = (10, 12);
    let mut x = Vec::new();
    let mut label = Vec::new();
    for c in 0..3 {
        for i in 0..per {
            label.push(c);
            x.extend((0..d).map(|k| {
                let centre = if k % 3 == c { 20.0 } else { 0.0 };
                centre + ((i * 13 + k * 7 + c) as f64 * 0.71).sin()
            }));
        }
    }
    (x, label)
}

fn embed_clusters() -> (Embedding, Vec<usize>) {
    let (x, label) = clusters();
    (tsne::embed(&x, label.len(), 10), label)
}

#[test]
fn separated_clusters_stay_separated() {
    let (e, label) = embed_clusters();
    let d = |a: &[f64; 2], b: &[f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    let y = &e.points;
    let mut widest_within = 0.0f64;
    let mut closest_between = f64::INFINITY;
    for i in 0..y.len() {
        for j in 0..i {
            if label[i] == label[j] {
                widest_within = widest_within.max(d(&y[i], &y[j]));
            } else {
                closest_between = closest_between.min(d(&y[i], &y[j]));
            }
        }
    }
    assert!(
        closest_between > widest_within,
        "closest points of two clusters {closest_between} vs widest cluster {widest_within}"
    );
    assert!(
        (e.perplexity - 35.0 / 3.0).abs() < 1e-12,
        "(n - 1) / 3 below 91 points"
    );
}

#[test]
fn kl_falls_and_equal_inputs_give_equal_maps() {
    let (e, _) = embed_clusters();
    let kl: Vec<f64> = e.kl.iter().map(|k| k.1).collect();
    let (first, last) = (kl[0], *kl.last().unwrap());
    assert!(last < 0.5 * first, "KL {first} -> {last}");
    // After the exaggerated phase, the descent does not climb back.
    let after: Vec<f64> = e.kl.iter().filter(|k| k.0 > 250).map(|k| k.1).collect();
    assert!(after.windows(2).all(|w| w[1] <= w[0] + 1e-9), "{after:?}");
    let (again, _) = embed_clusters();
    assert_eq!(e, again, "bit for bit");
}
