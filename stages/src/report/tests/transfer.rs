//! The transfer check: each named (source, target) pair's SS-R mean against
//! Rand, its rank among the single sources, and the bad `shared_latents`
//! entries.

use std::collections::BTreeMap;

use super::support::*;
use crate::report::document::Block;
use crate::report::means::Means;
use crate::report::sections::transfer::{self, SharedLatent};
use crate::study::Source;

fn means(values: &[(&str, &str, f64)]) -> Means {
    Means {
        by_representation: values
            .iter()
            .map(|(d, r, v)| ((d.to_string(), r.to_string()), *v))
            .collect(),
        metric: BTreeMap::from([("gtzan".to_string(), "accuracy".to_string())]),
    }
}

fn pairs(text: &[&str]) -> Vec<SharedLatent> {
    let entries: Vec<String> = text.iter().map(|s| s.to_string()).collect();
    transfer::parse(&entries).unwrap()
}

#[test]
fn each_pair_is_checked_against_rand_and_ranked_among_sources() {
    let study = Fixture::new().study();
    let means = means(&[
        ("gtzan", "p1-ssr-tag-r0", 0.6),
        ("gtzan", "p1-ssr-tag-r1", 0.7),
        ("gtzan", "p1-ssr-bpm-r0", 0.4),
        ("gtzan", "rand:SS-R", 0.5),
        ("gtzan", "mfcc", 0.9),
        // A multi-source run is not a single source: not ranked.
        ("gtzan", "p2-run1", 0.99),
    ]);
    let (checks, notes) = transfer::checks(
        &study,
        &means,
        &pairs(&["tag=gtzan", "bpm=gtzan", "self=lastfm"]),
    );
    assert_eq!(checks.len(), 2);
    let tag = &checks[0];
    assert_eq!(tag.source, Source::Tag);
    assert!((tag.ssr - 0.65).abs() < 1e-12);
    assert_eq!(tag.beats_rand(), Some(true));
    assert_eq!((tag.rank, tag.sources_ranked), (1, 2));
    assert_eq!(tag.mfcc, Some(0.9));
    let bpm = &checks[1];
    assert_eq!(bpm.beats_rand(), Some(false));
    assert_eq!((bpm.rank, bpm.sources_ranked), (2, 2));
    assert_eq!(
        notes,
        vec!["self on lastfm: no SS-R score of this source on this dataset.".to_string()]
    );

    // Without a Rand score the verdict is unknown, and the table says NA.
    let no_rand = means_without(&means, "rand:SS-R");
    let section = transfer::section(&study, &no_rand, &pairs(&["tag=gtzan"])).unwrap();
    let table = section
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .expect("a table");
    assert_eq!(table.rows.len(), 1);
    let cells: Vec<&str> = table.rows[0].iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        cells,
        ["tag", "gtzan", "0.650", "NA", "0.900", "NA", "1 of 2"]
    );
}

fn means_without(means: &Means, representation: &str) -> Means {
    Means {
        by_representation: means
            .by_representation
            .iter()
            .filter(|((_, r), _)| r != representation)
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        metric: means.metric.clone(),
    }
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
    let section = transfer::section(&study, &means(&[]), &[]).unwrap();
    assert!(matches!(section.blocks.as_slice(), [Block::Missing(_)]));
}
