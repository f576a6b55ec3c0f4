//! A deterministic, **synthetic** music corpus: audio and every label the
//! study needs, generated from a seed.
//!
//! No real music dataset can be downloaded where the study runs, so the
//! default study runs on music this module makes up. It is not real music
//! and results on it say nothing about real music; it exists so the whole
//! pipeline (rendering, mel, factorization, multi-task training,
//! evaluation, analysis) runs end to end on data with real, learnable
//! structure. Swap in real manifests to study real music.
//!
//! # How it is made
//!
//! 1. [`latents`]: artists, then tracks. Each track has a genre (8, three
//!    of them ballroom styles, so tempo and rhythm matter), a groove
//!    (mostly the genre's own, sometimes a neighbour's), a tempo, meter,
//!    key and mode, a predominant and an accompanying instrument,
//!    brightness, energy, arousal (from tempo and energy), valence (from
//!    brightness, a little mode and tempo), a year (from genre and
//!    brightness), a popularity and a production (drum tuning, EQ, room,
//!    lead level, noise floor), each with noise. An artist's tracks share genre,
//!    groove, key, timbre, production and era; their tempi spread about
//!    15% around the artist's, so an artist's sound does not give away a
//!    track's tempo.
//! 2. [`labels`] and [`targets`]: every label table is drawn from those
//!    latents with the noise the real source has (see each table's doc).
//!    The `self` source needs no table.
//! 3. [`render`]: a score ([`score`]: chords, bass, a motif-based melody
//!    and the groove's drum pattern, every beat exactly on the tempo grid)
//!    played by additive wavetable voices ([`instruments`]) and noise/sine
//!    percussion ([`drums`]), then EQ, room and a noise floor.
//!
//! How hard it is (see `tests/separability.rs`): crude spectral statistics
//! with a nearest-neighbour rule that may not use the same artist's tracks
//! get about 0.4 on the 8 genres and 0.3 on the 7 instruments (chance 0.125
//! and 0.14), and about 0.9 when the same artist's tracks may be used: the
//! artist effect is as real here as in GTZAN, hence artist-aware splits.
//!
//! Everything is seeded by `(SynthParams::seed, purpose, track_id)`
//! through our own generator ([`rng`]), so a track renders the same alone
//! or among others, in any order, and a table does not change when another
//! does. Same parameters, same bytes on the same platform.
//!
//! # Interface
//!
//! * [`SynthParams`] (`tiny`, `default_study`), validated into
//!   [`SynthError::InvalidParam`].
//! * [`plan_corpus`] -> [`Corpus`]: latents and all tables, no audio.
//! * [`render_track`] -> [`StereoAudio`]; [`encode_wav`] -> 16-bit PCM WAV
//!   bytes; [`render_wav`] does both. About 0.05 s per 30 s track on one
//!   core (release build); tracks are independent, render them in
//!   parallel.
//! * [`Corpus::tables`] lists every table by name; [`Corpus::latents_table`]
//!   is the ground truth per track (for reports, never for learning);
//!   [`content_digest`] hashes a table's contents.
//!
//! # Tables (Arrow)
//!
//! Learning sources (only learning tracks; a track without a label for a
//! source is absent from its table):
//! * `tag`, `taste`, `lyrics`, `cdr_tag`: (track_id Utf8, item Utf8,
//!   count Int64 > 0); taste's items are user ids, cdr_tag's counts are 1.
//! * `artist`: (track_id Utf8, artist_id Utf8).
//! * `bpm`, `year`: (track_id Utf8, value Float64).
//!
//! Targets (each set's own tracks and artists, disjoint from learning
//! tracks; `SynthParams::target_tracks` each, `ballroom_tracks` for
//! Ballroom, `emotion_tracks` for arousal and valence), every manifest starting
//! (track_id, uri = [`corpus::audio_uri`]: `audio/<track_id>.wav`, the name
//! of the track's file among `synth_audio`'s outputs):
//! * `gtzan`: (.., label, group = artist_id nullable Utf8).
//! * `fma` (top-level genre: the three ballroom genres are
//!   `international`), `irmas` (predominant instrument): (.., label,
//!   split nullable Utf8: train / valid / test, 70/10/20 of the artists).
//! * `ballroom`: (.., label = dance style, eight of Extended Ballroom's
//!   classes, group = artist_id nullable Utf8): artist-filtered splits,
//!   since a band plays one dance and its sound would otherwise name it.
//!   Its bands play in any of the ballroom genres whatever the dance, and
//!   every 4/4 dance on the same backbeat, so meter and tempo tell the
//!   dances apart, not timbre (the real set is separable by tempo alone:
//!   the paper's "purposefully biased" target).
//! * `arousal`, `valence`: (.., value Float64 in [-1, 1], split),
//!   one emotion set, the same tracks and split in both.
//! * `lastfm`: (.., label = `track`, group = artist_id);
//!   `lastfm_interactions`: (user_id Utf8, track_id Utf8, count Int64 > 0).
//!
//! As pipeline stages (`synth_audio`, `synth_table`: see `stage.rs`) the
//! corpus enters as a user's data does: a track manifest and its files
//! through `fetch`, every table through its input contract (docs/data.md).

pub mod corpus;
pub mod drums;
pub mod instruments;
pub mod labels;
pub mod latents;
pub mod params;
pub mod render;
pub mod score;
mod stage;
pub mod style;
pub mod tables;
pub mod targets;
pub mod users;
pub mod vocab;
pub mod wav;

#[cfg(test)]
mod tests;

use arrow::error::ArrowError;
use thiserror::Error;

pub use corpus::{plan_corpus, Corpus, LEARNING_TABLES, TARGET_TABLES};
pub use labels::LearningTables;
pub use latents::{Role, TargetSet, TrackLatent};
pub use params::{Coverage, SynthParams};
pub use render::{render_track, render_wav, StereoAudio};
pub use stage::{SynthAudio, SynthTable};
pub use style::{Dance, Genre, Instrument, Mode};
pub use tables::content_digest;
pub use targets::TargetTables;
pub use wav::encode_wav;

#[derive(Debug, Error)]
pub enum SynthError {
    #[error("synth parameter `{name}`: {reason}")]
    InvalidParam { name: String, reason: String },
    #[error("rendering {track_id}: {reason}")]
    Render { track_id: String, reason: String },
    #[error("WAV encoding: {0}")]
    Wav(String),
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
}

impl From<SynthError> for crate::api::StageError {
    fn from(error: SynthError) -> Self {
        match error {
            SynthError::InvalidParam { name, reason } => {
                crate::api::StageError::Param { name, reason }
            }
            SynthError::Arrow(e) => crate::api::StageError::Arrow(e),
            other => crate::api::StageError::Data(other.to_string()),
        }
    }
}
