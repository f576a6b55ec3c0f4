use thiserror::Error;

/// Everything that can go wrong while reading or writing artifacts.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "invalid store location `{}`: {}",
        crate::redact(location),
        crate::redact(reason)
    )]
    Location { location: String, reason: String },
    #[error("store {store} is unreachable or refused `{path}`: {}", crate::redact(&source.to_string()))]
    Backend {
        store: String,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("blob {hash} is missing from store {store}")]
    MissingBlob { store: String, hash: String },
    #[error("blob {hash} in store {store} is corrupt: its content hashes to {actual}")]
    CorruptBlob {
        store: String,
        hash: String,
        actual: String,
    },
    #[error("cannot encode or decode manifest {key}: {reason}")]
    Manifest { key: String, reason: String },
    #[error("parquet table `{what}`: {reason}")]
    Table { what: String, reason: String },
}
