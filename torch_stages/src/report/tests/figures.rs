//! Each figure built from the synthetic study: well-formed SVG with the
//! expected number of marks and labels, and the notes for missing pieces.

use super::support::*;
use crate::report::document::{Block, Section};
use crate::report::means::Means;
use crate::report::sections::{
    alias, best_source, by_n, components, effects, parameters, ssr, strategies,
};
use crate::report::stats;
use stages::study::Strategy;

/// The one figure of a section, parsed.
pub fn only_figure(section: &Section) -> String {
    let svgs: Vec<&String> = section
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Figure(f) => Some(&f.svg),
            _ => None,
        })
        .collect();
    assert_eq!(
        svgs.len(),
        1,
        "section {} has {} figures",
        section.id,
        svgs.len()
    );
    svgs[0].clone()
}

pub fn missing(section: &Section) -> Vec<String> {
    section
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Missing(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

pub fn dots(doc: &roxmltree::Document, radius: i32) -> usize {
    count(doc, "circle", &[("r", &radius.to_string())])
}

#[test]
fn ssr_figure_has_one_dot_per_run_and_dataset_and_the_baselines() {
    let study = Fixture::new().study();
    let means = Means::of(&study.scores).unwrap();
    let section = ssr::section(&study, &means).unwrap();
    let svg = only_figure(&section);
    let doc = parse(&svg);
    // 6 SS-R runs on 3 datasets; a mean per (source, dataset).
    assert_eq!(dots(&doc, 3), 18);
    assert_eq!(dots(&doc, 5), 9);
    let texts = texts(&doc);
    for dataset in ["gtzan", "arousal", "lastfm"] {
        assert!(texts.iter().any(|t| t == dataset), "panel title {dataset}");
    }
    for source in ["self", "bpm", "tag"] {
        assert_eq!(
            texts.iter().filter(|t| *t == source).count(),
            3,
            "x label {source}"
        );
    }
    assert_eq!(texts.iter().filter(|t| *t == "MFCC").count(), 3);
    // The random network was not scored on lastfm: two lines and a note.
    assert_eq!(texts.iter().filter(|t| *t == "Rand").count(), 2);
    assert_eq!(
        missing(&section),
        vec!["dataset lastfm: no rand:SS-R baseline score.".to_string()]
    );
}

#[test]
fn ssr_figure_draws_the_musicnn_baseline_where_it_was_scored() {
    let mut study = Fixture::new().study();
    for dataset in ["gtzan", "arousal"] {
        for repeat in 0..2 {
            study.scores.push(crate::report::inputs::Score {
                representation: "musicnn:MSD_vgg".into(),
                dataset: dataset.into(),
                repeat,
                metric: study
                    .scores
                    .iter()
                    .find(|s| s.dataset == dataset)
                    .unwrap()
                    .metric
                    .clone(),
                value: 0.5,
            });
        }
    }
    assert!(crate::report::means::is_known(
        "musicnn:MSD_vgg",
        &study.runs
    ));
    let means = Means::of(&study.scores).unwrap();
    let section = ssr::section(&study, &means).unwrap();
    let texts = texts(&parse(&only_figure(&section)));
    assert_eq!(texts.iter().filter(|t| *t == "musicnn").count(), 2);
    // Optional: not scored on lastfm is not named as missing.
    assert_eq!(
        missing(&section),
        vec!["dataset lastfm: no rand:SS-R baseline score.".to_string()]
    );
}

#[test]
fn ssr_section_names_what_is_missing_instead_of_failing() {
    let mut fx = Fixture::new();
    // Drop every score of the bpm SS-R runs on lastfm, and all of gtzan's SS-R.
    let scores = scores_table();
    let keep: Vec<usize> = (0..scores.num_rows())
        .filter(|&i| {
            let col = |n: &str| {
                scores
                    .column_by_name(n)
                    .unwrap()
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .unwrap()
                    .value(i)
                    .to_string()
            };
            let (rep, d) = (col("representation"), col("dataset"));
            !(rep.starts_with("p1-ssr-bpm") && d == "lastfm"
                || rep.starts_with("p1-ssr") && d == "gtzan")
        })
        .collect();
    let idx = arrow::array::UInt32Array::from_iter_values(keep.iter().map(|&i| i as u32));
    let kept = arrow::compute::take_record_batch(&scores, &idx).unwrap();
    fx.scores = vec![(
        "eval".into(),
        Node {
            tables: [("scores".to_string(), kept)].into(),
            ..Default::default()
        },
    )];
    let study = fx.study();
    let means = Means::of(&study.scores).unwrap();
    let section = ssr::section(&study, &means).unwrap();
    let notes = missing(&section);
    assert!(
        notes.contains(&"dataset gtzan has no SS-R score.".to_string()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"dataset lastfm has no SS-R score for bpm.".to_string()),
        "{notes:?}"
    );
    let svg = only_figure(&section);
    let doc = parse(&svg);
    // arousal: 6 runs, lastfm: 4 runs; gtzan has no panel.
    assert_eq!(dots(&doc, 3), 10);
    assert!(!texts(&doc).iter().any(|t| t == "gtzan"));

    // A design without SS-R runs: no figure, a note.
    let mut study = study;
    study.runs.retain(|r| r.strategy != Strategy::SsR);
    let section = ssr::section(&study, &means).unwrap();
    assert!(section
        .blocks
        .iter()
        .all(|b| !matches!(b, Block::Figure(_))));
    assert_eq!(missing(&section).len(), 1);
}

#[test]
fn strategy_figure_has_one_dot_per_observation_and_a_mean_per_group() {
    let study = Fixture::new().study();
    let section = strategies::section(&study.standardized, &study.datasets()).unwrap();
    let svg = only_figure(&section);
    let doc = parse(&svg);
    assert_eq!(dots(&doc, 3), 36);
    assert_eq!(dots(&doc, 5), 12, "3 datasets x 4 strategies");
    let texts = texts(&doc);
    for st in ["SS-R", "MS-SR@FC", "MS-CR@2", "MSS-CR"] {
        assert_eq!(texts.iter().filter(|t| *t == st).count(), 3, "x label {st}");
    }
    assert!(
        !texts.iter().any(|t| t == "MS-CR@6"),
        "absent strategies are not drawn"
    );
}

#[test]
fn n_sources_figure_draws_model1_lines_through_b0_and_b1() {
    let study = Fixture::new().study();
    let section = by_n::section(&study.standardized, &study.effects).unwrap();
    let svg = only_figure(&section);
    let doc = parse(&svg);
    assert_eq!(dots(&doc, 3), 36);
    assert_eq!(
        dots(&doc, 5),
        7,
        "SS-R at n=1, three strategies at n=2 and 3"
    );
    for color in ["#000000", "#E69F00", "#0072B2", "#D55E00"] {
        let lines = count(
            &doc,
            "polyline",
            &[("stroke", color), ("stroke-width", "2")],
        );
        assert_eq!(lines, 1, "fitted line of colour {color}");
    }
    assert!(missing(&section).is_empty());
    // The line is b0 + b1 n* with n* = n - 2 (fixture: b0 0.4, b1 0.3 for MSS-CR).
    let line = by_n::fitted(&study.effects, Strategy::MssCr).unwrap();
    assert!(
        (line.b0 - 0.4).abs() < 1e-12 && (line.b1 - 0.3).abs() < 1e-12,
        "{line:?}"
    );
    assert!((line.at(Strategy::MssCr, 5.0) - 1.3).abs() < 1e-12);
    let ssr = by_n::fitted(&study.effects, Strategy::SsR).unwrap();
    assert_eq!(ssr.at(Strategy::SsR, 1.0), ssr.b0, "n* = 0 for SS-R");
    // SS-R needs no slope (the fixture has none); a multi-source strategy does.
    let no_slope: Vec<_> = study
        .effects
        .iter()
        .filter(|e| e.term != "b1[MSS-CR]")
        .cloned()
        .collect();
    assert!(by_n::fitted(&no_slope, Strategy::MssCr).is_none());
    let section = by_n::section(&study.standardized, &no_slope).unwrap();
    assert_eq!(missing(&section).len(), 1);
    let svg = only_figure(&section);
    let doc = parse(&svg);
    assert_eq!(
        count(
            &doc,
            "polyline",
            &[("stroke", "#D55E00"), ("stroke-width", "2")]
        ),
        0
    );
}

#[test]
fn effect_figures_have_an_interval_per_term_and_the_fit_is_shown_verbatim() {
    let study = Fixture::new().study();
    let section = effects::section(&study.effects, &study.pairwise, &study.fit).unwrap();
    let figures: Vec<(&str, String)> = section
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Figure(f) => Some((f.name.as_str(), f.svg.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(figures.len(), 2);
    let model1 = parse(&figures[0].1);
    assert_eq!(figures[0].0, effects::MODEL1_FIGURE);
    assert_eq!(dots(&model1, 5), 7, "4 intercepts and 3 slopes");
    assert_eq!(count(&model1, "polyline", &[("stroke-width", "3")]), 7);
    let model2 = parse(&figures[1].1);
    assert_eq!(dots(&model2, 5), 4);
    assert_eq!(count(&model2, "polyline", &[("stroke-width", "3")]), 4);
    for term in effects::MODEL2_TERMS {
        assert!(texts(&model2).iter().any(|t| t == term), "label {term}");
    }
    // Pairwise table: the first interval excludes 0 (bold), the second not.
    let table = section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if t.caption.starts_with("Pairwise") => Some(t),
            _ => None,
        })
        .expect("pairwise table");
    assert_eq!(table.rows.len(), 2);
    assert!(table.rows[0][4].bold && !table.rows[1][4].bold);
    // Log-likelihoods and the singular-fit reason, verbatim.
    let diagnostics = section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if t.caption.starts_with("Fit diagnostics") => Some(t),
            _ => None,
        })
        .expect("fit diagnostics");
    let entries: Vec<(String, String)> = diagnostics
        .rows
        .iter()
        .map(|r| (r[0].text.clone(), r[1].text.clone()))
        .collect();
    for want in [
        ("model1.reml_log_likelihood", "-41.25"),
        ("model1.singular", "true"),
        ("model1.singular_reason", "variance of u1 for MS-SR@FC is 0"),
        ("model2.reml_log_likelihood", "-38.5"),
    ] {
        assert!(
            entries.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {entries:?}"
        );
    }
    assert!(!entries.iter().any(|(k, _)| k.contains("iterations")));
}

