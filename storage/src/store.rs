use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::manifest::{FileRef, Manifest, ManifestKey, ManifestState};
use crate::{Result, StoreError};

/// blake3 of `bytes` as lowercase hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The state of one blob, as found by re-hashing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobState {
    Ok,
    Missing,
    Corrupt { actual: String },
}

/// A blob as listed.
#[derive(Debug, Clone)]
pub struct BlobInfo {
    pub hash: String,
    pub size: u64,
    pub modified_unix: i64,
    /// What changes whenever the object is rewritten: the backend's entity
    /// tag (on a local disk: inode, modification time and size), or, where
    /// the listing has none (s3s-fs), the modification time.
    pub fingerprint: String,
}

/// One backend (a directory, a bucket prefix, or memory) holding blobs and
/// manifests.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Arc<dyn ObjectStore>,
    prefix: String,
    label: String,
    /// Signs manifests written and is required of manifests read.
    pub(crate) signer: Option<ManifestKey>,
    /// Blob bytes read so far, by every clone (what a run reports).
    blob_bytes_read: Arc<AtomicU64>,
    /// The directory of a local store: its manifests (small files, read
    /// for every node by run and status) are read in place, without the
    /// two thread hand-offs per file of the object-store layer.
    local_dir: Option<std::path::PathBuf>,
}

impl Store {
    /// Wraps a backend; `label` names it in errors (e.g. the location URL).
    pub fn new(backend: Arc<dyn ObjectStore>, prefix: &str, label: &str) -> Self {
        Store {
            backend,
            prefix: prefix.trim_matches('/').to_string(),
            label: crate::redact(label),
            signer: None,
            blob_bytes_read: Arc::new(AtomicU64::new(0)),
            local_dir: None,
        }
    }

    /// Signs every manifest written, and trusts only manifests signed with
    /// `key` (see [`ManifestKey`]).
    pub fn with_manifest_key(mut self, key: Option<ManifestKey>) -> Self {
        self.signer = key;
        self
    }

    /// Opens a location string (see [`crate::open_location`]).
    pub fn open(location: &str, base_dir: &std::path::Path) -> Result<Self> {
        let (backend, prefix) = crate::open_location(location, base_dir)?;
        let mut store = Store::new(backend, &prefix, location);
        if crate::location::is_local(location) {
            store.local_dir = Some(base_dir.join(location));
        }
        Ok(store)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn path(&self, rel: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn blob_path(&self, hash: &str) -> Path {
        let shard = hash.get(..2).unwrap_or("00");
        self.path(&format!("blobs/{shard}/{hash}"))
    }

    fn manifest_path(&self, key: &str) -> Path {
        self.path(&format!("manifests/{key}.json"))
    }

    pub(crate) fn backend_err(&self, path: &Path, source: object_store::Error) -> StoreError {
        StoreError::Backend {
            store: self.label.clone(),
            path: path.to_string(),
            source,
        }
    }

    /// Writes `bytes` as a blob. A blob that already exists is left alone
    /// (same address, same content) unless `replace` is set, which is how a
    /// blob found corrupt gets rewritten.
    pub async fn put_blob(&self, bytes: Bytes, format: &str, replace: bool) -> Result<FileRef> {
        let hash = hash_bytes(&bytes);
        let file = FileRef {
            blake3: hash.clone(),
            size: bytes.len() as u64,
            format: format.to_string(),
        };
        self.put_raw(&self.blob_path(&hash), bytes, replace).await?;
        Ok(file)
    }

    /// Create-only put, treating "already exists" as success; or overwrite.
    ///
    /// A create-only put of a large body first asks whether the object is
    /// there: an S3 server may answer 412 before it has read the body and
    /// close the connection, which the client sees as a broken request.
    /// Transport errors are retried with backoff; before each retry of a
    /// create-only put the object is looked up, and one that now exists
    /// counts as written.
    pub(crate) async fn put_raw(&self, path: &Path, bytes: Bytes, replace: bool) -> Result<()> {
        if !replace && bytes.len() >= HEAD_FIRST_BYTES && self.exists(path).await? {
            return Ok(());
        }
        let mode = if replace {
            PutMode::Overwrite
        } else {
            PutMode::Create
        };
        let mut attempt = 0;
        loop {
            let opts = PutOptions {
                mode: mode.clone(),
                ..Default::default()
            };
            let error = match self
                .backend
                .put_opts(path, PutPayload::from_bytes(bytes.clone()), opts)
                .await
            {
                Ok(_) => return Ok(()),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => return Ok(()),
                Err(e) => e,
            };
            if !is_transient(&error) || attempt >= PUT_RETRIES {
                return Err(self.backend_err(path, error));
            }
            attempt += 1;
            tracing::debug!("put {path}: {error}; retry {attempt} of {PUT_RETRIES}");
            tokio::time::sleep(PUT_BACKOFF * 2u32.pow(attempt - 1)).await;
            if !replace && self.exists(path).await.unwrap_or(false) {
                return Ok(());
            }
        }
    }

    async fn exists(&self, path: &Path) -> Result<bool> {
        match self.backend.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.backend_err(path, e)),
        }
    }

