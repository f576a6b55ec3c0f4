//! Store maintenance and inspection: verify, gc, show, dag.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;
use storage::{table, BlobState, ManifestState, Store};

use crate::error::{PipelineError, Result};
use crate::plan::Plan;

/// What `verify` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub manifests: usize,
    pub blobs_checked: usize,
    pub problems: Vec<String>,
}

/// Re-hashes every blob reachable from a manifest, and checks every manifest.
pub async fn verify(store: &Store) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut checked: HashMap<String, BlobState> = HashMap::new();
    for key in store.list_manifest_keys().await? {
        report.manifests += 1;
        let manifest = match store.get_manifest(&key).await? {
            ManifestState::Found(m) => m,
            ManifestState::Invalid(why) => {
                report.problems.push(format!(
                    "manifest {key}: {why} (it is ignored, never trusted)"
                ));
                continue;
            }
            ManifestState::Missing => continue, // deleted meanwhile
        };
        for (name, file) in &manifest.files {
            let state = match checked.get(&file.blake3) {
                Some(s) => s.clone(),
                None => {
                    let s = store.check_blob(&file.blake3).await?;
                    report.blobs_checked += 1;
                    checked.insert(file.blake3.clone(), s.clone());
                    s
                }
            };
            let what = format!(
                "node `{}` ({}), output `{name}`, blob {}",
                manifest.node, key, file.blake3
            );
            match state {
                BlobState::Ok => {}
                BlobState::Missing => report.problems.push(format!("{what}: missing")),
                BlobState::Corrupt { actual } => report
                    .problems
                    .push(format!("{what}: corrupt (content hashes to {actual})")),
            }
        }
    }
    Ok(report)
}

/// What `gc` deleted (or would delete).
#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    pub manifests: Vec<String>,
    pub blobs: Vec<String>,
    pub bytes: u64,
}

/// Deletes manifests whose key no node of `plan` has, then blobs that no
/// remaining valid manifest references and that are older than
/// `grace_secs` (a concurrent run may be writing a blob whose manifest is
/// not yet published).
pub async fn gc(plan: &Plan, store: &Store, dry_run: bool, grace_secs: u64) -> Result<GcReport> {
    let live: HashSet<&str> = plan.nodes.iter().map(|n| n.key.as_str()).collect();
    let mut report = GcReport::default();
    let mut referenced = HashSet::new();
    for key in store.list_manifest_keys().await? {
        let keep = live.contains(key.as_str());
        match store.get_manifest(&key).await? {
            ManifestState::Found(m) if keep => {
                referenced.extend(m.files.into_values().map(|f| f.blake3))
            }
            ManifestState::Missing => continue,
            _ => {}
        }
        if !keep {
            if !dry_run {
                store.delete_manifest(&key).await?;
            }
            report.manifests.push(key);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    for blob in store.list_blob_details().await? {
        if referenced.contains(&blob.hash) || now - blob.modified_unix < grace_secs as i64 {
            continue;
        }
        if !dry_run {
            store.delete_blob(&blob.hash).await?;
        }
        report.bytes += blob.size;
        report.blobs.push(blob.hash);
    }
    Ok(report)
}

/// The committed manifest of node `name` (an error says why there is none).
async fn committed(
    plan: &Plan,
    store: &storage::ArtifactStore,
    name: &str,
) -> Result<storage::Manifest> {
    let &i = plan
        .by_name
        .get(name)
        .ok_or_else(|| PipelineError::Usage(format!("no node named `{name}` in the pipeline")))?;
    let node = &plan.nodes[i];
    match store.find(&node.key).await? {
        ManifestState::Found(m) => Ok(m),
        ManifestState::Missing => Err(PipelineError::Failed(format!(
            "node `{name}` has no artifact for its key {} yet: run it first",
            node.key
        ))),
        ManifestState::Invalid(why) => Err(PipelineError::Failed(format!(
            "node `{name}`: its manifest is invalid: {why}"
        ))),
    }
}

/// A node's manifest and a preview of its tables, as text.
pub async fn show(
    plan: &Plan,
    store: &storage::ArtifactStore,
    name: &str,
    rows: usize,
) -> Result<String> {
    let manifest = committed(plan, store, name).await?;
    let mut out = serde_json::to_string_pretty(&manifest).expect("manifests serialise");
    out.push('\n');
    for (file, entry) in &manifest.files {
        if entry.format != "parquet" {
            continue;
        }
        let batch = table::from_parquet(file, store.get_blob(entry).await?)?;
        let shown = batch.slice(0, rows.min(batch.num_rows()));
        let pretty = arrow::util::pretty::pretty_format_batches(&[shown])
            .map_err(|e| PipelineError::Failed(format!("cannot format `{file}`: {e}")))?;
        let _ = writeln!(out, "\n{file}: {} rows\n{pretty}", batch.num_rows());
    }
    Ok(out)
}

/// Writes every output file of node `name` into `dir` under its output
/// name (e.g. the report's `report.html` and `figures/*.svg`), verified
/// against its blake3; returns the paths written.
pub async fn export(
    plan: &Plan,
    store: &storage::ArtifactStore,
    name: &str,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>> {
    let manifest = committed(plan, store, name).await?;
    let mut written = Vec::new();
    for (file, entry) in &manifest.files {
        let rel = std::path::Path::new(file);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(PipelineError::Failed(format!(
                "node `{name}`: output name `{file}` is not a relative path"
            )));
        }
        let path = dir.join(rel);
        let bytes = store.get_blob(entry).await?;
        let io = |e: std::io::Error| {
            PipelineError::Failed(format!("cannot write {}: {e}", path.display()))
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, &bytes).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

/// The plan as Graphviz dot.
pub fn dag(plan: &Plan) -> String {
    let mut dot = String::from("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
    for &i in &plan.order {
        let n = &plan.nodes[i];
        let _ = writeln!(
            dot,
            "  \"{}\" [label=\"{}\\n{}\"];",
            n.name,
            n.name,
            n.stage.name()
        );
    }
    for &i in &plan.order {
        for &u in plan.nodes[i].inputs.values().flatten() {
            let _ = writeln!(
                dot,
                "  \"{}\" -> \"{}\";",
                plan.nodes[u].name, plan.nodes[i].name
            );
        }
    }
    dot.push_str("}\n");
    dot
}
