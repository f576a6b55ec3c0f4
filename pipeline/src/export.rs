//! `pipeline export`: a node's output files (all, or those chosen) into a
//! directory, each under its output name with the extension of its format.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use stages::OutputSpec;
use storage::FileRef;

use crate::error::{PipelineError, Result};
use crate::ops::committed;
use crate::plan::Plan;
use crate::show::Listing;

/// Writes the output files of node `name` that `chosen` names (every one
/// when empty; a folder names the files in it) into `dir`, verified against
/// their blake3; returns the paths written. Each goes under its output name
/// plus the extension of its format (`.parquet`, `.json`, or the one its
/// stage declares, e.g. `.safetensors`) unless it ends with it already.
/// All or nothing: every name is checked first, and the files are staged in
/// `dir` and moved into place only once every blob has been read and
/// verified.
pub async fn export(
    plan: &Plan,
    store: &storage::ArtifactStore,
    name: &str,
    chosen: &[String],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let manifest = committed(plan, store, name).await?;
    let selected = select(name, &manifest.files, chosen)?;
    let outputs = plan.nodes[plan.by_name[name]].stage.outputs();
    let files = export_plan(name, &selected, outputs, dir)?;
    let created = missing_ancestors(dir);
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let staging = dir.join(format!(".pipeline-export-{}.tmp", std::process::id()));
    let staged = stage(store, name, &files, &staging).await;
    let moved = staged.and_then(|()| {
        files
            .iter()
            .map(|(_, rel, _)| {
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

/// The files `chosen` names (all when empty): each an output, or a folder
/// of outputs. A name that is neither is refused, listing what there is.
fn select<'m>(
    node: &str,
    files: &'m BTreeMap<String, FileRef>,
    chosen: &[String],
) -> Result<BTreeMap<&'m str, &'m FileRef>> {
    if chosen.is_empty() {
        return Ok(files.iter().map(|(f, e)| (f.as_str(), e)).collect());
    }
    let mut selected = BTreeMap::new();
    for wanted in chosen {
        let folder = format!("{}/", wanted.trim_end_matches('/'));
        let mut found = false;
        for (file, entry) in files {
            if file == wanted || file.starts_with(&folder) {
                selected.insert(file.as_str(), entry);
                found = true;
            }
        }
        if !found {
            return Err(PipelineError::Usage(format!(
                "node `{node}` has no output `{wanted}` (its outputs: {}); nothing was written",
                Listing::of(files, false).names()
            )));
        }
    }
    Ok(selected)
}

/// The name output `file` is exported under: with the extension of its
/// format (for bytes, the one its stage declares), unless it has it.
fn exported_name(file: &str, entry: &FileRef, outputs: &[OutputSpec]) -> String {
    let ext = match entry.format.as_str() {
        "parquet" => "parquet",
        "json" => "json",
        _ => outputs
            .iter()
            .find(|o| o.matches(file))
            .map_or("", |o| o.kind.extension()),
    };
    if ext.is_empty() || file.ends_with(&format!(".{ext}")) {
        file.to_string()
    } else {
        format!("{file}.{ext}")
    }
}

/// Each output's name, relative path and blob, after checking that every
/// name is a plain relative path and that no output or existing entry of
/// `dir` stands where another needs a directory or a file.
fn export_plan<'m>(
    node: &str,
    files: &BTreeMap<&'m str, &'m FileRef>,
    outputs: &[OutputSpec],
    dir: &Path,
) -> Result<Vec<(&'m str, PathBuf, &'m FileRef)>> {
    let refuse = |file: &str, why: &str| {
        PipelineError::Failed(format!(
            "node `{node}`: cannot export output `{file}`: {why}; nothing was written"
        ))
    };
    let exported: Vec<(&str, PathBuf, &FileRef)> = files
        .iter()
        .map(|(&file, &entry)| (file, exported_name(file, entry, outputs).into(), entry))
        .collect();
    let names: HashSet<&Path> = exported.iter().map(|(_, rel, _)| rel.as_path()).collect();
    if names.len() < exported.len() {
        return Err(PipelineError::Failed(format!(
            "node `{node}`: two outputs would be exported under one name; nothing was written"
        )));
    }
    for (file, rel, _) in &exported {
        let rel = rel.as_path();
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
    }
    Ok(exported)
}

/// Reads and verifies every blob into `staging`, under its output name.
async fn stage(
    store: &storage::ArtifactStore,
    node: &str,
    files: &[(&str, PathBuf, &FileRef)],
    staging: &Path,
) -> Result<()> {
    for (file, rel, entry) in files {
        let bytes = store
            .get_blob(entry)
            .await
            .map_err(|source| PipelineError::artifact(node, file, source))?;
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

#[cfg(test)]
mod tests {
    use stages::FileKind;

    use super::*;

    /// Output name -> an entry of `format`.
    fn files(names: &[(&str, &str)]) -> BTreeMap<String, FileRef> {
        names
            .iter()
            .map(|(name, format)| {
                let entry = FileRef {
                    blake3: "0".repeat(64),
                    size: 1,
                    format: format.to_string(),
                };
                (name.to_string(), entry)
            })
            .collect()
    }

    fn bytes(names: &[&str]) -> BTreeMap<String, FileRef> {
        files(&names.iter().map(|n| (*n, "bytes")).collect::<Vec<_>>())
    }

    fn all(files: &BTreeMap<String, FileRef>) -> BTreeMap<&str, &FileRef> {
        select("n", files, &[]).unwrap()
    }

    #[test]
    fn export_names_are_all_checked_first() {
        let dir = tempfile::tempdir().unwrap();
        let ok = bytes(&["a.txt", "figures/b.svg"]);
        assert_eq!(
            export_plan("n", &all(&ok), &[], dir.path()).unwrap().len(),
            2
        );
        for (names, why) in [
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
            let err = export_plan("n", &all(&bytes(names)), &[], dir.path())
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
            assert!(err.ends_with("nothing was written"), "{err}");
        }
        std::fs::write(dir.path().join("figures"), "a file").unwrap();
        let err = export_plan("n", &all(&ok), &[], dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("figures is a file"), "{err}");
    }

    #[test]
    fn exported_files_get_their_formats_extension() {
        const OUTPUTS: &[OutputSpec] = &[
            OutputSpec {
                name: "weights",
                kind: FileKind::Bytes("safetensors"),
                doc: "",
            },
            OutputSpec {
                name: "figures/<figure>.svg",
                kind: FileKind::Bytes("svg"),
                doc: "",
            },
        ];
        let stored = files(&[
            ("config", "json"),
            ("figures/f.svg", "bytes"),
            ("mel/t1", "parquet"),
            ("scores.parquet", "parquet"),
            ("undeclared", "bytes"),
            ("weights", "bytes"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let planned = export_plan("n", &all(&stored), OUTPUTS, dir.path()).unwrap();
        let names: Vec<&Path> = planned.iter().map(|(_, rel, _)| rel.as_path()).collect();
        assert_eq!(
            names,
            [
                "config.json",
                "figures/f.svg",
                "mel/t1.parquet",
                "scores.parquet",
                "undeclared",
                "weights.safetensors"
            ]
            .map(Path::new)
        );
        let clash = files(&[("a", "parquet"), ("a.parquet", "bytes")]);
        let err = export_plan("n", &all(&clash), &[], dir.path()).unwrap_err();
        assert!(err.to_string().contains("under one name"), "{err}");
    }

    #[test]
    fn chosen_files_and_folders_are_selected_and_unknown_ones_listed() {
        let stored = bytes(&["index", "mel/t1", "mel/t2", "mfcc"]);
        let chosen = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            select("mel", &stored, &names).map(|s| s.into_keys().collect::<Vec<_>>())
        };
        assert_eq!(chosen(&["mfcc"]).unwrap(), ["mfcc"]);
        assert_eq!(
            chosen(&["mel/", "index"]).unwrap(),
            ["index", "mel/t1", "mel/t2"]
        );
        assert_eq!(chosen(&["mel"]).unwrap(), ["mel/t1", "mel/t2"]);
        let err = chosen(&["mfcc", "mfc"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "node `mel` has no output `mfc` (its outputs: index, mfcc, mel/ (2 files)); \
             nothing was written"
        );
    }
}
