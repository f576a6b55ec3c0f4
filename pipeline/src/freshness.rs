//! The one decision of whether a node is up to date, shared by `run`,
//! `status`, `show`, `export` and `gc`: a node's key is known once each
//! upstream has a usable artifact ([`crate::keys`]); then the artifact
//! committed for that key is fresh, or stale with a reason.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{stream, StreamExt};
use storage::{ArtifactStore, BlobState, Manifest, ManifestState};

use crate::error::Result;
use crate::keys::{input_digests, KeyMaterial};
use crate::plan::Plan;
use crate::verified::Verified;

/// The metadata key in which a stage asks for another try at the items
/// that failed for reasons that may pass (a fetch outage).
const RETRY_NEXT_RUN: &str = "retry_next_run";

/// How blobs are judged present and intact.
pub enum BlobCheck {
    /// Re-hashed unless verified before and listed unchanged since (what a
    /// run trusts).
    Recorded(Verified),
    /// Listed with the right size, nothing read (what `status` shows).
    Listed(HashMap<String, u64>),
    /// Read and re-hashed, every one (a cluster job, which keeps no record).
    Rehashed,
}

impl BlobCheck {
    /// The sizes of every blob of the primary store, listed once.
    pub async fn listed(store: &ArtifactStore) -> Result<Self> {
        Ok(BlobCheck::Listed(
            store.primary().list_blobs().await?.into_iter().collect(),
        ))
    }
}

/// Whether the artifact of one key can be used as it is.
#[derive(Clone)]
pub enum Freshness {
    /// Committed and intact in the primary store (or pulled into it).
    Fresh(Arc<Manifest>),
    /// Committed in the remote cache only, not pulled (`status`).
    Remote(Arc<Manifest>),
    /// Must be computed: why.
    Stale(String),
}

/// Judges the artifact committed for `key`. With `pull`, a remote hit is
/// copied into the primary store (a run); without, it is only reported.
pub async fn judge(
    store: &ArtifactStore,
    key: &str,
    blobs: &BlobCheck,
    pull: bool,
) -> Result<Freshness> {
    let state = if pull {
        store.find(key).await?
    } else {
        store.primary().get_manifest(key).await?
    };
    let manifest = match state {
        ManifestState::Found(m) => m,
        ManifestState::Invalid(why) => {
            return Ok(Freshness::Stale(format!("artifact corrupt: {why}")))
        }
        ManifestState::Missing if !pull => match store.remote() {
            Some(remote) => match remote.get_manifest(key).await {
                Ok(ManifestState::Found(m)) => return Ok(Freshness::Remote(Arc::new(m))),
                _ => return Ok(Freshness::Stale(MISSING.into())),
            },
            None => return Ok(Freshness::Stale(MISSING.into())),
        },
        ManifestState::Missing => return Ok(Freshness::Stale(MISSING.into())),
    };
    if let Some(why) = retry_pending(&manifest) {
        return Ok(Freshness::Stale(why));
    }
    for (name, file) in &manifest.files {
        let state = match blobs {
            BlobCheck::Recorded(verified) => verified.check(store.primary(), &file.blake3).await?,
            BlobCheck::Listed(sizes) => match sizes.get(&file.blake3) {
                Some(&size) if size == file.size => BlobState::Ok,
                Some(_) => BlobState::Corrupt {
                    actual: "a blob of another size".into(),
                },
                None => BlobState::Missing,
            },
            BlobCheck::Rehashed => store.primary().check_blob(&file.blake3).await?,
        };
        match state {
            BlobState::Ok => {}
            BlobState::Missing => {
                return Ok(Freshness::Stale(format!(
                    "artifact missing: output `{name}` is not in the store"
                )))
            }
            BlobState::Corrupt { .. } => {
                return Ok(Freshness::Stale(format!(
                    "artifact corrupt: output `{name}` does not match its checksum"
                )))
            }
        }
    }
    Ok(Freshness::Fresh(Arc::new(manifest)))
}

/// The reason of a key with no artifact (explained further from the
/// node's record by the caller).
pub const MISSING: &str = "missing";

/// Why a committed artifact is not a lasting cache hit because its stage
/// asked for another try; `None` when it did not.
pub fn retry_pending(manifest: &Manifest) -> Option<String> {
    let why = manifest.metadata.get(RETRY_NEXT_RUN)?.as_str()?;
    (!why.is_empty()).then(|| format!("retrying what failed last time: {why}"))
}

/// A node of the plan, resolved against the store.
#[derive(Clone)]
pub enum Resolved {
    /// Its key, the outputs digests it was made from, and its artifact.
    Known {
        key: String,
        inputs: std::collections::BTreeMap<String, Vec<String>>,
        freshness: Freshness,
    },
    /// Its key waits on this upstream node, which must run first (and may
    /// produce the same outputs, cutting this one off).
    Waiting { upstream: usize },
}

impl Resolved {
    /// The usable artifact, if any (fresh here or in the remote).
    pub fn manifest(&self) -> Option<&Arc<Manifest>> {
        match self {
            Resolved::Known {
                freshness: Freshness::Fresh(m) | Freshness::Remote(m),
                ..
            } => Some(m),
            _ => None,
        }
    }
}

/// Resolves every node in dependency order, level by level, reading manifests only (and blobs per `blobs`).
pub async fn resolve(
    plan: &Plan,
    store: &ArtifactStore,
    blobs: &BlobCheck,
) -> Result<Vec<Resolved>> {
    let mut level = vec![0usize; plan.nodes.len()];
    for &i in &plan.order {
        level[i] = plan.nodes[i]
            .inputs
            .values()
            .flatten()
            .map(|&u| level[u] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut by_level: Vec<Vec<usize>> = Vec::new();
    for &i in &plan.order {
        if by_level.len() <= level[i] {
            by_level.resize(level[i] + 1, Vec::new());
        }
        by_level[level[i]].push(i);
    }
    let mut resolved: Vec<Option<Resolved>> = vec![None; plan.nodes.len()];
    for nodes in by_level {
        let done = &resolved;
        let results: Vec<(usize, Result<Resolved>)> = stream::iter(nodes)
            .map(|i| async move { (i, resolve_one(plan, i, done, store, blobs).await) })
            .buffer_unordered(16)
            .collect()
            .await;
        for (i, r) in results {
            resolved[i] = Some(r?);
        }
    }
    Ok(resolved
        .into_iter()
        .map(|r| r.expect("every level resolved"))
        .collect())
}

async fn resolve_one(
    plan: &Plan,
    i: usize,
    done: &[Option<Resolved>],
    store: &ArtifactStore,
    blobs: &BlobCheck,
) -> Result<Resolved> {
    let node = &plan.nodes[i];
    let manifest_of = |u: usize| {
        done[u]
            .as_ref()
            .and_then(Resolved::manifest)
            .map(|m| m.as_ref())
    };
    let Some(inputs) = input_digests(node, manifest_of) else {
        let upstream = node
            .inputs
            .values()
            .flatten()
            .copied()
            .find(|&u| manifest_of(u).is_none())
            .expect("an upstream without an artifact");
        return Ok(Resolved::Waiting { upstream });
    };
    let key = KeyMaterial::of(node, inputs.clone()).key();
    let freshness = judge(store, &key, blobs, false).await?;
    Ok(Resolved::Known {
        key,
        inputs,
        freshness,
    })
}
