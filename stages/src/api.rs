//! The contract between the engine and the stages.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use serde_json::Value;
use thiserror::Error;

/// Why a stage could not produce its outputs.
#[derive(Debug, Error)]
pub enum StageError {
    #[error("parameter `{name}`: {reason}")]
    Param { name: String, reason: String },
    #[error("input `{slot}`: {reason}")]
    Input { slot: String, reason: String },
    #[error("{0}")]
    Data(String),
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
}

/// The type of a parameter; the engine checks and canonicalises values
/// against it before a key is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Str,
    Int,
    Float,
    Bool,
    /// One of the listed strings.
    Choice(&'static [&'static str]),
    /// A list of strings.
    StrList,
    /// A local file (relative to pipeline.yaml): the engine hashes its bytes
    /// into the key and hands them to the stage.
    File,
    /// A local directory (relative to pipeline.yaml): the engine lists the
    /// files under it ([`crate::local_files::list_dir`]), hashes the listing
    /// into the key and hands the stage the listing, not the files' bytes.
    /// Unlike a file's, its path stays in the key too: the stage's outputs
    /// name files by it.
    Dir,
}

impl ParamType {
    pub fn describe(&self) -> String {
        match self {
            ParamType::Str => "a string".into(),
            ParamType::Int => "an integer".into(),
            ParamType::Float => "a number".into(),
            ParamType::Bool => "true or false".into(),
            ParamType::Choice(options) => format!("one of {}", options.join(", ")),
            ParamType::StrList => "a list of strings".into(),
            ParamType::File => "a file path".into(),
            ParamType::Dir => "a directory path".into(),
        }
    }
}

/// One declared parameter. `default: None` means required.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    pub default: Option<&'static str>,
    pub doc: &'static str,
    /// Whether the parameter can change a result and so enters the key;
    /// `false` for how a result is computed, never what (worker counts,
    /// timeouts, retries): changing it re-runs nothing.
    pub in_key: bool,
}

/// One declared input slot; `many` slots take a list of upstream nodes.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    pub name: &'static str,
    pub many: bool,
    pub doc: &'static str,
}

/// What an output file holds: what the reference says and what extension
/// `pipeline export` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// An Arrow table, stored as Parquet.
    Table,
    Json,
    /// Bytes in the stage's own format, named by its usual extension
    /// (`safetensors`, `svg`); empty where it varies (fetched audio).
    Bytes(&'static str),
}

impl FileKind {
    /// The extension an exported file gets (empty: none).
    pub fn extension(&self) -> &'static str {
        match self {
            FileKind::Table => "parquet",
            FileKind::Json => "json",
            FileKind::Bytes(ext) => ext,
        }
    }
}

/// One declared output file. A `<...>` part of the name varies per item
/// (`mel/<track_id>`): the stage writes one such file per item.
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec {
    pub name: &'static str,
    pub kind: FileKind,
    pub doc: &'static str,
}

impl OutputSpec {
    /// Whether output file `file` is one this declares.
    pub fn matches(&self, file: &str) -> bool {
        match (self.name.find('<'), self.name.find('>')) {
            (Some(open), Some(close)) if open < close => {
                let (prefix, suffix) = (&self.name[..open], &self.name[close + 1..]);
                file.len() > prefix.len() + suffix.len()
                    && file.starts_with(prefix)
                    && file.ends_with(suffix)
            }
            _ => file == self.name,
        }
    }
}

/// A stage of the pipeline.
pub trait Stage: Send + Sync {
    fn name(&self) -> &'static str;
    /// Bump whenever the stage's output for the same inputs changes.
    fn version(&self) -> u32;
    fn doc(&self) -> &'static str;
    fn params(&self) -> &'static [ParamSpec];
    fn inputs(&self) -> &'static [InputSpec];
    /// The input slots a config may leave unconnected; every other slot
    /// must be connected.
    fn optional_inputs(&self) -> &'static [&'static str] {
        &[]
    }
    /// The files it writes, for the stage reference and `export`; empty:
    /// not declared.
    fn outputs(&self) -> &'static [OutputSpec] {
        &[]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError>;
    /// Rows that `foreach_rows` templates naming a node of this stage expand
    /// over, computed at plan time from the node's parameters alone (so it
    /// must be cheap and pure): each row maps variable names to values
    /// (text, numbers, or lists, which expand an input reference into one
    /// reference per element). `None`: this stage lists no rows.
    fn template_rows(&self, _params: &Params) -> Option<Result<Vec<TemplateRow>, StageError>> {
        None
    }
}

