//! The engine's side of a stage's inputs and outputs: [`StoreSink`] takes
//! what a stage emits (and its items), [`StoredFiles`] serves an upstream
//! node's committed outputs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use stages::{ItemSource, UpstreamFiles};
use storage::{table, ArtifactStore, BlobState, FileRef, ItemRecord, Manifest};

use crate::error::Result;
use crate::freshness::BlobCheck;
use crate::keys::{ItemMaterial, KeyMaterial};

/// The checkpoint in which the engine records what a node emitted so far.
const EMITTED: &str = "_emitted.json";

/// How many emits may go unrecorded before the record is rewritten.
const EMITS_PER_RECORD: usize = 16;

/// What keys a node's items (per-item reuse across nodes).
pub(super) struct ItemKeys {
    /// The node's key material without its inputs.
    pub material: KeyMaterial,
    /// Slot -> the upstream manifests, whose files' digests key items.
    pub upstream: BTreeMap<String, Vec<Arc<Manifest>>>,
}

impl ItemKeys {
    fn key(&self, item: &[ItemSource]) -> Result<String, String> {
        let parts = item
            .iter()
            .map(|source| match source {
                ItemSource::Text(text) => Ok(format!("text:{text}")),
                ItemSource::File { slot, file } => self
                    .upstream
                    .get(*slot)
                    .and_then(|ms| ms.iter().find_map(|m| m.files.get(*file)))
                    .map(|f| format!("file:{}", f.blake3))
                    .ok_or_else(|| format!("input `{slot}` has no file `{file}`")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ItemMaterial {
            node: &self.material,
            item: parts,
        }
        .key())
    }
}

/// The engine's side of [`stages::Sink`]: emitted files go to the store at
/// once and are recorded in a checkpoint, so an interrupted node keeps them;
/// items are also recorded under their own keys, for any node to reuse.
pub(super) struct StoreSink {
    store: ArtifactStore,
    key: String,
    replace: bool,
    runtime: tokio::runtime::Handle,
    items: ItemKeys,
    /// How a reused item's blobs are judged intact.
    blobs: Arc<BlobCheck>,
    /// Items found with a damaged blob: their recomputed blobs replace it.
    damaged: Mutex<std::collections::HashSet<String>>,
    /// Files emitted so far, and how many since the last record.
    emitted: Mutex<(BTreeMap<String, FileRef>, usize)>,
}

impl StoreSink {
    /// Starts with whatever an earlier attempt at `key` emitted and that is
    /// still intact.
    pub async fn resume(
        store: ArtifactStore,
        key: String,
        replace: bool,
        items: ItemKeys,
        blobs: Arc<BlobCheck>,
    ) -> Result<Self> {
        let mut kept = BTreeMap::new();
        if let Some(bytes) = store.primary().get_checkpoint(&key, EMITTED).await? {
            let earlier: BTreeMap<String, FileRef> =
                serde_json::from_slice(&bytes).unwrap_or_default();
            for (name, file) in earlier {
                if store.primary().check_blob(&file.blake3).await? == BlobState::Ok {
                    kept.insert(name, file);
                }
            }
        }
        Ok(StoreSink {
            store,
            key,
            replace,
            runtime: tokio::runtime::Handle::current(),
            items,
            blobs,
            damaged: Mutex::default(),
            emitted: Mutex::new((kept, 0)),
        })
    }

    pub fn emitted(&self) -> BTreeMap<String, FileRef> {
        self.emitted.lock().expect("emitted lock").0.clone()
    }

    fn record(&self, files: &BTreeMap<String, FileRef>) -> Result<(), String> {
        let bytes = serde_json::to_vec(files).expect("file refs serialise");
        self.runtime
            .block_on(
                self.store
                    .primary()
                    .put_checkpoint(&self.key, EMITTED, bytes.into()),
            )
            .map_err(|e| e.to_string())
    }

    /// Puts one output's blob.
    fn put(&self, name: &str, output: stages::Output, replace: bool) -> Result<FileRef, String> {
        let (bytes, format) = encode(name, output).map_err(|e| e.to_string())?;
        self.runtime
            .block_on(self.store.put_blob(bytes, format, replace))
            .map_err(|e| e.to_string())
    }

    /// Counts a stored file as emitted, recording the list now and then.
    fn note(&self, name: &str, file: FileRef) -> Result<(), String> {
        let mut guard = self.emitted.lock().expect("emitted lock");
        guard.0.insert(name.to_string(), file);
        guard.1 += 1;
        if guard.1 >= EMITS_PER_RECORD {
            guard.1 = 0;
            let snapshot = guard.0.clone();
            drop(guard);
            self.record(&snapshot)?;
        }
        Ok(())
    }
}

impl stages::Sink for StoreSink {
    fn emit(&self, name: &str, output: stages::Output) -> Result<(), String> {
        let file = self.put(name, output, self.replace)?;
        self.note(name, file)
    }

    fn reuse_item(&self, item: &[ItemSource]) -> Result<Option<serde_json::Value>, String> {
        let key = self.items.key(item)?;
        let primary = self.store.primary();
        let found = self
            .runtime
            .block_on(primary.get_item(&key))
            .map_err(|e| e.to_string())?;
        let Some(found) = found else {
            return Ok(None);
        };
        // Reused blobs must be intact: trusted as verified before, or
        // re-hashed (a damaged one makes the item computed again).
        for file in found.files.values() {
            let intact = match self.blobs.as_ref() {
                BlobCheck::Recorded(verified) => {
                    self.runtime
                        .block_on(verified.check(primary, &file.blake3))
                        .map_err(|e| e.to_string())?
                        == BlobState::Ok
                }
                BlobCheck::Listed(_) | BlobCheck::Rehashed => {
                    self.runtime
                        .block_on(primary.check_blob(&file.blake3))
                        .map_err(|e| e.to_string())?
                        == BlobState::Ok
                }
            };
            if !intact {
                self.damaged.lock().expect("damaged lock").insert(key);
                return Ok(None);
            }
        }
        for (name, file) in found.files {
            self.note(&name, file)?;
        }
        Ok(Some(found.record))
    }

    fn emit_item(
        &self,
        item: &[ItemSource],
        files: Vec<(String, stages::Output)>,
        record: &serde_json::Value,
    ) -> Result<(), String> {
        let key = self.items.key(item)?;
        let replace = self.replace || self.damaged.lock().expect("damaged lock").remove(&key);
        let mut stored = BTreeMap::new();
        for (name, output) in files {
            let file = self.put(&name, output, replace)?;
            self.note(&name, file.clone())?;
            stored.insert(name, file);
        }
        let item = ItemRecord {
            files: stored,
            record: record.clone(),
        };
        // The item record only saves later nodes work: losing it loses
        // nothing of this node.
        if let Err(e) = self
            .runtime
            .block_on(self.store.primary().put_item(&key, &item))
        {
            tracing::warn!("cannot record item {key}: {e}");
        }
        Ok(())
    }

    fn has(&self, name: &str) -> bool {
        self.emitted
            .lock()
            .expect("emitted lock")
            .0
            .contains_key(name)
    }

    fn save_checkpoint(&self, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        // A stage's own checkpoint counts on the outputs emitted so far:
        // record those first.
        self.record(&self.emitted())?;
        self.runtime
            .block_on(
                self.store
                    .primary()
                    .put_checkpoint(&self.key, name, bytes.into()),
            )
            .map_err(|e| e.to_string())
    }

    fn load_checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        self.runtime
            .block_on(self.store.primary().get_checkpoint(&self.key, name))
            .map(|o| o.map(|b| b.to_vec()))
            .map_err(|e| e.to_string())
    }
}

/// An upstream node's committed outputs, read and verified on demand.
pub(super) struct StoredFiles {
    pub store: ArtifactStore,
    pub manifest: Arc<Manifest>,
    pub runtime: tokio::runtime::Handle,
}

impl StoredFiles {
    fn load(&self, file: &str) -> Result<bytes::Bytes, String> {
        let entry = self.manifest.files.get(file).ok_or_else(|| {
            let names: Vec<&String> = self.manifest.files.keys().collect();
            format!("has no output `{file}` (outputs: {names:?})")
        })?;
        self.runtime
            .block_on(self.store.get_blob(entry))
            .map_err(|e| e.to_string())
    }
}

impl UpstreamFiles for StoredFiles {
    fn has(&self, file: &str) -> bool {
        self.manifest.files.contains_key(file)
    }
    fn table(&self, file: &str) -> Result<arrow::array::RecordBatch, String> {
        table::from_parquet(file, self.load(file)?).map_err(|e| e.to_string())
    }
    fn bytes(&self, file: &str) -> Result<Vec<u8>, String> {
        self.load(file).map(|b| b.to_vec())
    }
}

/// An output file as stored bytes and its format.
pub(super) fn encode(name: &str, output: stages::Output) -> Result<(bytes::Bytes, &'static str)> {
    Ok(match output {
        stages::Output::Table(batch) => (table::to_parquet(name, &batch)?, "parquet"),
        stages::Output::Json(value) => (
            serde_json::to_vec_pretty(&value)
                .expect("JSON values serialise")
                .into(),
            "json",
        ),
        stages::Output::Bytes(bytes) => (bytes.into(), "bytes"),
    })
}
