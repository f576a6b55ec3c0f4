//! `pipeline.yaml` -> a typed config; YAML errors carry line and column.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{PipelineError, Result};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Artifact store location; a directory relative to the file, or s3://.
    #[serde(default)]
    pub store: Option<String>,
    /// A shared remote store behind the primary one.
    #[serde(default)]
    pub remote: Option<String>,
    /// How many nodes may run at once.
    #[serde(default)]
    pub jobs: Option<usize>,
    /// Directories outside the file's own whose files stages may read by
    /// path (e.g. a dataset on another disk); relative ones start at the
    /// file's directory.
    #[serde(default)]
    pub allow_paths: Vec<PathBuf>,
    /// The most nodes the file may expand to (default
    /// [`DEFAULT_MAX_NODES`]): a few `foreach` lists multiply, and a typo
    /// should fail at once, not fill the memory.
    #[serde(default)]
    pub max_nodes: Option<usize>,
    /// Where nodes run: `local` (default) or `slurm`.
    #[serde(default)]
    pub executor: Option<String>,
    /// Job requests and retries for a cluster executor.
    #[serde(default)]
    pub cluster: crate::cluster::resources::ClusterConfig,
    /// Another pipeline file (relative to this one) whose nodes come first
    /// here, with [`Config::override_params`] merged in: a larger study is
    /// the default one with other numbers, not a copy of it. Settings this
    /// file leaves out are the other file's; relative paths in either
    /// start at this file's directory.
    #[serde(default)]
    pub extends: Option<PathBuf>,
    /// Node entry name (as written, `train_{run}`) -> parameters that
    /// replace the extended entry's, key by key; every entry of that name
    /// gets them.
    #[serde(default)]
    pub override_params: BTreeMap<String, serde_yaml::Mapping>,
    #[serde(default)]
    pub nodes: Vec<NodeTemplate>,
    /// The directory the file lives in; relative paths start here.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub path: PathBuf,
}

/// One entry of `nodes:`; with `foreach` it expands into many nodes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTemplate {
    pub name: String,
    pub stage: String,
    #[serde(default)]
    pub params: serde_yaml::Mapping,
    #[serde(default)]
    pub inputs: BTreeMap<String, InputRef>,
    /// Variable -> values; the template is instantiated for every
    /// combination, with `{variable}` substituted in the name, string
    /// parameters and input references.
    #[serde(default)]
    pub foreach: BTreeMap<String, Vec<serde_yaml::Value>>,
    /// The name of a node whose stage lists rows at plan time (the
    /// experimental design lists its runs): the template is also
    /// instantiated once per row, each row's fields being variables.
    #[serde(default)]
    pub foreach_rows: Option<String>,
}

/// A reference to upstream nodes: a name, a glob (`chain_*`), or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum InputRef {
    One(String),
    Many(Vec<String>),
}

impl InputRef {
    pub fn patterns(&self) -> Vec<String> {
        match self {
            InputRef::One(s) => vec![s.clone()],
            InputRef::Many(v) => v.clone(),
        }
    }
}

/// How many files deep `extends` may go.
const MAX_EXTENDS: usize = 8;

fn yaml_error(path: &Path, message: String) -> PipelineError {
    PipelineError::Yaml {
        path: path.display().to_string(),
        message,
    }
}

/// Expansion limit when the file sets no `max_nodes`.
pub const DEFAULT_MAX_NODES: usize = 100_000;

/// The largest pipeline file read: real ones are kilobytes, and parsing
/// costs about fifty times the text in memory.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

impl Config {
    /// `allow_paths`, absolute (relative ones from the file's directory).
    pub fn local_roots(&self) -> Vec<PathBuf> {
        self.allow_paths
            .iter()
            .map(|p| self.base_dir.join(p))
            .collect()
    }

    /// The expansion limit: the file's `max_nodes` or the default.
    pub fn max_nodes(&self) -> usize {
        self.max_nodes.unwrap_or(DEFAULT_MAX_NODES)
    }

    /// Reads (at most [`MAX_FILE_BYTES`]) and parses a pipeline file, and
    /// the files it extends.
    pub fn load(path: &Path) -> Result<Config> {
        Config::load_at(path, 0)
    }

