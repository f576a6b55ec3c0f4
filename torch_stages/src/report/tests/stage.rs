//! The whole stage on the synthetic study: its outputs, the HTML and
//! Markdown holding every figure, the tables, and the errors for malformed
//! inputs and parameters.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use serde_json::json;

use super::support::*;
use crate::report::inputs::source_label;
use stages::api::{Output, StageError};

const FIGURES: [&str; 10] = [
    "fig08_ssr_by_source",
    "fig09_by_strategy",
    "fig10_by_n_sources",
    "fig11_model1_effects",
    "fig12_model2_effects",
    "fig13_best_source",
    "fig14_share_vs_ssr",
    "fig15_parameters",
    "fig16_map",
    "fig07_alias_matrix",
];

#[test]
fn report_holds_every_figure_in_html_markdown_and_svg_files() {
    let out = Fixture::new().run().unwrap();
    let html = text(&out, "report.html");
    let doc = parse(&html);
    assert_eq!(count(&doc, "svg", &[]), FIGURES.len());
    for name in FIGURES {
        let figure = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(&format!("fig-{name}")))
            .unwrap_or_else(|| panic!("figure {name} in the HTML"));
        assert!(
            figure.children().any(|c| c.tag_name().name() == "svg"),
            "{name} is inline SVG"
        );
        let svg = text(&out, &format!("figures/{name}.svg"));
        parse(&svg);
        assert!(
            html.contains(svg.trim()),
            "the HTML inlines {name}.svg as written"
        );
    }
    // Self-contained: no script, no link, no external reference.
    for forbidden in ["<script", "<link", "src=", "url("] {
        assert!(!html.contains(forbidden), "HTML contains {forbidden}");
    }
    let external = html.matches("http").count();
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(external, namespaces, "only the SVG namespace is a URL");

    let md = text(&out, "report.md");
    for name in FIGURES {
        assert!(
            md.contains(&format!("](figures/{name}.svg)")),
            "markdown links {name}"
        );
    }
    assert_eq!(out.files.len(), FIGURES.len() + 2);
    assert_eq!(out.metadata["figures"], json!(FIGURES.len()));
    // The fixture lacks one baseline and one SS-R value: both said.
    assert!(out.metadata["missing_pieces"].as_u64().unwrap() >= 1);
    assert!(html.contains("Missing: dataset lastfm: no rand:SS-R baseline score."));
}

#[test]
fn header_names_the_nodes_and_counts() {
    let out = Fixture::new().run().unwrap();
    let md = text(&out, "report.md");
    for node in ["eval_a, eval_b", "design", "analyze", "z_tag, z_cdr_tag"] {
        assert!(md.contains(node), "header names {node}");
    }
    assert!(
        md.contains("12 runs (phase 1: 6, phase 2: 3, phase 3: 3)"),
        "{md}"
    );
    assert!(md.contains("on 3 datasets (gtzan, arousal, lastfm)"));
    assert!(md.contains("as node `report`"));
}

#[test]
fn report_is_deterministic() {
    let fx = Fixture::new();
    let (a, b) = (fx.run().unwrap(), fx.run().unwrap());
    for (name, output) in &a.files {
        let (Output::Bytes(x), Some(Output::Bytes(y))) = (output, b.files.get(name)) else {
            panic!("{name} is bytes in both runs");
        };
        assert!(x == y, "{name} differs between runs");
    }
}

#[test]
fn topics_table_lists_the_first_topics_by_rank() {
    let out = Fixture::new()
        .run_with(json!({"topics_shown": 3, "items_shown": 2}))
        .unwrap();
    let md = text(&out, "report.md");
    assert!(md.contains("| tag | tag0 | t0-item0, t0-item1 |"), "{md}");
    assert!(md.contains("| tag | tag2 | t2-item0, t2-item1 |"));
    assert!(!md.contains("| tag3 |"), "only three topics");
    assert!(md.contains("| cdr_tag | cdr_tag1 | c1-item0, c1-item1 |"));
    assert_eq!(source_label("z_cdr_tag"), "cdr_tag");
    assert_eq!(source_label("tag"), "tag");
    assert_eq!(source_label("z_tags"), "z_tags");

    let mut fx = Fixture::new();
    fx.topics.clear();
    let md = text(&fx.run().unwrap(), "report.md");
    assert!(md.contains("**Missing:** no factorize node was given as `topics`"));
}