#[test]
fn effects_section_without_effects_says_so() {
    let study = Fixture::new().study();
    let section = effects::section(&[], &[], &serde_json::json!({})).unwrap();
    let notes = missing(&section);
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(notes[0].contains("Model 1") && notes[1].contains("Model 2"));
    // Only Model 2: exactly one figure, and a note for Model 1.
    let model2: Vec<_> = study
        .effects
        .iter()
        .filter(|e| e.model == "model2")
        .cloned()
        .collect();
    let section = effects::section(&model2, &study.pairwise, &study.fit).unwrap();
    only_figure(&section);
    assert_eq!(missing(&section).len(), 1);
}

#[test]
fn alias_heat_map_has_a_cell_per_entry_with_its_value() {
    let study = Fixture::new().study();
    let section = alias::section(&study.alias).unwrap();
    let svg = only_figure(&section);
    let doc = parse(&svg);
    // 25 cells plus the white background.
    assert_eq!(count(&doc, "rect", &[]), 26);
    let texts = texts(&doc);
    assert_eq!(
        texts.iter().filter(|t| *t == "1.00").count(),
        5,
        "the diagonal"
    );
    for label in ALIAS_LABELS {
        assert_eq!(
            texts.iter().filter(|t| *t == label).count(),
            2,
            "row and column {label}"
        );
    }
    // The strongest off-diagonal aliasing is named in the text.
    let Block::Text(text) = &section.blocks[0] else {
        panic!("text first")
    };
    assert!(
        text.contains(&stats::fmt(0.4)) || text.contains(&stats::fmt(-0.4)),
        "{text}"
    );
    assert!(alias::section(&[])
        .unwrap()
        .blocks
        .iter()
        .all(|b| matches!(b, Block::Missing(_))));
}

