//! `pipeline status`: per node, cached or to run, and why. It reads
//! manifests and lists blobs (sizes) but hashes nothing: `verify` and `run`
//! re-hash.

use std::collections::HashMap;

use futures::{stream, StreamExt};
use serde::Serialize;
use storage::{ArtifactStore, ManifestState};

use crate::error::Result;
use crate::plan::Plan;
use crate::refs::{explain, NodeRecord, Refs};

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub stage: String,
    pub key: String,
    /// `cached`, `cached_remote` or `run`.
    pub state: String,
    pub reasons: Vec<String>,
}

/// The state of every node, in plan order.
pub async fn status(plan: &Plan, store: &ArtifactStore, refs: &Refs) -> Result<Vec<NodeStatus>> {
    let blobs: HashMap<String, u64> = store.primary().list_blobs().await?.into_iter().collect();
    let checks = stream::iter(plan.order.iter().copied())
        .map(|i| {
            let blobs = &blobs;
            async move {
                let node = &plan.nodes[i];
                let (state, reasons) = match store.primary().get_manifest(&node.key).await? {
                    ManifestState::Found(m) => {
                        let broken: Vec<String> = m
                            .files
                            .iter()
                            .filter_map(|(name, f)| match blobs.get(&f.blake3) {
                                Some(&size) if size == f.size => None,
                                Some(_) => Some(format!(
                                    "artifact corrupt: output `{name}` has the wrong size"
                                )),
                                None => Some(format!(
                                    "artifact missing: output `{name}` is not in the store"
                                )),
                            })
                            .collect();
                        match crate::execute::retry_pending(&m) {
                            Some(why) if broken.is_empty() => ("run", vec![why]),
                            _ if broken.is_empty() => ("cached", broken),
                            _ => ("run", broken),
                        }
                    }
                    ManifestState::Invalid(why) => {
                        ("run", vec![format!("artifact corrupt: {why}")])
                    }
                    ManifestState::Missing => {
                        let remote_hit = match store.remote() {
                            Some(remote) => matches!(
                                remote.get_manifest(&node.key).await,
                                Ok(ManifestState::Found(_))
                            ),
                            None => false,
                        };
                        if remote_hit {
                            ("cached_remote", Vec::new())
                        } else {
                            let now = NodeRecord::of(plan, node);
                            ("run", explain(&now, refs.read(&node.name).as_ref()))
                        }
                    }
                };
                Ok(NodeStatus {
                    node: node.name.clone(),
                    stage: node.stage.name().to_string(),
                    key: node.key.clone(),
                    state: state.to_string(),
                    reasons,
                })
            }
        })
        .buffered(8)
        .collect::<Vec<Result<NodeStatus>>>()
        .await;
    checks.into_iter().collect()
}
