//! Leases: how runs and `gc` sharing one store see each other, without a lock.
//!
//! A run holds a `run` lease and `gc` a `gc` lease, each an object under
//! `leases/` rewritten every [`HEARTBEAT`]; one not rewritten for
//! [`STALE_AFTER`] belongs to a process that died and is ignored. Each side
//! writes its own lease *before* it looks for the other's, so at least one of
//! two that start together sees the other:
//! - `gc` deletes nothing while a live run lease exists, and looks again at
//!   least every [`GC_RECHECK`] while deleting, stopping when one appears;
//! - a run waits, before it reads or writes anything, until no live gc lease
//!   is left, and a gc lease is released only after its last delete returned.
//!
//! So no blob is deleted while a run may be relying on it, whatever the
//! blobs' ages (a create-only put of an existing blob keeps its old mtime).
//! Ages are compared on the store's own clock: a lease's age is the
//! difference between its mtime and the mtime of the lease just written by
//! whoever looks, so machines with skewed clocks agree.

use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::{Result, Store};

/// How often a held lease is rewritten.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A lease not rewritten for this long belongs to a dead process.
pub const STALE_AFTER: Duration = Duration::from_secs(60);
/// The longest `gc` deletes on one look at the run leases.
pub const GC_RECHECK: Duration = Duration::from_secs(1);

/// Who holds a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseKind {
    Run,
    Gc,
}

impl LeaseKind {
    fn prefix(self) -> &'static str {
        match self {
            LeaseKind::Run => "run-",
            LeaseKind::Gc => "gc-",
        }
    }
}

/// What a lease object says about its holder (for messages).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub kind: LeaseKind,
    pub host: String,
    pub pid: u32,
}

/// A live lease of another process, as found.
#[derive(Debug, Clone)]
pub struct LiveLease {
    pub name: String,
    pub holder: Option<Holder>,
    /// Seconds since it was last rewritten, on the store's clock.
    pub age_secs: i64,
}

impl std::fmt::Display for LiveLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lease {}", self.name)?;
        if let Some(h) = &self.holder {
            write!(f, " (host {}, pid {})", h.host, h.pid)?;
        }
        write!(f, ", rewritten {} s ago", self.age_secs.max(0))
    }
}

/// A lease this process holds; rewritten in the background until released.
pub struct Lease {
    store: Store,
    path: Path,
    /// The store's clock when the lease was last written (unix seconds).
    written_unix: i64,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Store {
    fn lease_dir(&self) -> Path {
        self.path("leases")
    }

    /// Takes a lease of `kind` (see the module doc).
    pub async fn take_lease(&self, kind: LeaseKind) -> Result<Lease> {
        let name = format!("{}{}.json", kind.prefix(), unique_id());
        let path = self.path(&format!("leases/{name}"));
        let holder = Holder {
            kind,
            host: hostname(),
            pid: std::process::id(),
        };
        let body = Bytes::from(serde_json::to_vec(&holder).expect("holders serialise"));
        self.put_raw(&path, body.clone(), true).await?;
        let written_unix = self.modified_unix(&path).await?;
        let (backend, beat_path) = (self.backend.clone(), path.clone());
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                if let Err(e) = backend.put(&beat_path, body.clone().into()).await {
                    tracing::warn!("cannot renew lease {beat_path}: {e}");
                }
            }
        });
        Ok(Lease {
            store: self.clone(),
            path,
            written_unix,
            heartbeat,
        })
    }

    async fn modified_unix(&self, path: &Path) -> Result<i64> {
        let meta = self
            .backend
            .head(path)
            .await
            .map_err(|e| self.backend_err(path, e))?;
        Ok(meta.last_modified.timestamp())
    }

    /// Live leases of `kind` other than `mine`, judged against `mine`'s
    /// write time on the store's clock.
    pub async fn live_leases(&self, kind: LeaseKind, mine: &Lease) -> Result<Vec<LiveLease>> {
        // Re-read our own mtime: the heartbeat may have moved it on.
        let now = self
            .modified_unix(&mine.path)
            .await
            .unwrap_or(mine.written_unix);
        let dir = self.lease_dir();
        let metas = self.list_under(&dir).await?;
        let mut live = Vec::new();
        for meta in metas {
            let Some(name) = meta.location.filename().map(String::from) else {
                continue;
            };
            if meta.location == mine.path || !name.starts_with(kind.prefix()) {
                continue;
            }
            let age_secs = now - meta.last_modified.timestamp();
            if age_secs > STALE_AFTER.as_secs() as i64 {
                continue;
            }
            let holder = match self.backend.get(&meta.location).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok()),
                // Released meanwhile.
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(self.backend_err(&meta.location, e)),
            };
            live.push(LiveLease {
                name,
                holder,
                age_secs,
            });
        }
        Ok(live)
    }

    /// Deletes leases not rewritten for [`STALE_AFTER`] (their holders died).
    pub async fn drop_stale_leases(&self, mine: &Lease) -> Result<usize> {
        let now = self.modified_unix(&mine.path).await?;
        let dir = self.lease_dir();
        let metas = self.list_under(&dir).await?;
        let mut dropped = 0;
        for meta in metas {
            if now - meta.last_modified.timestamp() > STALE_AFTER.as_secs() as i64 {
                self.delete(&meta.location).await?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}

impl Lease {
    /// The store it is held on.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops the heartbeat and deletes the lease object.
    pub async fn release(mut self) -> Result<()> {
        self.heartbeat.abort();
        let _ = (&mut self.heartbeat).await;
        self.store.delete(&self.path).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Not released (an error path): stop renewing, so it goes stale.
        self.heartbeat.abort();
    }
}

/// Waits until no live gc lease is left on `lease`'s store, telling once
/// what it waits for. A gc that sees our run lease stops within
/// [`GC_RECHECK`]; a dead one goes stale within [`STALE_AFTER`].
pub async fn wait_for_gc(lease: &Lease) -> Result<()> {
    let mut told = false;
    loop {
        let live = lease.store.live_leases(LeaseKind::Gc, lease).await?;
        let Some(first) = live.first() else {
            return Ok(());
        };
        if !told {
            eprintln!(
                "waiting: gc is deleting in store {} ({first}); it stops when it sees this run",
                lease.store.label()
            );
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn unique_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{}-{}-{nanos}", hostname(), std::process::id());
    crate::hash_bytes(seed.as_bytes())[..16].to_string()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
