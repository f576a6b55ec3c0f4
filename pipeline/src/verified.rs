//! The record of blobs a run verified, so that the next run trusts them
//! without reading them: `.pipeline/verified/<store>.tsv`, one line per
//! blob (hash, size, fingerprint). A blob is trusted only while the store
//! lists it with the same size and fingerprint (its entity tag: on a local
//! disk it changes with the inode and modification time, on S3 with the
//! content; or its modification time where a listing has no tag),
//! so a rewritten or flipped blob is read and re-hashed again. `verify`
//! never uses the record; blobs read for a computation are always checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use storage::{BlobState, Store};

use crate::error::Result;

/// A blob's size and fingerprint as the store lists them.
type Fingerprint = (u64, String);

pub struct Verified {
    path: PathBuf,
    /// Fingerprint of every blob the store listed when the run began.
    listed: HashMap<String, Fingerprint>,
    /// Fingerprints verified, earlier or by this run.
    trusted: Mutex<HashMap<String, Fingerprint>>,
}

impl Verified {
    /// Lists the store's blobs once and reads the record kept for it.
    pub async fn load(state_dir: &Path, store: &Store) -> Result<Self> {
        let name = blake3::hash(store.label().as_bytes()).to_hex();
        let path = state_dir
            .join("verified")
            .join(format!("{}.tsv", &name[..32]));
        let listed = store
            .list_blob_details()
            .await?
            .into_iter()
            .map(|b| (b.hash, (b.size, b.fingerprint)))
            .collect();
        let trusted = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut fields = line.splitn(3, '\t');
                let hash = fields.next()?.to_string();
                let size = fields.next()?.parse().ok()?;
                Some((hash, (size, fields.next()?.to_string())))
            })
            .collect();
        Ok(Verified {
            path,
            listed,
            trusted: Mutex::new(trusted),
        })
    }

    /// Whether blob `hash` is intact: trusted when listed as it was when
    /// verified, otherwise read and re-hashed (and recorded when intact).
    pub async fn check(&self, store: &Store, hash: &str) -> Result<BlobState> {
        let listed = self.listed.get(hash);
        if listed.is_some() && self.trusted.lock().expect("lock").get(hash) == listed {
            return Ok(BlobState::Ok);
        }
        let state = store.check_blob(hash).await?;
        if let (BlobState::Ok, Some(fingerprint)) = (&state, listed) {
            self.trusted
                .lock()
                .expect("lock")
                .insert(hash.to_string(), fingerprint.clone());
        }
        Ok(state)
    }

    /// Writes the record (atomically): what is still listed as it was
    /// verified, and the blobs of the artifacts this run computed (`made`),
    /// as the store lists them now. A failure only costs re-hashing.
    pub async fn save(&self, store: &Store, made: impl IntoIterator<Item = String>) {
        let now: HashMap<String, Fingerprint> = match store.list_blob_details().await {
            Ok(blobs) => blobs
                .into_iter()
                .map(|b| (b.hash, (b.size, b.fingerprint)))
                .collect(),
            Err(e) => {
                tracing::warn!("cannot list blobs to record them as verified: {e}");
                return;
            }
        };
        let mut trusted = self.trusted.lock().expect("lock").clone();
        trusted.retain(|hash, fingerprint| now.get(hash) == Some(fingerprint));
        for hash in made {
            if let Some(fingerprint) = now.get(&hash) {
                trusted.insert(hash, fingerprint.clone());
            }
        }
        let mut text = String::new();
        for (hash, (size, tag)) in &trusted {
            text.push_str(&format!("{hash}\t{size}\t{tag}\n"));
        }
        let temp = self
            .path
            .with_extension(format!("{}.tmp", std::process::id()));
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&temp, text))
            .and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(e) = written {
            tracing::warn!(
                "cannot record verified blobs in {}: {e}",
                self.path.display()
            );
        }
    }
}
