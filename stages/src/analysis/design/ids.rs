//! Run ids and seeds. Both depend only on what a run is (phase, strategy,
//! sources, repeat) and the design seed, never on the budget or on the
//! run's position, so growing a design keeps every earlier run's training
//! node (and its cached result) unchanged.

use crate::study::{Source, Strategy};

/// Lower-cased, with every character outside [a-z0-9@.] turned into '-'.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '@' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// "all" for all eight sources, else their slugs joined by '.'.
fn set_slug(set: &[Source]) -> String {
    if set == Source::ALL {
        return "all".into();
    }
    let names: Vec<String> = set.iter().map(|s| slug(s.name())).collect();
    names.join(".")
}

/// "p1-ssr-bpm-r0": the SS-R run of one source, repeat `repeat`.
pub(super) fn single_source(source: Source, repeat: usize) -> String {
    format!("p1-ssr-{}-r{repeat}", slug(source.name()))
}

/// "p2-ms-cr@4-all-r1": a multi-source strategy on all the design's
/// sources, repeat `repeat`.
pub(super) fn all_sources(strategy: Strategy, sources: &[Source], repeat: usize) -> String {
    format!(
        "p2-{}-{}-r{repeat}",
        slug(strategy.name()),
        set_slug(sources)
    )
}

/// "p3-mss-cr-self.tag.artist": phase-3 runs are never repeated, so the
/// strategy and the subset name one.
pub(super) fn greedy(strategy: Strategy, sources: &[Source]) -> String {
    format!("p3-{}-{}", slug(strategy.name()), set_slug(sources))
}

/// The training seed of a run: blake3 of the design seed and the run id,
/// kept to 63 bits so that it fits a signed 64-bit column.
pub(super) fn run_seed(seed: u64, id: &str) -> u64 {
    hash_u64(b"mdr-design-run\0", &[&seed.to_le_bytes(), id.as_bytes()]) & (u64::MAX >> 1)
}

/// The first 8 bytes (little endian) of blake3(domain, parts...).
pub(super) fn hash_u64(domain: &[u8], parts: &[&[u8]]) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(domain);
    for part in parts {
        hasher.update(part);
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    u64::from_le_bytes(first)
}
