//! Config -> concrete nodes with checked parameters, resolved inputs and a
//! topological order. Keys come later, from upstream outputs ([`crate::keys`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use stages::local_files::{list_dir, LocalRoots};
use stages::{ParamType, Registry, Stage};

use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::expand::{expand, glob_match, Bindings, NodeDecl};
use crate::graph;

/// An external file a node reads, hashed into its key.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Of its bytes, or of a directory's listing.
    pub blake3: String,
    /// A directory parameter: the stage gets its listing
    /// ([`stages::local_files::list_dir`]).
    pub dir: bool,
}

impl SourceFile {
    /// What the stage gets: the file's bytes or the directory's listing.
    pub fn read(&self) -> std::result::Result<Vec<u8>, String> {
        if self.dir {
            list_dir(&self.path)
        } else {
            std::fs::read(&self.path)
                .map_err(|e| format!("cannot read {}: {e}", self.path.display()))
        }
    }
}

/// One node of the plan.
pub struct PlannedNode {
    pub name: String,
    pub stage: Arc<dyn Stage>,
    /// Canonical parameters (defaults applied), as recorded in manifests.
    pub params: Map<String, Value>,
    /// Input slot -> indices of upstream nodes, in config order.
    pub inputs: BTreeMap<String, Vec<usize>>,
    /// File (or directory) parameter -> the file and its hash.
    pub sources: BTreeMap<String, SourceFile>,
    /// Its glob inputs, in config order: a glob may match nodes its author
    /// did not mean (a user's `eval_real_*` joining `eval_*`), so `status
    /// --explain` shows what each matched.
    pub globs: Vec<GlobInput>,
}

/// One glob of an input slot and the nodes it matched.
pub struct GlobInput {
    pub slot: String,
    pub pattern: String,
    pub matched: Vec<usize>,
}

impl PlannedNode {
    /// File parameter -> blake3 of its bytes, as keys and manifests hold it.
    pub fn source_hashes(&self) -> BTreeMap<String, String> {
        self.sources
            .iter()
            .map(|(k, s)| (k.clone(), s.blake3.clone()))
            .collect()
    }
}

/// The expanded pipeline.
pub struct Plan {
    pub nodes: Vec<PlannedNode>,
    /// Upstream before downstream.
    pub order: Vec<usize>,
    pub by_name: HashMap<String, usize>,
}

impl Plan {
    pub fn build(config: &Config, registry: &Registry) -> Result<Plan> {
        let decls = expand(config, &template_rows(config, registry)?)?;
        let names: Vec<String> = decls.iter().map(|d| d.name.clone()).collect();
        let mut by_name = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if by_name.insert(name.clone(), i).is_some() {
                return Err(PipelineError::node(name, "defined more than once"));
            }
        }
        // Each declaration is consumed as its node is planned: the two
        // never both exist in full, which halves the peak of a big plan.
        let mut nodes = Vec::with_capacity(decls.len());
        for d in decls {
            nodes.push(plan_node(d, &names, &by_name, registry, config)?);
        }
        let parents: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| n.inputs.values().flatten().copied().collect())
            .collect();
        let order = graph::topological_order(&parents).map_err(|cycle| {
            let path: Vec<&str> = cycle.iter().map(|&i| names[i].as_str()).collect();
            PipelineError::Cycle(path.join(" -> "))
        })?;
        Ok(Plan {
            nodes,
            order,
            by_name,
        })
    }

    /// Indices of `roots` and every node they need.
    pub fn ancestors(&self, roots: &[usize]) -> Vec<usize> {
        let parents: Vec<Vec<usize>> = self
            .nodes
            .iter()
            .map(|n| n.inputs.values().flatten().copied().collect())
            .collect();
        graph::reachable(roots, &parents)
    }

    pub fn children(&self) -> Vec<Vec<usize>> {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &u in n.inputs.values().flatten() {
                // Node i's edges are pushed together, so a repeat of u -> i
                // is the last entry: no scan of a wide fan-out.
                if children[u].last() != Some(&i) {
                    children[u].push(i);
                }
            }
        }
        children
    }

    /// Resolves node names given on the command line.
    pub fn lookup(&self, names: &[String]) -> Result<Vec<usize>> {
        names
            .iter()
            .map(|n| {
                self.by_name.get(n).copied().ok_or_else(|| {
                    PipelineError::Usage(format!("no node named `{n}` in the pipeline"))
                })
            })
            .collect()
    }
}

/// The rows of every node that a `foreach_rows` template names, computed
/// by its stage from its parameters.
fn template_rows(config: &Config, registry: &Registry) -> Result<BTreeMap<String, Vec<Bindings>>> {
    let mut rows = BTreeMap::new();
    for t in &config.nodes {
        let Some(source) = &t.foreach_rows else {
            continue;
        };
        if rows.contains_key(source) {
            continue;
        }
        let Some(node) = config
            .nodes
            .iter()
            .find(|n| n.name == *source && n.foreach.is_empty() && n.foreach_rows.is_none())
        else {
            return Err(PipelineError::node(
                &t.name,
                format!("foreach_rows names `{source}`, which is not a single node of this file"),
            ));
        };
        let stage = registry.find(&node.stage).ok_or_else(|| {
            PipelineError::node(source, format!("unknown stage `{}`", node.stage))
        })?;
        let params = crate::params::check(stage.as_ref(), &node.params)
            .map_err(|m| PipelineError::node(source, m))?;
        let listed = stage
            .template_rows(&stages::Params(params))
            .ok_or_else(|| {
                PipelineError::node(
                    &t.name,
                    format!(
                        "foreach_rows: stage `{}` of `{source}` lists no rows",
                        node.stage
                    ),
                )
            })?
            .map_err(|e| PipelineError::node(source, e.to_string()))?;
        let bindings = listed
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|(k, v)| (k, serde_yaml::to_value(v).expect("JSON values are YAML")))
                    .collect()
            })
            .collect();
        rows.insert(source.clone(), bindings);
    }
    Ok(rows)
}

