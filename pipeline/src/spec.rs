//! A node as one computation of it needs it: what `pipeline run` hands an
//! executor, and what a cluster job reads back from the store.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::keys::KeyMaterial;

/// One upstream node as a spec names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamRef {
    pub node: String,
    /// The key of its manifest in the store.
    pub key: String,
}

/// Everything a node's computation needs besides the store: what a cluster
/// job reads (from the store) to run the node exactly as `pipeline run`
/// would.
#[derive(Debug, Serialize, Deserialize)]
pub struct NodeSpec {
    pub node: String,
    pub stage: String,
    pub stage_version: u32,
    /// Canonical parameters, as the manifest records them.
    pub params: Map<String, Value>,
    pub key: String,
    /// The key material without inputs: what the node's items are keyed by.
    pub material: KeyMaterial,
    /// Slot -> the upstream nodes, in config order.
    pub inputs: BTreeMap<String, Vec<UpstreamRef>>,
    /// Slot -> the outputs digests the key was made from.
    pub input_digests: BTreeMap<String, Vec<String>>,
    /// File parameter -> blake3 of its bytes (a blob in the store).
    pub sources: BTreeMap<String, String>,
    pub base_dir: PathBuf,
    pub local_roots: Vec<PathBuf>,
    /// Whether a stale manifest at `key` (and damaged blobs) are replaced.
    pub replace: bool,
}
