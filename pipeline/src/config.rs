//! `pipeline.yaml` -> a typed config; YAML errors carry line and column.

use std::collections::BTreeMap;
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

impl Config {
    /// Reads and parses a pipeline file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, path)
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
        if config.jobs == Some(0) {
            return Err(PipelineError::Yaml {
                path: path.display().to_string(),
                message: "jobs must be at least 1".into(),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