fn plan_node(
    d: NodeDecl,
    names: &[String],
    by_name: &HashMap<String, usize>,
    registry: &Registry,
    config: &Config,
) -> Result<PlannedNode> {
    let stage = registry.find(&d.stage).ok_or_else(|| {
        PipelineError::node(
            &d.name,
            format!(
                "unknown stage `{}` (known: {})",
                d.stage,
                registry.names().join(", ")
            ),
        )
    })?;
    let params = crate::params::check(stage.as_ref(), &d.params)
        .map_err(|m| PipelineError::node(&d.name, m))?;

    let mut inputs = BTreeMap::new();
    let mut globs = Vec::new();
    for (slot, patterns) in &d.inputs {
        let Some(spec) = stage.inputs().iter().find(|s| s.name == *slot) else {
            let known: Vec<&str> = stage.inputs().iter().map(|s| s.name).collect();
            return Err(PipelineError::node(
                &d.name,
                format!(
                    "stage `{}` has no input `{slot}` (inputs: {})",
                    stage.name(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        let mut ups = Vec::new();
        for pattern in patterns {
            if pattern.contains('*') {
                let matched: Vec<usize> = names
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| **o != d.name && glob_match(pattern, o))
                    .map(|(i, _)| i)
                    .collect();
                if matched.is_empty() {
                    return Err(PipelineError::node(
                        &d.name,
                        format!("input `{slot}`: pattern `{pattern}` matches no node"),
                    ));
                }
                ups.extend(&matched);
                globs.push(GlobInput {
                    slot: slot.clone(),
                    pattern: pattern.clone(),
                    matched,
                });
            } else {
                let &u = by_name.get(pattern).ok_or_else(|| {
                    PipelineError::node(
                        &d.name,
                        format!("input `{slot}` refers to missing node `{pattern}`"),
                    )
                })?;
                ups.push(u);
            }
        }
        if !spec.many && ups.len() != 1 {
            return Err(PipelineError::node(
                &d.name,
                format!("input `{slot}` takes exactly one node, got {}", ups.len()),
            ));
        }
        inputs.insert(slot.clone(), ups);
    }
    for spec in stage.inputs() {
        if !inputs.contains_key(spec.name) && !stage.optional_inputs().contains(&spec.name) {
            return Err(PipelineError::node(
                &d.name,
                format!("missing input `{}` ({})", spec.name, spec.doc),
            ));
        }
    }

    let mut sources = BTreeMap::new();
    for spec in stage.params() {
        let dir = match spec.ty {
            ParamType::File => false,
            ParamType::Dir => true,
            _ => continue,
        };
        let rel = params[spec.name].as_str().unwrap_or_default();
        let fail =
            |e: String| PipelineError::node(&d.name, format!("parameter `{}`: {e}", spec.name));
        // The same roots as the stages' local uris: a parameter may not read
        // /proc/self/environ into the store either.
        let roots = LocalRoots::new(&config.base_dir, &config.local_roots());
        let path = roots.admit(&config.base_dir.join(rel)).map_err(fail)?;
        let blake3 = if dir {
            blake3::hash(&list_dir(&path).map_err(fail)?)
                .to_hex()
                .to_string()
        } else {
            hash_source(&path).map_err(fail)?
        };
        sources.insert(spec.name.to_string(), SourceFile { path, blake3, dir });
    }
    Ok(PlannedNode {
        name: d.name,
        stage,
        params,
        inputs,
        sources,
        globs,
    })
}

/// The largest file a file parameter may name: it is hashed on every
/// `status` and `run`, and stages read it whole.
pub const MAX_SOURCE_BYTES: u64 = 4 << 30;

/// The blake3 of a file parameter's bytes, streamed (the same digest as
/// hashing them at once). Only regular files: a device or FIFO (`/dev/zero`)
/// would never end or never answer.
fn hash_source(path: &Path) -> std::result::Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a directory, device, FIFO or socket)"
        ));
    }
    let too_big = || {
        format!(
            "{shown} is larger than {} GiB, the limit",
            MAX_SOURCE_BYTES >> 30
        )
    };
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(too_big());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    // The limit holds for what is read too: some files (in /proc) say
    // they are empty, and a file may grow meanwhile.
    let mut reader = BufReader::with_capacity(1 << 16, file.take(MAX_SOURCE_BYTES + 1));
    let mut hasher = blake3::Hasher::new();
    let read =
        std::io::copy(&mut reader, &mut hasher).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if read > MAX_SOURCE_BYTES {
        return Err(too_big());
    }
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_source_hash_is_the_plain_blake3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            hash_source(&path).unwrap(),
            blake3::hash(&bytes).to_hex().to_string()
        );
    }

    #[test]
    fn devices_directories_and_huge_files_are_refused_unread() {
        let err = hash_source(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err,
            "/dev/zero is not a regular file (a directory, device, FIFO or socket)"
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(hash_source(dir.path())
            .unwrap_err()
            .contains("not a regular file"));
        // Sparse: its size is metadata only, and it is refused before a read.
        let huge = dir.path().join("huge.csv");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_SOURCE_BYTES + 1)
            .unwrap();
        let err = hash_source(&huge).unwrap_err();
        assert!(err.ends_with("is larger than 4 GiB, the limit"), "{err}");
    }
}