    fn load_at(path: &Path, depth: usize) -> Result<Config> {
        let read_err = |source| PipelineError::Read {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        // Read one byte past the limit, so that a device or a growing file
        // is caught too, not only what the metadata says.
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(PipelineError::Yaml {
                path: path.display().to_string(),
                message: format!(
                    "the file is larger than {} MiB, the most a pipeline file may be",
                    MAX_FILE_BYTES >> 20
                ),
            });
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| read_err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        let config = Config::parse(&text, path)?;
        config.with_extended(depth)
    }

    /// This file on top of the one it extends (read with [`Config::load`]).
    fn with_extended(mut self, depth: usize) -> Result<Config> {
        let Some(extends) = self.extends.take() else {
            return Ok(self);
        };
        let path = self.path.clone();
        if depth >= MAX_EXTENDS {
            return Err(yaml_error(
                &path,
                format!("`extends` goes more than {MAX_EXTENDS} files deep (a cycle?)"),
            ));
        }
        let base = Config::load_at(&self.base_dir.join(&extends), depth + 1)?;
        let mut nodes = base.nodes;
        for (name, params) in std::mem::take(&mut self.override_params) {
            let mut matched = false;
            for node in nodes.iter_mut().filter(|n| n.name == name) {
                for (key, value) in &params {
                    node.params.insert(key.clone(), value.clone());
                }
                matched = true;
            }
            if !matched {
                return Err(yaml_error(
                    &path,
                    format!(
                        "override_params: `{}` has no node entry `{name}`",
                        extends.display()
                    ),
                ));
            }
        }
        nodes.append(&mut self.nodes);
        Ok(Config {
            store: self.store.or(base.store),
            remote: self.remote.or(base.remote),
            jobs: self.jobs.or(base.jobs),
            allow_paths: if self.allow_paths.is_empty() {
                base.allow_paths
            } else {
                self.allow_paths
            },
            max_nodes: self.max_nodes.or(base.max_nodes),
            executor: self.executor.or(base.executor),
            nodes,
            ..self
        })
    }

    /// Parses pipeline text; `path` is used for messages and relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut config: Config = serde_yaml::from_str(text).map_err(|e| {
            let message = match e.location() {
                Some(at) => {
                    let text = e.to_string();
                    let suffix = format!(" at line {} column {}", at.line(), at.column());
                    let text = text.strip_suffix(&suffix).unwrap_or(&text);
                    format!("line {}, column {}: {text}", at.line(), at.column())
                }
                None => e.to_string(),
            };
            PipelineError::Yaml {
                path: path.display().to_string(),
                message,
            }
        })?;
        config.path = path.to_path_buf();
        config.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        if config.extends.is_none() && !config.override_params.is_empty() {
            return Err(yaml_error(path, "override_params needs `extends`".into()));
        }
        for (field, value) in [("jobs", config.jobs), ("max_nodes", config.max_nodes)] {
            if value == Some(0) {
                return Err(yaml_error(path, format!("{field} must be at least 1")));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extending_file_overrides_params_of_every_entry_of_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let base = "store: s\njobs: 3\nnodes:\n  - {name: a, stage: s1, params: {x: 1, y: 2}}\n  - {name: \"b_{i}\", stage: s2, params: {x: 1}}\n  - {name: \"b_{i}\", stage: s3}\n";
        std::fs::write(dir.path().join("base.yaml"), base).unwrap();
        let big = "extends: base.yaml\njobs: 8\noverride_params:\n  a: {y: 20}\n  \"b_{i}\": {x: 10}\nnodes:\n  - {name: c, stage: s4}\n";
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, big).unwrap();
        let config = Config::load(&path).unwrap();
        let names: Vec<&str> = config.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b_{i}", "b_{i}", "c"]);
        let param = |i: usize, key: &str| config.nodes[i].params.get(key).and_then(|v| v.as_i64());
        assert_eq!((param(0, "x"), param(0, "y")), (Some(1), Some(20)));
        assert_eq!((param(1, "x"), param(2, "x")), (Some(10), Some(10)));
        assert_eq!((config.store.as_deref(), config.jobs), (Some("s"), Some(8)));

        std::fs::write(&path, "extends: base.yaml\noverride_params: {z: {x: 1}}\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("`base.yaml` has no node entry `z`"), "{err}");
        std::fs::write(&path, "extends: big.yaml\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("more than 8 files deep"), "{err}");
        let err = Config::parse("override_params: {a: {x: 1}}\n", Path::new("p.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs `extends`"), "{err}");
    }

    #[test]
    fn malformed_yaml_names_line_and_column() {
        let err = Config::parse(
            "nodes:\n  - name: a\n    stage: [oops\n",
            Path::new("p.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("p.yaml: line "), "{err}");
        assert!(err.contains("column"), "{err}");
    }

    #[test]
    fn max_nodes_defaults_and_must_be_positive() {
        let nodes = "nodes: []\n";
        assert_eq!(
            Config::parse(nodes, Path::new("p.yaml"))
                .unwrap()
                .max_nodes(),
            DEFAULT_MAX_NODES
        );
        let set = Config::parse(&format!("max_nodes: 7\n{nodes}"), Path::new("p.yaml"));
        assert_eq!(set.unwrap().max_nodes(), 7);
        let zero = Config::parse(&format!("max_nodes: 0\n{nodes}"), Path::new("p.yaml"))
            .unwrap_err()
            .to_string();
        assert_eq!(zero, "p.yaml: max_nodes must be at least 1");
    }

    #[test]
    fn oversized_file_is_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        let mut text = "nodes: []\n".to_string();
        text.push_str(&"#".repeat(MAX_FILE_BYTES as usize));
        std::fs::write(&path, text).unwrap();
        let err = Config::load(&path).unwrap_err();
        assert!(err.to_string().contains("larger than 16 MiB"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn unknown_field_is_rejected_with_location() {
        let err = Config::parse("nodes:\n  - name: a\n    stag: x\n", Path::new("p.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.yaml: line 3, column 5: nodes[0]: unknown field `stag`"),
            "{err}"
        );
    }
}
