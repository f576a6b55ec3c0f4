use bytes::Bytes;

use crate::manifest::{FileRef, Manifest, ManifestState};
use crate::{Result, Store};

/// The store a run works against: a primary store, optionally in front of a
/// shared remote one (read-through, write-through).
///
/// A remote hit is verified and copied into the primary store before it is
/// used; results are written to both. The remote is a cache that can fail:
/// its errors become warnings and misses, never lost local work.
#[derive(Clone)]
pub struct ArtifactStore {
    primary: Store,
    remote: Option<Store>,
}

impl ArtifactStore {
    pub fn new(primary: Store, remote: Option<Store>) -> Self {
        ArtifactStore { primary, remote }
    }

    pub fn primary(&self) -> &Store {
        &self.primary
    }

    pub fn remote(&self) -> Option<&Store> {
        self.remote.as_ref()
    }

    /// Finds the manifest for `key`, pulling it (and its blobs) from the
    /// remote when the primary store lacks a valid one.
    pub async fn find(&self, key: &str) -> Result<ManifestState> {
        let local = self.primary.get_manifest(key).await?;
        if matches!(local, ManifestState::Found(_)) {
            return Ok(local);
        }
        let Some(remote) = &self.remote else {
            return Ok(local);
        };
        let replace = matches!(local, ManifestState::Invalid(_));
        match self.pull(remote, key, replace).await {
            Ok(Some(found)) => Ok(ManifestState::Found(found)),
            Ok(None) => Ok(local),
            Err(e) => {
                tracing::warn!("remote cache {}: {e}; treating as a miss", remote.label());
                Ok(local)
            }
        }
    }

    async fn pull(&self, remote: &Store, key: &str, replace: bool) -> Result<Option<Manifest>> {
        let ManifestState::Found(manifest) = remote.get_manifest(key).await? else {
            return Ok(None);
        };
        for file in manifest.files.values() {
            let bytes = remote.get_blob(&file.blake3).await?;
            self.primary.put_blob(bytes, &file.format, true).await?;
        }
        self.primary.put_manifest(&manifest, replace).await?;
        Ok(Some(manifest))
    }

    /// Writes a blob to the primary store and through to the remote.
    pub async fn put_blob(&self, bytes: Bytes, format: &str, replace: bool) -> Result<FileRef> {
        let file = self
            .primary
            .put_blob(bytes.clone(), format, replace)
            .await?;
        if let Some(remote) = &self.remote {
            if let Err(e) = remote.put_blob(bytes, format, replace).await {
                tracing::warn!("remote cache {}: could not push blob: {e}", remote.label());
            }
        }
        Ok(file)
    }

    /// Publishes a manifest, last, after all of its blobs.
    pub async fn commit(&self, manifest: &Manifest, replace: bool) -> Result<()> {
        self.primary.put_manifest(manifest, replace).await?;
        if let Some(remote) = &self.remote {
            if let Err(e) = remote.put_manifest(manifest, replace).await {
                tracing::warn!(
                    "remote cache {}: could not push manifest: {e}",
                    remote.label()
                );
            }
        }
        Ok(())
    }

    /// Reads a verified blob from the primary store, or from the remote.
    pub async fn get_blob(&self, file: &FileRef) -> Result<Bytes> {
        match self.primary.get_blob(&file.blake3).await {
            Ok(bytes) => Ok(bytes),
            Err(local_err) => {
                let Some(remote) = &self.remote else {
                    return Err(local_err);
                };
                let bytes = remote.get_blob(&file.blake3).await.map_err(|_| local_err)?;
                self.primary
                    .put_blob(bytes.clone(), &file.format, true)
                    .await?;
                Ok(bytes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn memory() -> Store {
        Store::open("memory://", std::path::Path::new(".")).unwrap()
    }

    #[tokio::test]
    async fn remote_hit_is_copied_into_the_primary_store() {
        let remote = memory();
        let writer = ArtifactStore::new(memory(), Some(remote.clone()));
        let file = writer
            .put_blob(Bytes::from_static(b"data"), "bytes", false)
            .await
            .unwrap();
        let manifest = Manifest {
            key: "k".into(),
            node: "n".into(),
            stage: "s".into(),
            stage_version: 1,
            params: serde_json::json!({}),
            inputs: BTreeMap::new(),
            input_digests: BTreeMap::new(),
            sources: BTreeMap::new(),
            files: BTreeMap::from([("out".to_string(), file.clone())]),
            metadata: serde_json::Value::Null,
            tool_version: "0".into(),
        };
        writer.commit(&manifest, false).await.unwrap();

        let fresh_local = memory();
        let reader = ArtifactStore::new(fresh_local.clone(), Some(remote));
        assert!(matches!(
            reader.find("k").await.unwrap(),
            ManifestState::Found(_)
        ));
        assert!(matches!(
            fresh_local.get_manifest("k").await.unwrap(),
            ManifestState::Found(_)
        ));
        assert_eq!(
            fresh_local.get_blob(&file.blake3).await.unwrap(),
            Bytes::from_static(b"data")
        );
    }
}