#[test]
fn parameter_figure_has_a_point_per_strategy_and_n() {
    let section = parameters::section().unwrap();
    let svg = only_figure(&section);
    let doc = parse(&svg);
    assert_eq!(
        dots(&doc, 4),
        1 + 5 * 8,
        "SS-R at n = 1, the others at 1..8"
    );
    let texts = texts(&doc);
    for st in Strategy::ALL {
        assert!(texts.iter().any(|t| t == st.name()), "legend {st}");
    }
    let counts = parameters::counts().unwrap();
    let ssr = counts[0].1[0].1;
    assert_eq!(ssr, 576_482, "the paper's CNN with one 50-way head");
    // Every multi-source network grows with n.
    for (_, points) in &counts[1..] {
        assert!(points.windows(2).all(|w| w[1].1 > w[0].1), "{points:?}");
    }
}

/// The text blocks of a section, joined.
pub fn text_of(section: &Section) -> String {
    section
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn best_source_figure_splits_each_dataset_by_its_best_single_source() {
    let study = Fixture::new().study();
    let datasets = study.datasets();
    let section = best_source::section(&study.standardized, &datasets).unwrap();
    let svg = only_figure(&section);
    let doc = parse(&svg);
    // Per dataset 12 representations: the best source (bpm; self on
    // arousal) is in 7 (its 2 SS-R runs and 5 multi-source runs), not in 5.
    let filled = count(&doc, "circle", &[("r", "3"), ("stroke", "none")]);
    let hollow = count(&doc, "circle", &[("r", "3"), ("fill", "none")]);
    assert_eq!((filled, hollow), (3 * 7, 3 * 5));
    // A solid and a dashed line per panel, each with its band.
    let solid = [("stroke", "#000000"), ("stroke-width", "2")];
    assert_eq!(count(&doc, "polyline", &solid), 3);
    let dashes = count(
        &doc,
        "polyline",
        &[("stroke", "#787878"), ("stroke-width", "2")],
    );
    assert!(dashes > 3, "{dashes} dashes");
    assert_eq!(count(&doc, "polygon", &[]), 6);
    let texts = texts(&doc);
    for title in [
        "gtzan (best: bpm)",
        "arousal (best: self)",
        "lastfm (best: bpm)",
    ] {
        assert!(
            texts.iter().any(|t| t == title),
            "panel {title} in {texts:?}"
        );
    }
    let text = text_of(&section);
    assert!(
        text.contains("gtzan: best single source bpm; at n = 3 the line with it"),
        "{text}"
    );
    assert!(missing(&section).is_empty());
    assert_eq!(
        best_source::best_source(&study.standardized, "arousal"),
        Some(stages::study::Source::SelfSupervised)
    );

    // Without SS-R rows there is no best source: notes, no figure.
    let multi: Vec<_> = study
        .standardized
        .iter()
        .filter(|r| r.strategy != Strategy::SsR)
        .cloned()
        .collect();
    let section = best_source::section(&multi, &datasets).unwrap();
    assert!(section
        .blocks
        .iter()
        .all(|b| matches!(b, Block::Missing(_))));
    assert_eq!(missing(&section).len(), 3);
}

#[test]
fn fig14_has_a_dot_per_cell_with_both_numbers() {
    let study = Fixture::new().study();
    let section = components::section(&study.components, &study.datasets()).unwrap();
    let figure = section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Figure(f) if f.name == components::FIGURE => Some(f.svg.clone()),
            _ => None,
        })
        .expect("Fig. 14");
    let doc = parse(&figure);
    // 3 datasets x 3 sources, bpm has no SS-R score on lastfm.
    assert_eq!(dots(&doc, 5), 8);
    let texts = texts(&doc);
    for source in ["self", "bpm", "tag"] {
        assert!(texts.iter().any(|t| t == source), "legend {source}");
    }
    let points = components::points(&study.components);
    let gtzan_bpm = points
        .iter()
        .find(|p| p.source == "bpm" && p.ssr_y_star == 0.3)
        .unwrap();
    assert!(
        (gtzan_bpm.percent - 500.0 / 7.0).abs() < 1e-9,
        "as Table 6: 71.4"
    );
    let pairs: Vec<(f64, f64)> = points.iter().map(|p| (p.ssr_y_star, p.percent)).collect();
    let r = stats::fmt(stats::pearson(&pairs).unwrap());
    assert!(text_of(&section).contains(&format!("Over the 8 cells, r = {r}")));
    // The per-source correlations stay as a table.
    assert!(section
        .blocks
        .iter()
        .any(|b| matches!(b, Block::Table(t) if t.caption.starts_with("Pearson"))));
}