    /// Whether the blob `hash` is present (not re-hashed: a cheap look).
    pub async fn has_blob(&self, hash: &str) -> Result<bool> {
        self.exists(&self.blob_path(hash)).await
    }

    /// Reads a blob and checks its blake3.
    pub async fn get_blob(&self, hash: &str) -> Result<Bytes> {
        let path = self.blob_path(hash);
        let bytes = match self.backend.get(&path).await {
            Ok(r) => r.bytes().await.map_err(|e| self.backend_err(&path, e))?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StoreError::MissingBlob {
                    store: self.label.clone(),
                    hash: hash.to_string(),
                })
            }
            Err(e) => return Err(self.backend_err(&path, e)),
        };
        self.blob_bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let actual = hash_bytes(&bytes);
        if actual != hash {
            return Err(StoreError::CorruptBlob {
                store: self.label.clone(),
                hash: hash.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// How many blob bytes this store (with its clones) has read.
    pub fn blob_bytes_read(&self) -> u64 {
        self.blob_bytes_read.load(Ordering::Relaxed)
    }

    /// Re-hashes a blob to tell whether it is intact.
    pub async fn check_blob(&self, hash: &str) -> Result<BlobState> {
        match self.get_blob(hash).await {
            Ok(_) => Ok(BlobState::Ok),
            Err(StoreError::MissingBlob { .. }) => Ok(BlobState::Missing),
            Err(StoreError::CorruptBlob { actual, .. }) => Ok(BlobState::Corrupt { actual }),
            Err(e) => Err(e),
        }
    }

    /// Publishes a manifest: create-only, or overwrite when `replace` (used
    /// when the previous manifest for this key pointed at corrupt data).
    pub async fn put_manifest(&self, manifest: &Manifest, replace: bool) -> Result<()> {
        let bytes = manifest.seal(self.signer.as_ref())?;
        self.put_raw(&self.manifest_path(&manifest.key), bytes.into(), replace)
            .await
    }

    /// Reads the manifest for `key`; a torn or foreign one is `Invalid`.
    pub async fn get_manifest(&self, key: &str) -> Result<ManifestState> {
        let path = self.manifest_path(key);
        if let Some(dir) = &self.local_dir {
            return match std::fs::read(dir.join(path.as_ref())) {
                Ok(bytes) => Ok(Manifest::unseal(key, &bytes, self.signer.as_ref())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ManifestState::Missing),
                Err(e) => Err(self.backend_err(
                    &path,
                    object_store::Error::Generic {
                        store: "LocalFileSystem",
                        source: Box::new(e),
                    },
                )),
            };
        }
        match self.backend.get(&path).await {
            Ok(r) => {
                let bytes = r.bytes().await.map_err(|e| self.backend_err(&path, e))?;
                Ok(Manifest::unseal(key, &bytes, self.signer.as_ref()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(ManifestState::Missing),
            Err(e) => Err(self.backend_err(&path, e)),
        }
    }

    /// Every object under `dir`.
    pub(crate) async fn list_under(&self, dir: &Path) -> Result<Vec<ObjectMeta>> {
        self.backend
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(|e| self.backend_err(dir, e))
    }

    /// Keys of every manifest present (valid or not).
    pub async fn list_manifest_keys(&self) -> Result<Vec<String>> {
        let dir = self.path("manifests");
        let metas = self.list_under(&dir).await?;
        let mut keys: Vec<String> = metas
            .iter()
            .filter_map(|m| {
                m.location
                    .filename()?
                    .strip_suffix(".json")
                    .map(String::from)
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Every blob present, as (hash, size).
    pub async fn list_blobs(&self) -> Result<Vec<(String, u64)>> {
        Ok(self
            .list_blob_details()
            .await?
            .into_iter()
            .map(|b| (b.hash, b.size))
            .collect())
    }

    /// Every blob present, with size and modification time.
    pub async fn list_blob_details(&self) -> Result<Vec<BlobInfo>> {
        let dir = self.path("blobs");
        let metas = self.list_under(&dir).await?;
        let mut blobs: Vec<BlobInfo> = metas
            .iter()
            .filter_map(|m| {
                let name = m.location.filename()?;
                is_hash(name).then(|| BlobInfo {
                    hash: name.to_string(),
                    size: m.size,
                    modified_unix: m.last_modified.timestamp(),
                    fingerprint: m.e_tag.clone().unwrap_or_else(|| {
                        format!(
                            "modified {}",
                            m.last_modified.timestamp_nanos_opt().unwrap_or_default()
                        )
                    }),
                })
            })
            .collect();
        blobs.sort_by(|a, b| a.hash.cmp(&b.hash));
        Ok(blobs)
    }

    fn checkpoint_path(&self, key: &str, name: &str) -> Path {
        self.path(&format!("checkpoints/{key}/{name}"))
    }

    /// Saves (replaces) a checkpoint of the node with `key`. Checkpoints
    /// are mutable, never content-addressed: only a resuming attempt at the
    /// same key reads them, and it must tolerate a stale one.
    pub async fn put_checkpoint(&self, key: &str, name: &str, bytes: Bytes) -> Result<()> {
        self.put_raw(&self.checkpoint_path(key, name), bytes, true)
            .await
    }

    pub async fn get_checkpoint(&self, key: &str, name: &str) -> Result<Option<Bytes>> {
        let path = self.checkpoint_path(key, name);
        match self.backend.get(&path).await {
            Ok(r) => Ok(Some(
                r.bytes().await.map_err(|e| self.backend_err(&path, e))?,
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.backend_err(&path, e)),
        }
    }

    pub async fn delete_checkpoint(&self, key: &str, name: &str) -> Result<()> {
        self.delete(&self.checkpoint_path(key, name)).await
    }

    /// The keys that hold a checkpoint called `name`, in one listing.
    pub async fn keys_with_checkpoint(&self, name: &str) -> Result<Vec<String>> {
        let dir = self.path("checkpoints");
        let metas = self.list_under(&dir).await?;
        let mut keys: Vec<String> = metas
            .iter()
            .filter(|m| m.location.filename() == Some(name))
            .filter_map(|m| {
                let parts: Vec<_> = m.location.parts().collect();
                parts
                    .len()
                    .checked_sub(2)
                    .map(|i| parts[i].as_ref().to_string())
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Drops every checkpoint of `key` (after its node is committed).
    pub async fn delete_checkpoints(&self, key: &str) -> Result<()> {
        let dir = self.path(&format!("checkpoints/{key}"));
        let metas = self.list_under(&dir).await?;
        for meta in metas {
            self.delete(&meta.location).await?;
        }
        Ok(())
    }

    pub async fn delete_blob(&self, hash: &str) -> Result<()> {
        self.delete(&self.blob_path(hash)).await
    }

    pub async fn delete_manifest(&self, key: &str) -> Result<()> {
        self.delete(&self.manifest_path(key)).await
    }

    pub(crate) async fn delete(&self, path: &Path) -> Result<()> {
        match self.backend.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend_err(path, e)),
        }
    }
}

/// Create-only puts of bodies this large look first (see `put_raw`).
const HEAD_FIRST_BYTES: usize = 1 << 20;
/// Retries of a put that failed in transport, and the first wait.
const PUT_RETRIES: u32 = 4;
const PUT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(200);

/// Errors another attempt may cure: the transport, not the request.
fn is_transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    !matches!(
        e,
        E::NotFound { .. }
            | E::InvalidPath { .. }
            | E::NotSupported { .. }
            | E::NotImplemented { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::UnknownConfigurationKey { .. }
    )
}

fn is_hash(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn memory() -> Store {
        Store::open("memory://", std::path::Path::new(".")).unwrap()
    }

    fn manifest(key: &str, files: BTreeMap<String, FileRef>) -> Manifest {
        Manifest {
            key: key.into(),
            node: "n".into(),
            stage: "s".into(),
            stage_version: 1,
            params: serde_json::json!({}),
            inputs: BTreeMap::new(),
            input_digests: BTreeMap::new(),
            sources: BTreeMap::new(),
            files,
            metadata: serde_json::Value::Null,
            tool_version: "0".into(),
        }
    }

    #[tokio::test]
    async fn blobs_are_content_addressed_and_idempotent() {
        let s = memory();
        let a = s
            .put_blob(Bytes::from_static(b"hello"), "bytes", false)
            .await
            .unwrap();
        let b = s
            .put_blob(Bytes::from_static(b"hello"), "bytes", false)
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.blake3, hash_bytes(b"hello"));
        assert_eq!(
            s.get_blob(&a.blake3).await.unwrap(),
            Bytes::from_static(b"hello")
        );
        assert_eq!(s.list_blobs().await.unwrap(), vec![(a.blake3.clone(), 5)]);
        let missing = hash_bytes(b"absent");
        assert_eq!(s.check_blob(&missing).await.unwrap(), BlobState::Missing);
    }

    #[tokio::test]
    async fn corrupt_blob_is_detected_and_replaceable() {
        let s = memory();
        let good = hash_bytes(b"good");
        // Plant wrong bytes at the good blob's address.
        s.put_raw(&s.blob_path(&good), Bytes::from_static(b"evil"), false)
            .await
            .unwrap();
        assert!(matches!(
            s.check_blob(&good).await.unwrap(),
            BlobState::Corrupt { .. }
        ));
        // A create-only put keeps the bad copy; replace mends it.
        s.put_blob(Bytes::from_static(b"good"), "bytes", false)
            .await
            .unwrap();
        assert!(s.get_blob(&good).await.is_err());
        s.put_blob(Bytes::from_static(b"good"), "bytes", true)
            .await
            .unwrap();
        assert_eq!(s.check_blob(&good).await.unwrap(), BlobState::Ok);
    }

    #[tokio::test]
    async fn checkpoints_are_replaced_and_dropped() {
        let s = memory();
        assert_eq!(s.get_checkpoint("k", "state").await.unwrap(), None);
        s.put_checkpoint("k", "state", Bytes::from_static(b"1"))
            .await
            .unwrap();
        s.put_checkpoint("k", "state", Bytes::from_static(b"2"))
            .await
            .unwrap();
        s.put_checkpoint("other", "state", Bytes::from_static(b"3"))
            .await
            .unwrap();
        assert_eq!(
            s.get_checkpoint("k", "state").await.unwrap(),
            Some(Bytes::from_static(b"2"))
        );
        s.delete_checkpoints("k").await.unwrap();
        assert_eq!(s.get_checkpoint("k", "state").await.unwrap(), None);
        assert!(s.get_checkpoint("other", "state").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn manifests_are_create_only() {
        let s = memory();
        let first = manifest("k", BTreeMap::new());
        s.put_manifest(&first, false).await.unwrap();
        let mut second = first.clone();
        second.node = "other".into();
        s.put_manifest(&second, false).await.unwrap();
        match s.get_manifest("k").await.unwrap() {
            ManifestState::Found(m) => assert_eq!(m.node, "n"),
            other => panic!("{other:?}"),
        }
        s.put_manifest(&second, true).await.unwrap();
        match s.get_manifest("k").await.unwrap() {
            ManifestState::Found(m) => assert_eq!(m.node, "other"),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.list_manifest_keys().await.unwrap(), vec!["k".to_string()]);
        assert!(matches!(
            s.get_manifest("nope").await.unwrap(),
            ManifestState::Missing
        ));
    }
}