#[test]
fn variance_table_bolds_each_datasets_largest_component() {
    let md = text(&Fixture::new().run().unwrap(), "report.md");
    // gtzan: self 0.01, bpm 0.05, tag 0.01 (of 0.07): bpm is largest.
    assert!(md.contains("| bpm | **71.4** |"), "{md}");
    assert!(md.contains("| self | 14.3 |"));
}

fn error_of(fx: &Fixture) -> String {
    match fx.run() {
        Ok(_) => panic!("the report should fail"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "`{message}` should mention `{p}`");
    }
}

/// The report's error when score node `node`'s `column` is replaced by
/// `make(rows)`.
fn error_with_column(node: usize, column: &str, make: impl Fn(usize) -> ArrayRef) -> String {
    let mut fx = Fixture::new();
    let scores = &fx.scores[node].1.tables["scores"];
    let bad = with_column(scores, column, make(scores.num_rows()));
    fx.scores[node].1.tables.insert("scores".into(), bad);
    error_of(&fx)
}

#[test]
fn wrong_column_types_name_the_node_table_and_column() {
    assert_mentions(
        &error_with_column(1, "value", |n| i64s(&vec![1; n])),
        &[
            "input `scores`",
            "node `eval_b`",
            "table `scores`",
            "column `value`",
            "Int64",
            "Float64",
        ],
    );

    // The split repeat, which the transfer check pairs scores by.
    assert_mentions(
        &error_with_column(0, "repeat", |n| utf8(&vec!["0"; n])),
        &[
            "input `scores`",
            "table `scores`",
            "column `repeat`",
            "Utf8",
            "Int64",
        ],
    );

    let mut fx = Fixture::new();
    let effects = &fx.analysis.tables["fixed_effects"];
    let bad = with_column(effects, "estimate", utf8(&vec!["1"; effects.num_rows()]));
    fx.analysis.tables.insert("fixed_effects".into(), bad);
    assert_mentions(
        &error_of(&fx),
        &[
            "input `analysis`",
            "node `analyze`",
            "table `fixed_effects`",
            "column `estimate`",
        ],
    );

    let mut fx = Fixture::new();
    let top = &fx.topics[0].1.tables["top_items"];
    let bad = with_column(top, "rank", i64s(&vec![0; top.num_rows()]));
    fx.topics[0].1.tables.insert("top_items".into(), bad);
    assert_mentions(
        &error_of(&fx),
        &[
            "node `z_tag`",
            "table `top_items`",
            "column `rank`",
            "UInt32",
        ],
    );
}

#[test]
fn bad_cells_and_missing_tables_are_named() {
    let mut fx = Fixture::new();
    let runs = &fx.design.tables["runs"];
    let mut strategies: Vec<String> = runs
        .column_by_name("strategy")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    strategies[4] = "MS-CR@3".into();
    let bad = with_column(runs, "strategy", utf8(&strategies));
    fx.design.tables.insert("runs".into(), bad);
    assert_mentions(
        &error_of(&fx),
        &[
            "node `design`",
            "table `runs`",
            "column `strategy`, row 4",
            "unknown strategy `MS-CR@3`",
        ],
    );

    let mut fx = Fixture::new();
    let comps = &fx.analysis.tables["variance_components"];
    let with_null: Arc<dyn Array> = Arc::new(StringArray::from(
        (0..comps.num_rows())
            .map(|i| (i != 2).then_some("gtzan"))
            .collect::<Vec<_>>(),
    ));
    let bad = with_column(comps, "dataset", with_null);
    fx.analysis.tables.insert("variance_components".into(), bad);
    assert_mentions(&error_of(&fx), &["column `dataset` is null at row 2"]);

    let mut fx = Fixture::new();
    fx.design.tables.remove("alias");
    assert_mentions(
        &error_of(&fx),
        &["input `design`", "node `design`", "table `alias`"],
    );

    let mut fx = Fixture::new();
    fx.analysis
        .bytes
        .insert("fit".into(), b"{not json".to_vec());
    assert_mentions(
        &error_of(&fx),
        &["node `analyze`", "file `fit`", "not JSON"],
    );

    let mut fx = Fixture::new();
    fx.scores.clear();
    assert_mentions(&error_of(&fx), &["input `scores`", "no upstream nodes"]);
}

