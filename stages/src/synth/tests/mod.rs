//! The generator's properties: determinism, audible latents, label tables
//! with the intended coverage and signal, and sane audio.

mod audio;
mod beats;
mod determinism;
mod separability;
mod stage;
mod tables;
mod tempo;

use super::{plan_corpus, Corpus, SynthParams};

/// A planned corpus for tests (planning is cheap).
fn corpus(params: &SynthParams) -> Corpus {
    plan_corpus(params).expect("valid parameters")
}

fn mono(audio: &super::StereoAudio) -> Vec<f32> {
    audio.channels[0]
        .iter()
        .zip(&audio.channels[1])
        .map(|(l, r)| 0.5 * (l + r))
        .collect()
}