/// What the engine knows of a stage without running it: all of [`Stage`]
/// but `run` (and `template_rows`). Reading a `const` of it links none of
/// the stage's code, which lets the engine declare stages that run in
/// another process (libtorch's).
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    pub name: &'static str,
    pub version: u32,
    pub doc: &'static str,
    pub params: &'static [ParamSpec],
    pub inputs: &'static [InputSpec],
    pub optional_inputs: &'static [&'static str],
    pub outputs: &'static [OutputSpec],
}

/// The declaring methods of a [`Stage`] impl, read from a [`Declaration`].
#[macro_export]
macro_rules! declared {
    ($declaration:expr) => {
        fn name(&self) -> &'static str {
            $declaration.name
        }
        fn version(&self) -> u32 {
            $declaration.version
        }
        fn doc(&self) -> &'static str {
            $declaration.doc
        }
        fn params(&self) -> &'static [$crate::ParamSpec] {
            $declaration.params
        }
        fn inputs(&self) -> &'static [$crate::InputSpec] {
            $declaration.inputs
        }
        fn optional_inputs(&self) -> &'static [&'static str] {
            $declaration.optional_inputs
        }
        fn outputs(&self) -> &'static [$crate::OutputSpec] {
            $declaration.outputs
        }
    };
}

/// One row of [`Stage::template_rows`]: variable -> value.
pub type TemplateRow = serde_json::Map<String, Value>;

/// Checked, canonical parameter values.
#[derive(Debug, Clone)]
pub struct Params(pub serde_json::Map<String, Value>);

impl Params {
    fn get(&self, name: &str) -> Result<&Value, StageError> {
        self.0.get(name).ok_or_else(|| StageError::Param {
            name: name.into(),
            reason: "missing".into(),
        })
    }

    pub fn str(&self, name: &str) -> Result<&str, StageError> {
        self.get(name)?
            .as_str()
            .ok_or_else(|| wrong(name, "a string"))
    }

    pub fn f64(&self, name: &str) -> Result<f64, StageError> {
        self.get(name)?
            .as_f64()
            .ok_or_else(|| wrong(name, "a number"))
    }

    pub fn i64(&self, name: &str) -> Result<i64, StageError> {
        self.get(name)?
            .as_i64()
            .ok_or_else(|| wrong(name, "an integer"))
    }

    pub fn bool(&self, name: &str) -> Result<bool, StageError> {
        self.get(name)?
            .as_bool()
            .ok_or_else(|| wrong(name, "a boolean"))
    }

    pub fn str_list(&self, name: &str) -> Result<Vec<String>, StageError> {
        let items = self
            .get(name)?
            .as_array()
            .ok_or_else(|| wrong(name, "a list"))?;
        items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or_else(|| wrong(name, "a list of strings"))
            })
            .collect()
    }
}

fn wrong(name: &str, expected: &str) -> StageError {
    StageError::Param {
        name: name.into(),
        reason: format!("expected {expected}"),
    }
}

/// Read access to one upstream node's outputs; the engine loads and
/// verifies them on demand.
pub trait UpstreamFiles: Send + Sync {
    /// Whether the node has an output file `file` (without reading it).
    fn has(&self, file: &str) -> bool;
    fn table(&self, file: &str) -> Result<RecordBatch, String>;
    fn bytes(&self, file: &str) -> Result<Vec<u8>, String>;
}

/// One upstream node feeding an input slot.
#[derive(Clone)]
pub struct Upstream {
    pub node: String,
    pub files: Arc<dyn UpstreamFiles>,
}

/// Per-item progress reporting for heavy stages.
pub trait Progress: Send + Sync {
    fn set_total(&self, total: u64);
    fn advance(&self, items: u64);
    /// A short status shown beside the bar (e.g. the source being trained
    /// and its running loss); ignored where nothing is displayed.
    fn message(&self, _text: &str) {}
}

