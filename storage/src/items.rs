//! Item records: one item of a per-item stage (a fetched track, a track's
//! mel), kept under a key of its own so that any node of that stage with
//! the same parameters reuses it, whatever the node's key. A record lives
//! under `items/<2 hex>/<key>.json`, sealed like a manifest (and signed
//! with the team key when there is one), and names the item's blobs and a
//! small JSON record the stage keeps about it. Records are mutable hints:
//! a reader that finds a torn, unsigned or dangling one computes the item.

use std::collections::BTreeMap;

use object_store::path::Path;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::store::hash_bytes;
use crate::{FileRef, Result, Store};

/// One item's outputs and the stage's record of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub files: BTreeMap<String, FileRef>,
    pub record: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    blake3: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    item: serde_json::Value,
}

impl Store {
    fn item_path(&self, key: &str) -> Path {
        let shard = key.get(..2).unwrap_or("00");
        self.path(&format!("items/{shard}/{key}.json"))
    }

    /// Records (replaces) the item under `key`.
    pub async fn put_item(&self, key: &str, item: &ItemRecord) -> Result<()> {
        let value = serde_json::to_value(item).expect("item records serialise");
        let body = serde_json::to_vec(&value).expect("JSON values serialise");
        let sealed = Sealed {
            blake3: hash_bytes(&body),
            mac: self
                .signer
                .as_ref()
                .map(|k| k.mac(&body).to_hex().to_string()),
            item: value,
        };
        let bytes = serde_json::to_vec(&sealed).expect("sealed records serialise");
        self.put_raw(&self.item_path(key), bytes.into(), true).await
    }

    /// The item under `key`; `None` when there is none or it cannot be
    /// trusted (torn, or unsigned where a team key is set).
    pub async fn get_item(&self, key: &str) -> Result<Option<ItemRecord>> {
        let path = self.item_path(key);
        let bytes = match self.backend.get(&path).await {
            Ok(r) => r.bytes().await.map_err(|e| self.backend_err(&path, e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.backend_err(&path, e)),
        };
        let Ok(sealed) = serde_json::from_slice::<Sealed>(&bytes) else {
            return Ok(None);
        };
        let body = serde_json::to_vec(&sealed.item).expect("JSON values serialise");
        let intact = sealed.blake3 == hash_bytes(&body);
        let trusted = match &self.signer {
            None => true,
            Some(k) => sealed.mac == Some(k.mac(&body).to_hex().to_string()),
        };
        if !(intact && trusted) {
            return Ok(None);
        }
        Ok(serde_json::from_value(sealed.item).ok())
    }

    /// Every item record, as (key, the blobs it names; none for an
    /// unreadable record).
    pub async fn list_items(&self) -> Result<Vec<(String, Vec<String>)>> {
        let metas = self.list_under(&self.path("items")).await?;
        let mut items = Vec::new();
        for meta in metas {
            let Some(key) = meta
                .location
                .filename()
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let blobs = match self.get_item(key).await? {
                Some(item) => item.files.values().map(|f| f.blake3.clone()).collect(),
                None => Vec::new(),
            };
            items.push((key.to_string(), blobs));
        }
        items.sort();
        Ok(items)
    }

    pub async fn delete_item(&self, key: &str) -> Result<()> {
        self.delete(&self.item_path(key)).await
    }
}