#[test]
fn line_fit_and_its_band() {
    // y = 1 + 2x exactly: no residual, a band of width 0.
    let exact = stats::LineFit::of(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
    assert!((exact.intercept - 1.0).abs() < 1e-12 && (exact.slope - 2.0).abs() < 1e-12);
    assert!(exact.half_width(1.0).unwrap().abs() < 1e-12);
    // Residuals +-0.5 at x = 0, 0, 1, 1: s = sqrt(1 / 2), band at x = 0.5
    // is t(2) s / 2.
    let fit = stats::LineFit::of(&[(0.0, 0.5), (0.0, -0.5), (1.0, 1.5), (1.0, 0.5)]).unwrap();
    let want = 4.302_652_729_749_464 * 0.5f64.sqrt() / 2.0;
    assert!((fit.half_width(0.5).unwrap() - want).abs() < 1e-12);
    assert!(
        stats::LineFit::of(&[(1.0, 0.0), (1.0, 2.0)]).is_none(),
        "one x"
    );
    assert!(stats::LineFit::of(&[(0.0, 0.0), (1.0, 2.0)])
        .unwrap()
        .half_width(0.0)
        .is_none());
    // scipy.stats.t.ppf(0.975, df).
    for (df, want, tolerance) in [
        (1, 12.706_204_736_174_694, 1e-12),
        (3, 3.182_446_305_283_708, 5e-3),
        (10, 2.228_138_851_986_274, 1e-5),
        (30, 2.042_272_456_301_238, 1e-6),
    ] {
        assert!((stats::t975(df) - want).abs() < tolerance, "df {df}");
    }
}
