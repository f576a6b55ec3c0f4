//! Store inspection: verify, show, export, dag.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use storage::{table, BlobState, ManifestState, Store};

use crate::error::{PipelineError, Result};
use crate::freshness::{resolve, BlobCheck, Freshness, Resolved, MISSING};
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
    let blobs = BlobCheck::listed(store).await?;
    let resolved = resolve(plan, store, &blobs).await?;
    match &resolved[i] {
        Resolved::Waiting { upstream } => Err(PipelineError::Failed(format!(
            "node `{name}` has no artifact yet: its upstream `{}` must run first",
            plan.nodes[*upstream].name
        ))),
        Resolved::Known {
            freshness: Freshness::Fresh(m),
            ..
        } => Ok(m.as_ref().clone()),
        Resolved::Known { key, freshness, .. } => match (freshness, store.find(key).await?) {
            (Freshness::Remote(_), ManifestState::Found(m)) => Ok(m),
            (Freshness::Stale(why), _) if why == MISSING => Err(PipelineError::Failed(format!(
                "node `{name}` has no artifact for its key {key} yet: run it first"
            ))),
            (Freshness::Stale(why), _) => Err(PipelineError::Failed(format!(
                "node `{name}` (key {key}) has no usable artifact: {why}"
            ))),
            _ => Err(PipelineError::Failed(format!(
                "node `{name}`: the remote cache's artifact for key {key} could not be pulled"
            ))),
        },
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
        let artifact = |source| PipelineError::artifact(name, file, source);
        let bytes = store.get_blob(entry).await.map_err(artifact)?;
        let batch = table::from_parquet(file, bytes).map_err(artifact)?;
        let shown = batch.slice(0, rows.min(batch.num_rows()));
        let pretty = arrow::util::pretty::pretty_format_batches(&[shown])
            .map_err(|e| PipelineError::Failed(format!("cannot format `{file}`: {e}")))?;
        let _ = writeln!(out, "\n{file}: {} rows\n{pretty}", batch.num_rows());
    }
    Ok(out)
}

/// Writes every output file of node `name` into `dir` under its output
/// name (e.g. the report's `report.html` and `figures/*.svg`), verified
/// against its blake3; returns the paths written. All or nothing: every
/// name is checked first, and the files are staged in `dir` and moved into
/// place only once every blob has been read and verified.
pub async fn export(
    plan: &Plan,
    store: &storage::ArtifactStore,
    name: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let manifest = committed(plan, store, name).await?;
    let files = export_plan(name, &manifest, dir)?;
    let created = missing_ancestors(dir);
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let staging = dir.join(format!(".pipeline-export-{}.tmp", std::process::id()));
    let staged = stage(store, name, &files, &staging).await;
    let moved = staged.and_then(|()| {
        files
            .iter()
            .map(|(rel, _)| {
                let path = dir.join(rel);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
                }
                std::fs::rename(staging.join(rel), &path).map_err(|e| write_err(&path, e))?;
                Ok(path)
            })
            .collect::<Result<Vec<_>>>()
    });
    let _ = std::fs::remove_dir_all(&staging);
    if moved.is_err() {
        // Only directories this call made, and only if still empty.
        for d in created {
            let _ = std::fs::remove_dir(d);
        }
    }
    moved
}

/// Each output's relative path and blob, after checking that every name is
/// a plain relative path and that no output or existing entry of `dir`
/// stands where another needs a directory or a file.
fn export_plan<'m>(
    node: &str,
    manifest: &'m storage::Manifest,
    dir: &Path,
) -> Result<Vec<(PathBuf, &'m storage::FileRef)>> {
    let refuse = |file: &str, why: &str| {
        PipelineError::Failed(format!(
            "node `{node}`: cannot export output `{file}`: {why}; nothing was written"
        ))
    };
    let names: HashSet<&Path> = manifest.files.keys().map(Path::new).collect();
    let mut files = Vec::with_capacity(manifest.files.len());
    for (file, entry) in &manifest.files {
        let rel = Path::new(file);
        if file.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(refuse(file, "its name is not a relative path"));
        }
        for parent in rel
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
        {
            if names.contains(parent) {
                return Err(refuse(file, "another output has its directory's name"));
            }
            if dir.join(parent).is_file() {
                return Err(refuse(
                    file,
                    &format!("{} is a file", dir.join(parent).display()),
                ));
            }
        }
        if dir.join(rel).is_dir() {
            return Err(refuse(
                file,
                &format!("{} is a directory", dir.join(rel).display()),
            ));
        }
        files.push((rel.to_path_buf(), entry));
    }
    Ok(files)
}

