//! `pipeline status`: per node, cached, to run (and why), or waiting on an
//! upstream that must run first. It reads manifests and lists blobs
//! (sizes) but hashes nothing: `verify` and `run` re-hash. A node whose
//! job is in the cluster shows as `queued` or `running`, with the job.

use std::collections::BTreeMap;

use serde::Serialize;
use storage::ArtifactStore;

use crate::cluster::record::LiveJob;
use crate::error::Result;
use crate::freshness::{resolve, BlobCheck, Freshness, Resolved, MISSING};
use crate::plan::Plan;
use crate::refs::{explain, NodeRecord, Refs};

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub stage: String,
    /// Unknown while an upstream must run first.
    pub key: Option<String>,
    /// `cached`, `cached_remote`, `run`, `queued`, `running` or `waiting`.
    pub state: String,
    pub reasons: Vec<String>,
    /// The cluster job computing it, while queued or running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<LiveJob>,
    /// What each of its glob inputs matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub globs: Vec<GlobMatch>,
}

/// A glob input and the names of the nodes it matched.
#[derive(Debug, Clone, Serialize)]
pub struct GlobMatch {
    pub slot: String,
    pub pattern: String,
    pub matched: Vec<String>,
}

/// The state of every node, in plan order; `live` are the jobs in the
/// cluster, by key.
pub async fn status(
    plan: &Plan,
    store: &ArtifactStore,
    refs: &Refs,
    live: &BTreeMap<String, LiveJob>,
) -> Result<Vec<NodeStatus>> {
    let blobs = BlobCheck::listed(store).await?;
    let resolved = resolve(plan, store, &blobs).await?;
    Ok(plan
        .order
        .iter()
        .map(|&i| {
            let node = &plan.nodes[i];
            let mut job = None;
            let (key, state, reasons) = match &resolved[i] {
                Resolved::Waiting { upstream } => (
                    None,
                    "waiting",
                    vec![format!(
                        "waits on `{}`, which must run first (cut off if it produces the \
                         same outputs)",
                        plan.nodes[*upstream].name
                    )],
                ),
                Resolved::Known {
                    key,
                    inputs,
                    freshness,
                } => {
                    let (state, reasons) = match freshness {
                        Freshness::Fresh(_) => ("cached", Vec::new()),
                        Freshness::Remote(_) => ("cached_remote", Vec::new()),
                        Freshness::Stale(_) if live.contains_key(key) => {
                            job = live.get(key).cloned();
                            let j = job.as_ref().expect("just found");
                            let state = if j.state == "unknown" {
                                "run"
                            } else {
                                &j.state
                            };
                            (state, vec![describe(j)])
                        }
                        Freshness::Stale(why) if why == MISSING => {
                            let now = NodeRecord::of(plan, node, key, inputs);
                            ("run", explain(&now, refs.read(&node.name).as_ref()))
                        }
                        Freshness::Stale(why) => ("run", vec![why.clone()]),
                    };
                    (Some(key.clone()), state, reasons)
                }
            };
            NodeStatus {
                node: node.name.clone(),
                stage: node.stage.name().to_string(),
                key,
                state: state.to_string(),
                reasons,
                job,
                globs: node
                    .globs
                    .iter()
                    .map(|g| GlobMatch {
                        slot: g.slot.clone(),
                        pattern: g.pattern.clone(),
                        matched: g
                            .matched
                            .iter()
                            .map(|&u| plan.nodes[u].name.clone())
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect())
}

/// A job as `status --explain` prints it.
fn describe(job: &LiveJob) -> String {
    let r = &job.record;
    let what = match job.state.as_str() {
        "running" => format!("running as {} job {} on {}", r.engine, r.id, job.detail),
        "queued" => format!("queued as {} job {}", r.engine, r.id),
        _ => format!(
            "submitted as {} job {}; its state is unknown: {}",
            r.engine, r.id, job.detail
        ),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let ago = now.saturating_sub(r.submitted_unix);
    format!("{what}, submitted from {} {ago} s ago", r.submitter)
}
