//! `pipeline exec-node`: what a cluster job runs. It reads the node's spec
//! from the store (the only thing the cluster shares), does nothing when
//! the manifest is there already, and otherwise computes the node exactly
//! as `pipeline run` would: blobs first, the manifest last, create-only.

use std::collections::BTreeMap;
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressDrawTarget};
use stages::Registry;
use storage::{ArtifactStore, ManifestState};

use crate::cluster::{source_checkpoint, SPEC};
use crate::error::{PipelineError, Result};
use crate::execute::Computer;
use crate::freshness::BlobCheck;
use crate::spec::NodeSpec;

pub async fn exec_node(store: ArtifactStore, key: &str, registry: &Registry) -> Result<()> {
    let primary = store.primary();
    let committed = || async {
        Ok::<bool, PipelineError>(matches!(
            primary.get_manifest(key).await?,
            ManifestState::Found(_)
        ))
    };
    let Some(bytes) = primary.get_checkpoint(key, SPEC).await? else {
        // A job that raced this one committed the node (and dropped its spec).
        if committed().await? {
            eprintln!("node {key} is committed already");
            return Ok(());
        }
        return Err(PipelineError::Failed(format!(
            "no node spec for key {key} in {}",
            primary.label()
        )));
    };
    let spec: NodeSpec = serde_json::from_slice(&bytes)
        .map_err(|e| PipelineError::Failed(format!("node spec {key}: {e}")))?;
    if spec.key != key {
        return Err(PipelineError::Failed(format!(
            "the spec stored for {key} is node `{}`'s, key {}",
            spec.node, spec.key
        )));
    }
    let failed = |e: String| PipelineError::node(&spec.node, e);
    if !spec.replace && committed().await? {
        eprintln!("node `{}` is committed already ({key})", spec.node);
        return Ok(());
    }
    let stage = registry
        .find(&spec.stage)
        .filter(|s| s.version() == spec.stage_version)
        .ok_or_else(|| {
            failed(format!(
                "this binary has no stage `{}` at version {}",
                spec.stage, spec.stage_version
            ))
        })?;
    let mut upstream = BTreeMap::new();
    for (slot, refs) in &spec.inputs {
        let mut manifests = Vec::new();
        for r in refs {
            match primary.get_manifest(&r.key).await? {
                ManifestState::Found(m) => manifests.push(Arc::new(m)),
                _ => {
                    return Err(failed(format!(
                        "input `{slot}`: node `{}` has no manifest {} in the store",
                        r.node, r.key
                    )))
                }
            }
        }
        upstream.insert(slot.clone(), manifests);
    }
    let mut files = BTreeMap::new();
    for (param, hash) in &spec.sources {
        let bytes = primary
            .get_checkpoint(key, &source_checkpoint(param))
            .await?
            .filter(|b| blake3::hash(b).to_hex().as_str() == hash)
            .ok_or_else(|| {
                failed(format!(
                    "file parameter `{param}`: missing or changed in the store"
                ))
            })?;
        files.insert(param.clone(), bytes.to_vec());
    }
    let computer = Computer {
        store: store.clone(),
        blobs: Arc::new(BlobCheck::Rehashed),
        bars: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
    };
    let started = std::time::Instant::now();
    computer
        .compute(&spec, stage, files, &upstream, &store)
        .await
        .map_err(failed)?;
    eprintln!(
        "committed node `{}` ({:.2} s)",
        spec.node,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
