use storage::StoreError;
use thiserror::Error;

/// Errors of the engine. `exit_code` maps them to the CLI's contract:
/// 2 for bad input (config, references, unreachable store), 1 otherwise
/// (a node failed, or the store holds a missing or corrupt artifact).
#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Yaml { path: String, message: String },
    /// An entry of `nodes:` (by position, as YAML errors name it) that
    /// cannot be expanded.
    #[error("{path}: nodes[{index}] `{template}`: {message}")]
    Template {
        path: String,
        index: usize,
        template: String,
        message: String,
    },
    #[error("node `{node}`: {message}")]
    Node { node: String, message: String },
    #[error("dependency cycle: {0}")]
    Cycle(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored output of a node that could not be read back (boxed: it
    /// is rare, and keeps every `Result` of the crate small).
    #[error("node `{node}`, output `{output}`: {source}")]
    Artifact {
        node: String,
        output: String,
        #[source]
        source: Box<StoreError>,
    },
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl PipelineError {
    pub fn node(node: &str, message: impl Into<String>) -> Self {
        PipelineError::Node {
            node: node.to_string(),
            message: message.into(),
        }
    }

    pub fn artifact(node: &str, output: &str, source: StoreError) -> Self {
        PipelineError::Artifact {
            node: node.to_string(),
            output: output.to_string(),
            source: Box::new(source),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            PipelineError::Failed(_) | PipelineError::Output(_) => 1,
            PipelineError::Store(e) => store_code(e),
            PipelineError::Artifact { source, .. } => store_code(source),
            _ => 2,
        }
    }
}

/// A store that cannot be reached or named is bad input (2); one that
/// answers with a missing, corrupt or undecodable artifact did not verify
/// (1), and one busy with another command did not let this one finish (1).
fn store_code(e: &StoreError) -> i32 {
    match e {
        StoreError::Location { .. } | StoreError::Backend { .. } => 2,
        StoreError::MissingBlob { .. }
        | StoreError::CorruptBlob { .. }
        | StoreError::Manifest { .. }
        | StoreError::Table { .. } => 1,
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_problems_exit_1_and_unreachable_stores_2() {
        let corrupt = StoreError::CorruptBlob {
            store: "s".into(),
            hash: "h".into(),
            actual: "a".into(),
        };
        assert_eq!(PipelineError::Store(corrupt).exit_code(), 1);
        let missing = PipelineError::artifact(
            "n",
            "o",
            StoreError::MissingBlob {
                store: "s".into(),
                hash: "h".into(),
            },
        );
        assert_eq!(missing.exit_code(), 1);
        assert_eq!(
            missing.to_string(),
            "node `n`, output `o`: blob h is missing from store s"
        );
        let location = StoreError::Location {
            location: "ftp://x".into(),
            reason: "unsupported".into(),
        };
        assert_eq!(PipelineError::Store(location).exit_code(), 2);
    }
}