/// Reads and verifies every blob into `staging`, under its output name.
async fn stage(
    store: &storage::ArtifactStore,
    node: &str,
    files: &[(PathBuf, &storage::FileRef)],
    staging: &Path,
) -> Result<()> {
    for (rel, entry) in files {
        let bytes = store
            .get_blob(entry)
            .await
            .map_err(|source| PipelineError::artifact(node, &rel.to_string_lossy(), source))?;
        let path = staging.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
        }
        std::fs::write(&path, &bytes).map_err(|e| write_err(&path, e))?;
    }
    Ok(())
}

/// `dir` and those of its ancestors that do not exist yet, deepest first.
fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .map(Path::to_path_buf)
        .collect()
}

fn write_err(path: &Path, e: std::io::Error) -> PipelineError {
    PipelineError::Failed(format!("cannot write {}: {e}", path.display()))
}

/// The plan as Graphviz dot.
pub fn dag(plan: &Plan) -> String {
    let mut dot = String::from("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
    for &i in &plan.order {
        let n = &plan.nodes[i];
        let _ = writeln!(
            dot,
            "  \"{}\" [label=\"{}\\n{}\"];",
            dot_escape(&n.name),
            dot_escape(&n.name),
            dot_escape(n.stage.name())
        );
    }
    for &i in &plan.order {
        for &u in plan.nodes[i].inputs.values().flatten() {
            let _ = writeln!(
                dot,
                "  \"{}\" -> \"{}\";",
                dot_escape(&plan.nodes[u].name),
                dot_escape(&plan.nodes[i].name)
            );
        }
    }
    dot.push_str("}\n");
    dot
}

/// Text for inside a dot double-quoted string: `"` would end it, and `\`
/// starts escapes in labels. (Node names cannot hold `\` or line breaks.)
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_strings_cannot_be_ended_early() {
        assert_eq!(dot_escape(r#"say "hi" \ bye"#), r#"say \"hi\" \\ bye"#);
        assert_eq!(dot_escape("plain_name"), "plain_name");
    }

    fn manifest(files: &[&str]) -> storage::Manifest {
        let entry = storage::FileRef {
            blake3: "0".repeat(64),
            size: 1,
            format: "bytes".into(),
        };
        storage::Manifest {
            key: "k".into(),
            node: "n".into(),
            stage: "s".into(),
            stage_version: 1,
            params: serde_json::Value::Null,
            inputs: Default::default(),
            input_digests: Default::default(),
            sources: Default::default(),
            files: files
                .iter()
                .map(|f| (f.to_string(), entry.clone()))
                .collect(),
            metadata: serde_json::Value::Null,
            tool_version: "test".into(),
        }
    }

    #[test]
    fn export_names_are_all_checked_first() {
        let dir = tempfile::tempdir().unwrap();
        let ok = manifest(&["a.txt", "figures/b.svg"]);
        assert_eq!(export_plan("n", &ok, dir.path()).unwrap().len(), 2);
        for (files, why) in [
            (
                &["a", "z/../../x"][..],
                "output `z/../../x`: its name is not a relative path",
            ),
            (
                &["a", "/etc/x"][..],
                "output `/etc/x`: its name is not a relative path",
            ),
            (
                &["a", "a/b"][..],
                "output `a/b`: another output has its directory's name",
            ),
        ] {
            let err = export_plan("n", &manifest(files), dir.path())
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
            assert!(err.ends_with("nothing was written"), "{err}");
        }
        std::fs::write(dir.path().join("figures"), "a file").unwrap();
        let err = export_plan("n", &ok, dir.path()).unwrap_err().to_string();
        assert!(err.contains("figures is a file"), "{err}");
    }
}
