//! `pipeline status`: per node, cached, to run (and why), or waiting on an
//! upstream that must run first. It reads manifests and lists blobs
//! (sizes) but hashes nothing: `verify` and `run` re-hash.

use serde::Serialize;
use storage::ArtifactStore;

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
    /// `cached`, `cached_remote`, `run` or `waiting`.
    pub state: String,
    pub reasons: Vec<String>,
}

/// The state of every node, in plan order.
pub async fn status(plan: &Plan, store: &ArtifactStore, refs: &Refs) -> Result<Vec<NodeStatus>> {
    let blobs = BlobCheck::listed(store).await?;
    let resolved = resolve(plan, store, &blobs).await?;
    Ok(plan
        .order
        .iter()
        .map(|&i| {
            let node = &plan.nodes[i];
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
            }
        })
        .collect())
}