#[test]
fn a_dataset_scored_with_two_metrics_is_an_error() {
    let mut fx = Fixture::new();
    let scores = &fx.scores[0].1.tables["scores"];
    let mut metric = vec!["accuracy"; scores.num_rows()];
    metric[1] = "r2";
    let bad = with_column(scores, "metric", utf8(&metric));
    fx.scores[0].1.tables.insert("scores".into(), bad);
    assert_mentions(
        &error_of(&fx),
        &["dataset `gtzan`", "two metrics", "`accuracy`", "`r2`"],
    );
}

#[test]
fn parameters_must_be_positive() {
    let err = Fixture::new()
        .run_with(json!({"items_shown": 0}))
        .err()
        .expect("items_shown 0 is refused");
    assert!(
        matches!(&err, StageError::Param { name, .. } if name == "items_shown"),
        "{err}"
    );
}

#[test]
fn empty_scores_give_notes_not_failures() {
    let mut fx = Fixture::new();
    for (_, node) in &mut fx.scores {
        let empty = node.tables["scores"].slice(0, 0);
        node.tables.insert("scores".into(), empty);
    }
    let out = fx.run().unwrap();
    let md = text(&out, "report.md");
    assert!(
        md.contains("**Missing:** the scores tables have no rows."),
        "{md}"
    );
    assert!(!out.files.contains_key("figures/fig08_ssr_by_source.svg"));
    // The analysis still knows its three datasets: Fig. 9 keeps its panels.
    let svg = text(&out, "figures/fig09_by_strategy.svg");
    assert_eq!(count(&parse(&svg), "circle", &[("r", "5")]), 12);
}

/// The fixture's runs and scores as a user brings them: through the
/// contracts `load_table` checks them with, as `load_table` nodes' `table`.
fn made_elsewhere(fx: &mut Fixture) {
    use stages::contracts::{validate, Contract, LOADED};
    use stages::study::Source;
    let loaded = |table| Node {
        tables: [(LOADED.to_string(), table)].into(),
        bytes: Default::default(),
    };
    let runs = runs();
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        (
            "run",
            utf8(&runs.iter().map(|r| r.0.as_str()).collect::<Vec<_>>()),
        ),
        (
            "strategy",
            utf8(&runs.iter().map(|r| r.2.name()).collect::<Vec<_>>()),
        ),
    ];
    for s in Source::ALL {
        let present: Vec<bool> = runs.iter().map(|r| r.3.contains(&s)).collect();
        columns.push((
            s.name(),
            Arc::new(arrow::array::BooleanArray::from(present)),
        ));
    }
    fx.design = loaded(validate(Contract::Runs, "runs.parquet", &batch(columns)).unwrap());
    for (_, node) in &mut fx.scores {
        let own = &node.tables["scores"];
        let column = |name: &str| own.column_by_name(name).unwrap().clone();
        let user = batch(vec![
            ("run", column("representation")),
            ("dataset", column("dataset")),
            ("repeat", column("repeat")),
            ("metric", column("metric")),
            ("value", column("value")),
        ]);
        *node = loaded(validate(Contract::Scores, "scores.parquet", &user).unwrap());
    }
}

#[test]
fn a_study_made_elsewhere_is_reported_with_its_alias_matrix_computed() {
    let mut fx = Fixture::new();
    made_elsewhere(&mut fx);
    let out = fx.run().unwrap();
    let md = text(&out, "report.md");
    assert!(
        md.contains(
            "12 runs (phase 1: 6, phase 2: 3, phase 3: 3); alias matrix of 49 cells, computed \
             from the runs"
        ),
        "{md}"
    );
    // Without seeds, the mapped model is none of the runs.
    assert!(
        md.contains("none of the design's runs, so it is not ranked"),
        "{md}"
    );
    let svg = text(&out, "figures/fig07_alias_matrix.svg");
    let labels = texts(&parse(&svg));
    for label in [
        "SS-R", "MS-SR@FC", "MS-CR@2", "MSS-CR", "self", "bpm", "tag",
    ] {
        assert!(labels.iter().any(|l| l == label), "{label}: {labels:?}");
    }
    // The scores and runs read as the stages' own.
    let own = Fixture::new().run().unwrap();
    for figure in [
        "fig08_ssr_by_source",
        "fig09_by_strategy",
        "fig13_best_source",
    ] {
        let path = format!("figures/{figure}.svg");
        assert!(text(&own, &path) == text(&out, &path), "{figure} differs");
    }
}
