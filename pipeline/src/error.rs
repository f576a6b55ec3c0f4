use thiserror::Error;

/// Errors of the engine. `exit_code` maps them to the CLI's contract:
/// 2 for bad input (config, references, unreachable store), 1 otherwise.
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
    #[error("node `{node}`: {message}")]
    Node { node: String, message: String },
    #[error("dependency cycle: {0}")]
    Cycle(String),
    #[error(transparent)]
    Store(#[from] storage::StoreError),
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

    pub fn exit_code(&self) -> i32 {
        match self {
            PipelineError::Failed(_) => 1,
            _ => 2,
        }
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