/// Where a stage puts what must not wait for its end: per-item outputs too
/// large to hold together (audio, mels), and checkpoints that let an
/// interrupted node resume. Checkpoints belong to the node's key but are not
/// part of it, and are dropped once the node is committed.
pub trait Sink: Send + Sync {
    /// Stores one output file now; it joins the node's manifest at commit.
    fn emit(&self, name: &str, output: Output) -> Result<(), String>;
    /// Whether output `name` is already stored: emitted by this attempt, or
    /// by an earlier, interrupted attempt at the same key (and intact), so a
    /// resumed stage can skip that item.
    fn has(&self, name: &str) -> bool;
    /// Saves (replaces) a named checkpoint of this node.
    fn save_checkpoint(&self, name: &str, bytes: Vec<u8>) -> Result<(), String>;
    /// The checkpoint an earlier attempt at the same key saved, if any.
    fn load_checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, String>;
    /// Per-item reuse across nodes: if any node of this stage, with the
    /// same parameters, computed the item that `item` determines, emits its
    /// files again (under the names they had) and returns the record the
    /// stage kept of it. `None`: compute it (and give it to
    /// [`Sink::emit_item`]). A sink that keeps no items always says `None`.
    fn reuse_item(&self, _item: &[ItemSource]) -> Result<Option<Value>, String> {
        Ok(None)
    }
    /// Emits one item's files and keeps them, with `record`, for
    /// [`Sink::reuse_item`].
    fn emit_item(
        &self,
        _item: &[ItemSource],
        files: Vec<(String, Output)>,
        _record: &Value,
    ) -> Result<(), String> {
        for (name, output) in files {
            self.emit(&name, output)?;
        }
        Ok(())
    }
}

/// What alone determines one item's results, as a per-item stage tells the
/// engine (which keys the item by these, the stage, its version and the
/// node's parameters in the key). It must name everything the results
/// depend on: the item's id too when the output names carry it.
#[derive(Debug, Clone, Copy)]
pub enum ItemSource<'a> {
    /// A file of an upstream node on `slot` (its first node that has it):
    /// the engine takes the file's content digest.
    File { slot: &'a str, file: &'a str },
    /// A value the stage vouches for: an id, a checksum, a remote URI.
    Text(&'a str),
}

/// Everything a stage gets.
pub struct StageContext<'a> {
    pub node: &'a str,
    pub params: &'a Params,
    /// Input slot -> upstream nodes, in the order the config lists them.
    pub inputs: &'a BTreeMap<String, Vec<Upstream>>,
    /// File parameter -> the bytes the engine hashed into the key (for a
    /// directory parameter, its listing).
    pub files: &'a BTreeMap<String, Vec<u8>>,
    pub progress: &'a dyn Progress,
    pub sink: &'a dyn Sink,
    /// The directory of pipeline.yaml: relative paths inside user tables
    /// (e.g. a manifest's audio URIs) start here.
    pub base_dir: &'a std::path::Path,
    /// Directories besides `base_dir` whose files a stage may read by path
    /// (pipeline.yaml's `allow_paths`, made absolute); nothing else outside
    /// `base_dir` may be read.
    pub local_roots: &'a [std::path::PathBuf],
}

impl StageContext<'_> {
    /// The only upstream of a single-node slot.
    pub fn input(&self, slot: &str) -> Result<&Upstream, StageError> {
        match self.inputs.get(slot).map(Vec::as_slice) {
            Some([one]) => Ok(one),
            _ => Err(StageError::Input {
                slot: slot.into(),
                reason: "expected exactly one upstream node".into(),
            }),
        }
    }

    /// One table of a single-node slot.
    pub fn input_table(&self, slot: &str, file: &str) -> Result<RecordBatch, StageError> {
        let up = self.input(slot)?;
        up.files.table(file).map_err(|reason| StageError::Input {
            slot: slot.into(),
            reason: format!("node {}: {reason}", up.node),
        })
    }

    /// The bytes of a file parameter.
    pub fn file(&self, param: &str) -> Result<&[u8], StageError> {
        self.files
            .get(param)
            .map(Vec::as_slice)
            .ok_or_else(|| StageError::Param {
                name: param.into(),
                reason: "file was not provided".into(),
            })
    }
}

/// One output file of a stage.
pub enum Output {
    Table(RecordBatch),
    Json(Value),
    Bytes(Vec<u8>),
}

/// What a stage produced: named files plus metadata for the manifest.
#[derive(Default)]
pub struct Outputs {
    pub files: BTreeMap<String, Output>,
    pub metadata: serde_json::Map<String, Value>,
}

impl Outputs {
    pub fn table(mut self, name: &str, batch: RecordBatch) -> Self {
        self.files.insert(name.into(), Output::Table(batch));
        self
    }

    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(name: &'static str) -> OutputSpec {
        OutputSpec {
            name,
            kind: FileKind::Table,
            doc: "",
        }
    }

    #[test]
    fn an_output_name_matches_its_files() {
        assert!(output("mfcc").matches("mfcc"));
        assert!(!output("mfcc").matches("mfcc2"));
        let per_track = output("figures/<figure>.svg");
        assert!(per_track.matches("figures/fig7.svg"));
        assert!(
            !per_track.matches("figures/.svg"),
            "the varying part is not empty"
        );
        assert!(!per_track.matches("figures/fig7.png"));
        assert!(!per_track.matches("other/fig7.svg"));
    }
}
