//! Computing one node from its spec: run the stage, commit its outputs
//! (blobs first, manifest last). The same code runs in `pipeline run` (the
//! local executor) and in `pipeline exec-node` (a cluster job), which is
//! why everything it needs is in the [`NodeSpec`] or the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;
use stages::{Outputs, Params, Stage, StageContext, Upstream};
use storage::{ArtifactStore, FileRef, Manifest};

use super::sink::{encode, ItemKeys, StoreSink, StoredFiles};
use crate::error::{PipelineError, Result};
use crate::freshness::{retry_pending, BlobCheck};
use crate::spec::NodeSpec;

/// Where a node reads its upstream outputs and how it judges reused blobs.
pub struct Computer {
    pub store: ArtifactStore,
    pub blobs: Arc<BlobCheck>,
    pub bars: MultiProgress,
}

impl Computer {
    /// Runs the node's stage and commits its outputs to `target` (the
    /// store, or `--check`'s scratch store). `upstream` holds, per slot,
    /// the manifests of `spec.inputs`; `files` the bytes of `spec.sources`.
    pub async fn compute(
        &self,
        spec: &NodeSpec,
        stage: Arc<dyn Stage>,
        files: BTreeMap<String, Vec<u8>>,
        upstream: &BTreeMap<String, Vec<Arc<Manifest>>>,
        target: &ArtifactStore,
    ) -> Result<Manifest, String> {
        let mut inputs: BTreeMap<String, Vec<Upstream>> = BTreeMap::new();
        for (slot, refs) in &spec.inputs {
            let manifests = upstream.get(slot).map(Vec::as_slice).unwrap_or_default();
            if manifests.len() != refs.len() {
                return Err(format!("input `{slot}`: an upstream node produced nothing"));
            }
            let list = refs
                .iter()
                .zip(manifests)
                .map(|(r, manifest)| Upstream {
                    node: r.node.clone(),
                    files: Arc::new(StoredFiles {
                        store: self.store.clone(),
                        manifest: manifest.clone(),
                        runtime: tokio::runtime::Handle::current(),
                    }),
                })
                .collect();
            inputs.insert(slot.clone(), list);
        }
        let params = Params(spec.params.clone());
        let bar = self.bars.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {wide_msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix("  node");
        bar.set_message(spec.node.clone());
        let progress = BarProgress {
            bar: bar.clone(),
            node: spec.node.clone(),
        };
        let items = ItemKeys {
            material: spec.material.clone(),
            upstream: upstream.clone(),
        };
        let sink = Arc::new(
            StoreSink::resume(
                target.clone(),
                spec.key.clone(),
                spec.replace,
                items,
                self.blobs.clone(),
            )
            .await
            .map_err(|e| e.to_string())?,
        );
        let stage_sink = sink.clone();
        let name = spec.node.clone();
        let base_dir = spec.base_dir.clone();
        let local_roots = spec.local_roots.clone();
        let running = stage.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let ctx = StageContext {
                node: &name,
                params: &params,
                inputs: &inputs,
                files: &files,
                progress: &progress,
                sink: stage_sink.as_ref(),
                base_dir: &base_dir,
                local_roots: &local_roots,
            };
            running.run(&ctx)
        })
        .await;
        bar.finish_and_clear();
        let outputs = match joined {
            Ok(Ok(outputs)) => outputs,
            Ok(Err(e)) => return Err(format!("stage `{}`: {e}", stage.name())),
            Err(e) => return Err(format!("stage `{}` panicked: {e}", stage.name())),
        };
        let manifest = commit(spec, sink.emitted(), outputs, target)
            .await
            .map_err(|e| e.to_string())?;
        // A node that asks for another try keeps its journal for it.
        if retry_pending(&manifest).is_none() {
            if let Err(e) = target.primary().delete_checkpoints(&spec.key).await {
                tracing::warn!("node {}: could not drop its checkpoints: {e}", spec.node);
            }
        }
        Ok(manifest)
    }
}

/// Puts the outputs' blobs, then the manifest.
async fn commit(
    spec: &NodeSpec,
    mut files: BTreeMap<String, FileRef>,
    outputs: Outputs,
    target: &ArtifactStore,
) -> Result<Manifest> {
    let mut in_memory = HashMap::new();
    for (name, output) in outputs.files {
        let (bytes, format) = encode(&name, output)?;
        files.insert(
            name.clone(),
            target.put_blob(bytes.clone(), format, spec.replace).await?,
        );
        in_memory.insert(name, bytes);
    }
    recheck(target, &spec.node, &files, &in_memory).await?;
    let manifest = Manifest {
        key: spec.key.clone(),
        node: spec.node.clone(),
        stage: spec.stage.clone(),
        stage_version: spec.stage_version,
        params: Value::Object(spec.params.clone()),
        inputs: spec
            .inputs
            .iter()
            .map(|(slot, refs)| (slot.clone(), refs.iter().map(|r| r.key.clone()).collect()))
            .collect(),
        input_digests: spec.input_digests.clone(),
        sources: spec.sources.clone(),
        files,
        metadata: Value::Object(outputs.metadata),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    target.commit(&manifest, spec.replace).await?;
    Ok(manifest)
}

/// Checks, right before the manifest is written, that every blob it
/// names is in the primary store (a blob that existed when it was put
/// may have been deleted since by a gc that ignored our lease). One
/// still in memory is put again; an emitted one that vanished fails the
/// node, and its re-run recomputes only the items that are gone.
async fn recheck(
    store: &ArtifactStore,
    node: &str,
    files: &BTreeMap<String, FileRef>,
    in_memory: &HashMap<String, bytes::Bytes>,
) -> Result<()> {
    let primary = store.primary();
    let entries: Vec<(&String, &FileRef)> = files.iter().collect();
    for chunk in entries.chunks(16) {
        let present =
            futures::future::try_join_all(chunk.iter().map(|(_, f)| primary.has_blob(&f.blake3)))
                .await?;
        for (&(name, file), present) in chunk.iter().zip(present) {
            if present {
                continue;
            }
            let Some(bytes) = in_memory.get(name) else {
                return Err(PipelineError::Failed(format!(
                    "node `{}`: output `{name}` (blob {}) vanished from store {} before \
                         its manifest was written; nothing was committed, and a re-run \
                         recomputes what is gone",
                    node,
                    file.blake3,
                    primary.label()
                )));
            };
            store.put_blob(bytes.clone(), &file.format, true).await?;
        }
    }
    Ok(())
}

/// A node's bar; messages are shown after the node's name.
struct BarProgress {
    bar: ProgressBar,
    node: String,
}

impl stages::Progress for BarProgress {
    fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn advance(&self, items: u64) {
        self.bar.inc(items);
    }
    fn message(&self, text: &str) {
        self.bar.set_message(format!("{}: {text}", self.node));
    }
}
