//! Table 6's statistics against scipy and numpy
//! (tests/reference/report/make_reference.py -> components.json).

use serde_json::Value;

use crate::report::document::Block;
use crate::report::inputs::Component;
use crate::report::sections::components;

fn reference() -> Value {
    let path = format!(
        "{}/../tests/reference/report/components.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rows(reference: &Value) -> Vec<Component> {
    reference["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Component {
            dataset: r["dataset"].as_str().unwrap().into(),
            source: r["source"].as_str().unwrap().into(),
            variance: r["variance"].as_f64().unwrap(),
            // JSON has no NaN: the script writes null for "no SS-R run".
            ssr_y_star: r["ssr_y_star"].as_f64().unwrap_or(f64::NAN),
        })
        .collect()
}

#[test]
fn correlations_agree_with_scipy() {
    let reference = reference();
    let cor = components::correlations(&rows(&reference));
    assert_eq!(cor.per_source.len(), 8);
    for (source, r, _) in &cor.per_source {
        let want = reference["per_source"][source].as_f64().unwrap();
        let got = r.unwrap_or_else(|| panic!("r of {source}"));
        assert!(
            (got - want).abs() < 1e-12,
            "{source}: {got} vs scipy {want}"
        );
    }
    let want = reference["overall"].as_f64().unwrap();
    assert!((cor.overall.unwrap() - want).abs() < 1e-12);
    // Sources with a NaN skip that dataset: taste has 5 of 7.
    let taste = cor
        .per_source
        .iter()
        .find(|(s, _, _)| s == "taste")
        .unwrap();
    assert_eq!(taste.2, 5);
}

#[test]
fn percentages_agree_with_numpy() {
    let reference = reference();
    let components = rows(&reference);
    let datasets: Vec<String> = reference["percent"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let section = components::section(&components, &datasets).unwrap();
    let table = section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if t.caption.starts_with("Table 6") => Some(t),
            _ => None,
        })
        .expect("Table 6");
    let mut checked = 0;
    for row in &table.rows[..8] {
        let source = &row[0].text;
        for (j, dataset) in table.header[1..].iter().enumerate() {
            let want = reference["percent"][dataset][source].as_f64().unwrap();
            let got: f64 = row[j + 1].text.parse().unwrap();
            assert!(
                (got - want).abs() <= 0.05 + 1e-9,
                "{dataset}/{source}: {got} vs {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 56);
}
