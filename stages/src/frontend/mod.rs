//! The audio front end as pipeline stages (SPEC 2-3): `fetch` brings each
//! track's bytes into the store, `mel` turns them into dB mel spectrograms
//! and the MFCC baseline, `scaler` fits the per-band standardisation on the
//! training tracks. The numerics live in [`crate::audio`]; this module wires
//! them to the engine: per-track outputs emitted as they are ready, per-track
//! failures listed in tables (never a silently smaller result), resumption of
//! an interrupted node, progress.
//!
//! ```yaml
//! - name: tracks
//!   stage: load_table
//!   params: {path: tracks.csv}
//! - name: audio
//!   stage: fetch
//!   params: {jobs: 16}
//!   inputs: {tracks: tracks}
//! - name: mels
//!   stage: mel
//!   inputs: {audio: audio}
//! - name: scaler
//!   stage: scaler
//!   inputs: {mel: mels, tracks: tracks}
//! ```

mod fetch;
mod journal;
mod mel_stage;
pub mod mel_table;
pub mod retry;
mod scaler_stage;
pub mod source;

#[cfg(test)]
mod test_sink;

pub use fetch::Fetch;
pub use mel_stage::MelSpectrograms;
pub use scaler_stage::FitScaler;
