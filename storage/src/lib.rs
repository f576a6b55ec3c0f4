//! Content-addressed artifact store for the pipeline.
//!
//! Blobs live under `blobs/<2 hex>/<blake3 hex>` and are immutable; a node's
//! [`Manifest`] lives under `manifests/<key>.json` and is written last, with a
//! create-only put. Readers trust only sealed manifests and verify the blake3
//! of every blob they read, so no lock is needed between concurrent runs.

mod error;
mod items;
mod layered;
pub mod lease;
mod location;
mod manifest;
mod redact;
mod store;
pub mod table;

pub use error::StoreError;
pub use items::ItemRecord;
pub use layered::ArtifactStore;
pub use location::open_location;
pub use manifest::{FileRef, Manifest, ManifestKey, ManifestState};
pub use redact::redact;
pub use store::{hash_bytes, BlobInfo, BlobState, Store};

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
