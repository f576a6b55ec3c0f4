//! Garbage collection: deletes what no node of the current pipeline needs,
//! and nothing while a run may rely on it (see [`storage::lease`]).

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;
use storage::lease::{Lease, LeaseKind, GC_RECHECK};
use storage::{ArtifactStore, ManifestState, Store};

use crate::error::Result;
use crate::freshness::{resolve, BlobCheck, Resolved};
use crate::plan::Plan;

/// What `gc` deleted (or would delete).
#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    pub manifests: Vec<String>,
    pub blobs: Vec<String>,
    /// Item records (per-item reuse) whose blobs are gone or go now.
    pub items: Vec<String>,
    pub bytes: u64,
    /// Why gc stopped before the end (a run holds a lease on the store).
    pub interrupted: Option<String>,
}

/// Deletes manifests whose key no node of `plan` has (a node whose key is
/// not known yet keeps all of its own), then blobs that no
/// remaining valid manifest references and that are older than
/// `grace_secs`, then item records that name a blob no longer kept. It holds a gc lease meanwhile, deletes nothing while a run
/// holds a lease on the store, and stops as soon as one does.
pub async fn gc(plan: &Plan, store: &Store, dry_run: bool, grace_secs: u64) -> Result<GcReport> {
    if dry_run {
        return sweep(plan, store, grace_secs, None).await;
    }
    let lease = store.take_lease(LeaseKind::Gc).await?;
    if let Err(e) = store.drop_stale_leases(&lease).await {
        tracing::warn!("cannot drop stale leases: {e}");
    }
    let swept = sweep(plan, store, grace_secs, Some(Watch::new(&lease))).await;
    // Released only after the last delete returned: a waiting run starts
    // on a store that no longer changes under it.
    let released = lease.release().await;
    let report = swept?;
    released?;
    Ok(report)
}

/// Looks for run leases before deleting, again at least every
/// [`GC_RECHECK`]; `None` from [`Watch::allow`] means go on.
struct Watch<'a> {
    lease: &'a Lease,
    checked: Option<Instant>,
}

impl<'a> Watch<'a> {
    fn new(lease: &'a Lease) -> Self {
        Watch {
            lease,
            checked: None,
        }
    }

    /// Why deleting must stop now, if it must.
    async fn allow(&mut self) -> Result<Option<String>> {
        if self.checked.is_some_and(|t| t.elapsed() < GC_RECHECK) {
            return Ok(None);
        }
        let started = Instant::now();
        let store = self.lease.store();
        let runs = store.live_leases(LeaseKind::Run, self.lease).await?;
        self.checked = Some(started);
        Ok(runs.first().map(|first| {
            format!(
                "a run is using store {} ({first}): gc deletes nothing while a run may rely \
                 on a blob; run gc again when it is done",
                store.label()
            )
        }))
    }
}

async fn sweep(
    plan: &Plan,
    store: &Store,
    grace_secs: u64,
    mut watch: Option<Watch<'_>>,
) -> Result<GcReport> {
    // A node whose key waits on an upstream that must run first keeps all
    // its manifests: any of them may be reused once that upstream ran.
    let local = ArtifactStore::new(store.clone(), None);
    let blobs = BlobCheck::listed(&local).await?;
    let mut live_keys = HashSet::new();
    let mut waiting = HashSet::new();
    for (node, resolved) in plan.nodes.iter().zip(resolve(plan, &local, &blobs).await?) {
        match resolved {
            Resolved::Known { key, .. } => {
                live_keys.insert(key);
            }
            Resolved::Waiting { .. } => {
                waiting.insert(node.name.as_str());
            }
        }
    }
    let mut report = GcReport::default();
    let mut referenced = HashSet::new();
    for key in store.list_manifest_keys().await? {
        let (keep, files) = match store.get_manifest(&key).await? {
            ManifestState::Found(m) => (
                live_keys.contains(&key) || waiting.contains(m.node.as_str()),
                m.files,
            ),
            ManifestState::Missing => continue,
            ManifestState::Invalid(_) => (live_keys.contains(&key), Default::default()),
        };
        if keep {
            referenced.extend(files.into_values().map(|f| f.blake3));
        }
        if !keep {
            if let Some(w) = watch.as_mut() {
                if let Some(why) = w.allow().await? {
                    report.interrupted = Some(why);
                    return Ok(report);
                }
                store.delete_manifest(&key).await?;
            }
            report.manifests.push(key);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut kept = HashSet::new();
    for blob in store.list_blob_details().await? {
        if referenced.contains(&blob.hash) || now - blob.modified_unix < grace_secs as i64 {
            kept.insert(blob.hash);
            continue;
        }
        if let Some(w) = watch.as_mut() {
            if let Some(why) = w.allow().await? {
                report.interrupted = Some(why);
                return Ok(report);
            }
            store.delete_blob(&blob.hash).await?;
        }
        report.bytes += blob.size;
        report.blobs.push(blob.hash);
    }
    for (key, blobs) in store.list_items().await? {
        if !blobs.is_empty() && blobs.iter().all(|b| kept.contains(b)) {
            continue;
        }
        if let Some(w) = watch.as_mut() {
            if let Some(why) = w.allow().await? {
                report.interrupted = Some(why);
                return Ok(report);
            }
            store.delete_item(&key).await?;
        }
        report.items.push(key);
    }
    Ok(report)
}
