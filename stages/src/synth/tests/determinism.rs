use super::corpus;
use crate::synth::{content_digest, render_wav, Role, SynthParams, TargetSet};

fn table_digests(seed: u64) -> Vec<(String, blake3::Hash)> {
    corpus(&SynthParams::tiny(seed))
        .tables()
        .into_iter()
        .map(|(name, batch)| (name.to_string(), content_digest(batch)))
        .collect()
}

fn wav_digests(seed: u64) -> Vec<blake3::Hash> {
    let params = SynthParams::tiny(seed);
    let c = corpus(&params);
    let picks = [
        c.tracks_in(Role::Learning).next(),
        c.tracks_in(Role::Learning).nth(7),
        c.tracks_in(Role::Target(TargetSet::Ballroom)).nth(3),
    ];
    picks
        .into_iter()
        .map(|t| blake3::hash(&render_wav(t.expect("track exists"), &params).expect("renders")))
        .collect()
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let (a, b, other) = (wav_digests(5), wav_digests(5), wav_digests(6));
    assert_eq!(a, b);
    for (x, y) in a.iter().zip(&other) {
        assert_ne!(x, y);
    }
    let (a, b, other) = (table_digests(5), table_digests(5), table_digests(6));
    assert_eq!(a, b);
    for ((name, x), (_, y)) in a.iter().zip(&other) {
        assert_ne!(x, y, "table {name} ignores the seed");
    }
}

#[test]
fn tracks_render_the_same_in_parallel_in_any_order() {
    use rayon::prelude::*;
    let params = SynthParams::tiny(9);
    let c = corpus(&params);
    let tracks: Vec<_> = c.tracks.iter().step_by(13).collect();
    let forward: Vec<Vec<u8>> = tracks
        .iter()
        .map(|t| render_wav(t, &params).expect("renders"))
        .collect();
    let mut backward: Vec<Vec<u8>> = tracks
        .par_iter()
        .rev()
        .map(|t| render_wav(t, &params).expect("renders"))
        .collect();
    backward.reverse();
    assert!(forward == backward);
}
