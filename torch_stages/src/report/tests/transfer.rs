//! The transfer check: each named (source, target) pair's SS-R mean against
//! Rand, its rank among the single sources, and the bad `shared_latents`
//! entries.

use super::support::*;
use crate::report::document::Block;
use crate::report::inputs::Score;
use crate::report::means::Means;
use crate::report::sections::transfer::{self, SharedLatent, Verdict};
use stages::study::Source;

/// Scores on gtzan, one value per repeat.
fn scores(values: &[(&str, &[f64])]) -> Vec<Score> {
    values
        .iter()
        .flat_map(|(representation, per_repeat)| {
            per_repeat.iter().enumerate().map(|(repeat, &value)| Score {
                representation: representation.to_string(),
                dataset: "gtzan".into(),
                repeat: repeat as i64,
                metric: "accuracy".into(),
                value,
            })
        })
        .collect()
}

fn pairs(text: &[&str]) -> Vec<SharedLatent> {
    let entries: Vec<String> = text.iter().map(|s| s.to_string()).collect();
    transfer::parse(&entries).unwrap()
}

fn table_cells(section: &crate::report::document::Section) -> Vec<Vec<String>> {
    let table = section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .expect("a table");
    table
        .rows
        .iter()
        .map(|row| row.iter().map(|c| c.text.clone()).collect())
        .collect()
}

#[test]
fn each_pair_is_paired_with_rand_by_repeat_and_ranked_among_sources() {
    let mut study = Fixture::new().study();
    study.scores = scores(&[
        ("p1-ssr-tag-r0", &[0.60, 0.62, 0.58]),
        ("p1-ssr-tag-r1", &[0.70, 0.71, 0.69]),
        // Above Rand on average, but not by more than the split noise.
        ("p1-ssr-bpm-r0", &[0.60, 0.40, 0.56]),
        // Below Rand on every repeat.
        ("p1-ssr-self-r0", &[0.30, 0.31, 0.29]),
        ("rand:SS-R", &[0.50, 0.52, 0.48]),
        ("mfcc", &[0.90, 0.90, 0.90]),
        // The pre-trained baseline: a column of its own, never ranked.
        ("musicnn:MSD_vgg", &[0.80, 0.81, 0.79]),
        // A multi-source run is not a single source: not ranked.
        ("p2-run1", &[0.99, 0.99, 0.99]),
    ]);
    let means = Means::of(&study.scores).unwrap();
    let (checks, notes) = transfer::checks(
        &study,
        &means,
        &pairs(&["tag=gtzan", "bpm=gtzan", "self=gtzan", "tag=lastfm"]),
    );
    assert_eq!(checks.len(), 3);
    let tag = &checks[0];
    assert_eq!(tag.source, Source::Tag);
    assert!((tag.ssr - 0.65).abs() < 1e-12);
    let d = tag.difference.expect("paired");
    assert_eq!(d.pairs, 6);
    assert!((d.mean - 0.15).abs() < 1e-12, "{d:?}");
    // Differences 0.10 0.10 0.10 0.20 0.19 0.21: sd 0.0551, se 0.0225.
    let se = d.standard_error.unwrap();
    assert!((se - 0.022_509).abs() < 1e-5, "{se}");
    assert_eq!(tag.beats_rand(), Some(Verdict::Yes));
    assert_eq!((tag.rank, tag.sources_ranked), (1, 3));
    assert_eq!(tag.mfcc, Some(0.9));
    assert!((tag.musicnn.unwrap() - 0.8).abs() < 1e-12);
    assert_eq!(checks[1].beats_rand(), Some(Verdict::Unclear));
    assert_eq!((checks[1].rank, checks[1].sources_ranked), (2, 3));
    assert_eq!(checks[2].beats_rand(), Some(Verdict::No));
    assert_eq!(
        notes,
        vec!["tag on lastfm: no SS-R score of this source on this dataset.".to_string()]
    );

    let section = transfer::section(&study, &means, &pairs(&["tag=gtzan", "bpm=gtzan"])).unwrap();
    assert_eq!(
        table_cells(&section),
        [
            [
                "tag",
                "gtzan",
                "0.650",
                "0.500",
                "0.900",
                "0.800",
                "+0.150 ± 0.023",
                "yes",
                "1 of 3"
            ],
            [
                "bpm",
                "gtzan",
                "0.520",
                "0.500",
                "0.900",
                "0.800",
                "+0.020 ± 0.070",
                "unclear",
                "2 of 3"
            ],
        ]
    );

    // Without a Rand score there is nothing to pair: NA.
    study
        .scores
        .retain(|s| s.representation != "rand:SS-R" && s.representation != "musicnn:MSD_vgg");
    let means = Means::of(&study.scores).unwrap();
    let section = transfer::section(&study, &means, &pairs(&["tag=gtzan"])).unwrap();
    assert_eq!(
        table_cells(&section),
        [["tag", "gtzan", "0.650", "NA", "0.900", "NA", "NA", "NA", "1 of 3"]]
    );
}

#[test]
fn bad_entries_are_named() {
    let parse = |text: &str| transfer::parse(&[text.to_string()]);
    assert_eq!(
        parse(" bpm = ballroom ").unwrap(),
        vec![SharedLatent {
            source: Source::Bpm,
            dataset: "ballroom".into()
        }]
    );
    assert_eq!(
        parse("bpm").unwrap_err(),
        "entry `bpm` is not `source=dataset`"
    );
    assert_eq!(
        parse("bpm=").unwrap_err(),
        "entry `bpm=` is not `source=dataset`"
    );
    let err = parse("tempo=ballroom").unwrap_err();
    assert!(
        err.starts_with("entry `tempo=ballroom`: unknown source `tempo`"),
        "{err}"
    );
}

#[test]
fn no_pairs_is_a_note() {
    let study = Fixture::new().study();
    let section = transfer::section(&study, &Means::of(&[]).unwrap(), &[]).unwrap();
    assert!(matches!(section.blocks.as_slice(), [Block::Missing(_)]));
}
