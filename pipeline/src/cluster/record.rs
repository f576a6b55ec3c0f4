//! The record of a node's job, kept in the store beside its spec while the
//! job is in the cluster: how `pipeline status` on any login node shows
//! what runs, and how a submitter that was killed adopts its jobs on the
//! next run instead of submitting them twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use storage::Store;

use super::{ClusterEngine, JobState};

/// The checkpoint that holds the record.
pub const RECORD: &str = "_job.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The engine that ran it (`slurm`).
    pub engine: String,
    pub id: String,
    /// The job's name in the cluster, checked before adopting it: a job
    /// id alone could be another cluster's.
    pub name: String,
    pub node: String,
    pub submitted_unix: u64,
    /// The host of the submitter.
    pub submitter: String,
}

impl JobRecord {
    pub fn new(engine: &str, id: &str, name: &str, node: &str) -> JobRecord {
        JobRecord {
            engine: engine.to_string(),
            id: id.to_string(),
            name: name.to_string(),
            node: node.to_string(),
            submitted_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default(),
            submitter: hostname(),
        }
    }

    pub async fn write(&self, store: &Store, key: &str) -> storage::Result<()> {
        let bytes = serde_json::to_vec(self).expect("records serialise");
        store.put_checkpoint(key, RECORD, bytes.into()).await
    }

    /// The record under `key`; an unreadable one counts as none (the job
    /// is then submitted afresh, which is always correct).
    pub async fn read(store: &Store, key: &str) -> storage::Result<Option<JobRecord>> {
        Ok(store
            .get_checkpoint(key, RECORD)
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    pub async fn clear(store: &Store, key: &str) -> storage::Result<()> {
        store.delete_checkpoint(key, RECORD).await
    }
}

/// A recorded job and what its engine says of it now.
#[derive(Debug, Clone, Serialize)]
pub struct LiveJob {
    #[serde(flatten)]
    pub record: JobRecord,
    /// `queued` or `running`, or `unknown` when the engine cannot be asked.
    pub state: String,
    /// Where it runs; why the state is unknown.
    pub detail: String,
}

/// The jobs in the store's records that are still queued or running, by
/// key: one listing of the store, then one query per engine (none when
/// nothing is recorded).
pub async fn live_jobs(
    store: &Store,
    engine_named: impl Fn(&str) -> Option<Arc<dyn ClusterEngine>>,
) -> storage::Result<BTreeMap<String, LiveJob>> {
    let mut records = Vec::new();
    for key in store.keys_with_checkpoint(RECORD).await? {
        if let Some(record) = JobRecord::read(store, &key).await? {
            records.push((key, record));
        }
    }
    let mut by_engine: HashMap<String, Vec<(String, JobRecord)>> = HashMap::new();
    for (key, record) in records {
        by_engine
            .entry(record.engine.clone())
            .or_default()
            .push((key, record));
    }
    let mut live = BTreeMap::new();
    for (name, records) in by_engine {
        let polled = match engine_named(&name) {
            Some(engine) => {
                let ids: Vec<String> = records.iter().map(|(_, r)| r.id.clone()).collect();
                tokio::task::spawn_blocking(move || engine.poll(&ids))
                    .await
                    .expect("engine commands do not panic")
            }
            None => Err(format!("no engine `{name}` in this build")),
        };
        for (key, record) in records {
            let (state, detail) = match &polled {
                Err(e) => ("unknown".to_string(), e.clone()),
                Ok(states) => match states.get(&record.id) {
                    Some(s) if s.name == record.name => match &s.state {
                        JobState::Queued => ("queued".to_string(), String::new()),
                        JobState::Running { host } => ("running".to_string(), host.clone()),
                        JobState::Ended { .. } => continue,
                    },
                    _ => continue,
                },
            };
            live.insert(
                key,
                LiveJob {
                    record,
                    state,
                    detail,
                },
            );
        }
    }
    Ok(live)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}
