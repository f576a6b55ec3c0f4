//! Fig. 16: the map of the fixture's 30 labelled tracks, each genre's
//! predicted topics per block, and notes (not failures) for the inputs it
//! lacks.

use super::figures::{dots, missing, only_figure, text_of};
use super::support::*;
use crate::report::document::Block;
use crate::report::means::Means;
use crate::report::sections::map;

fn map_section(fx: &Fixture) -> Result<crate::report::document::Section, stages::api::StageError> {
    let study = fx.study();
    let means = Means::of(&study.scores).unwrap();
    map::section(&study, &means, "gtzan", 2)
}

#[test]
fn map_has_a_dot_per_labelled_track_and_each_genres_topics() {
    let section = map_section(&Fixture::new()).unwrap();
    let svg = only_figure(&section);
    let doc = parse(&svg);
    assert_eq!(dots(&doc, 3), MAP_GENRES.len() * MAP_PER_GENRE);
    let texts = texts(&doc);
    for genre in MAP_GENRES {
        assert_eq!(
            texts.iter().filter(|t| *t == genre).count(),
            2,
            "centre and legend {genre}"
        );
    }
    // The heads favour bpm topic 10 + g and tag topic 1 + g for genre g.
    for (g, _) in MAP_GENRES.iter().enumerate() {
        let line = format!("bpm{} tag{}", 10 + g, 1 + g);
        assert!(texts.contains(&line), "legend {line} in {texts:?}");
    }
    let text = text_of(&section);
    for says in [
        "Each dot is one of the 30 labelled tracks of gtzan (node vectors_gtzan)",
        "perplexity 9.7",
        "100% of the tracks have a nearest neighbour of their own genre",
        "(node train_map) is MS-CR@2 on bpm,tag (2 blocks of 256)",
        "It is design run p3-run2: accuracy",
    ] {
        assert!(text.contains(says), "`{says}` in {text}");
    }
    assert_eq!(
        missing(&section),
        vec![
            "2 of the 32 tracks of node vectors_gtzan have no label in node labels_gtzan and \
             are not mapped."
                .to_string(),
            "`topics` has no factorize node of bpm: its topics are shown by number only."
                .to_string(),
        ]
    );
    let table = section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .expect("the topics table");
    assert_eq!(table.header, ["genre", "bpm", "tag"]);
    let jazz: Vec<&str> = table.rows[1].iter().map(|c| c.text.as_str()).collect();
    assert_eq!(jazz[0], "jazz");
    assert!(
        jazz[1].starts_with("bpm11 (") && !jazz[1].contains(':'),
        "{}",
        jazz[1]
    );
    assert!(jazz[2].starts_with("tag2 (") && jazz[2].ends_with("): t2-item0, t2-item1"));
}

#[test]
fn missing_map_inputs_are_notes() {
    let mut fx = Fixture::new();
    fx.map.clear();
    let section = map_section(&fx).unwrap();
    assert!(matches!(section.blocks.as_slice(), [Block::Missing(_)]));
    assert!(missing(&section)[0].contains("and the report was given neither."));
    // The whole report still runs, and says so.
    let md = text(&fx.run().unwrap(), "report.md");
    assert!(
        md.contains("**Missing:** no map: it needs `map_vectors`"),
        "{md}"
    );

    let mut fx = Fixture::new();
    fx.map.remove("map_labels");
    assert!(missing(&map_section(&fx).unwrap())[0].ends_with("given only `map_vectors`."));

    // Without the model: the map, but no topics.
    let mut fx = Fixture::new();
    fx.map.remove("map_model");
    let section = map_section(&fx).unwrap();
    assert_eq!(dots(&parse(&only_figure(&section)), 3), 30);
    assert!(missing(&section)
        .iter()
        .any(|m| m.starts_with("no `map_model` input")));
    assert!(!section.blocks.iter().any(|b| matches!(b, Block::Table(_))));
}

#[test]
fn vectors_of_another_model_are_an_error() {
    let mut fx = Fixture::new();
    let narrow = map_vectors_table(32, 512);
    fx.map
        .get_mut("map_vectors")
        .unwrap()
        .1
        .tables
        .insert("vectors".into(), narrow);
    let err = map_section(&fx)
        .err()
        .expect("a width mismatch")
        .to_string();
    for part in ["train_map", "width 1024", "vectors_gtzan", "width 512"] {
        assert!(err.contains(part), "`{err}` names {part}");
    }
}
