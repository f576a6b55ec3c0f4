//! `pipeline show`: a node's manifest, with the files inside folders
//! counted per folder (a node with a file per track would list thousands),
//! and a preview of its tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};
use storage::{table, FileRef, Manifest};

use crate::error::{PipelineError, Result};
use crate::ops::committed;
use crate::plan::Plan;

/// A manifest's files: those at the top level, and per folder a count.
pub struct Listing<'m> {
    pub files: BTreeMap<&'m str, &'m FileRef>,
    /// Folder -> (files, bytes).
    pub folders: BTreeMap<&'m str, (usize, u64)>,
}

impl<'m> Listing<'m> {
    /// Every file listed when `all`, else those inside a folder counted.
    pub fn of(files: &'m BTreeMap<String, FileRef>, all: bool) -> Listing<'m> {
        let mut listing = Listing {
            files: BTreeMap::new(),
            folders: BTreeMap::new(),
        };
        for (name, entry) in files {
            match name.split_once('/') {
                Some((folder, _)) if !all => {
                    let counted = listing.folders.entry(folder).or_default();
                    counted.0 += 1;
                    counted.1 += entry.size;
                }
                _ => {
                    listing.files.insert(name, entry);
                }
            }
        }
        listing
    }

    /// One line naming them: `fetched, failures, mel/ (134 files)`.
    pub fn names(&self) -> String {
        let files = self.files.keys().map(|f| f.to_string());
        let folders = self
            .folders
            .iter()
            .map(|(d, (n, _))| format!("{d}/ ({n} file{})", if *n == 1 { "" } else { "s" }));
        files.chain(folders).collect::<Vec<_>>().join(", ")
    }
}

/// The manifest as `show` prints it: `files` as listed, and `folders`
/// (files, bytes) for what is counted.
pub fn view(manifest: &Manifest, all_files: bool) -> Value {
    let listing = Listing::of(&manifest.files, all_files);
    let mut view = serde_json::to_value(manifest).expect("manifests serialise");
    view["files"] = json!(listing.files);
    if !listing.folders.is_empty() {
        view["folders"] = listing
            .folders
            .iter()
            .map(|(d, (n, bytes))| (d.to_string(), json!({"files": n, "bytes": bytes})))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    view
}

/// What `show` prints: the view as JSON, then (unless `json`) a preview of
/// the first `rows` rows of each listed table.
pub async fn show(
    plan: &Plan,
    store: &storage::ArtifactStore,
    name: &str,
    rows: usize,
    all_files: bool,
    json: bool,
) -> Result<String> {
    let manifest = committed(plan, store, name).await?;
    let mut out =
        serde_json::to_string_pretty(&view(&manifest, all_files)).expect("JSON values serialise");
    out.push('\n');
    if json {
        return Ok(out);
    }
    for (file, entry) in Listing::of(&manifest.files, all_files).files {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> BTreeMap<String, FileRef> {
        names
            .iter()
            .map(|n| {
                let entry = FileRef {
                    blake3: "0".repeat(64),
                    size: 10,
                    format: "bytes".into(),
                };
                (n.to_string(), entry)
            })
            .collect()
    }

    #[test]
    fn files_in_folders_are_counted_unless_all_are_asked_for() {
        let files = files(&["index", "mel/a", "mel/b", "mel/c", "mfcc", "x/y/z"]);
        let folded = Listing::of(&files, false);
        assert_eq!(
            folded.files.keys().copied().collect::<Vec<_>>(),
            ["index", "mfcc"]
        );
        assert_eq!(folded.folders["mel"], (3, 30));
        assert_eq!(folded.folders["x"], (1, 10));
        assert_eq!(folded.names(), "index, mfcc, mel/ (3 files), x/ (1 file)");
        let all = Listing::of(&files, true);
        assert_eq!(all.files.len(), 6);
        assert!(all.folders.is_empty());
    }
}
