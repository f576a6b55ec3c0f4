//! What the stages' unit tests share to run a stage as the engine would:
//! upstream nodes held in memory, a sink and progress that record nothing,
//! and parameters with the stage's declared defaults applied.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use serde_json::{Map, Value};

use crate::api::*;

/// One upstream node's outputs, in memory.
#[derive(Clone, Default)]
pub struct MemoryFiles {
    pub tables: BTreeMap<String, RecordBatch>,
    pub bytes: BTreeMap<String, Vec<u8>>,
}

impl MemoryFiles {
    /// An upstream node `node` whose only output is table `file`.
    pub fn one_table(node: &str, file: &str, table: RecordBatch) -> Upstream {
        let files = MemoryFiles {
            tables: BTreeMap::from([(file.to_string(), table)]),
            bytes: BTreeMap::new(),
        };
        Upstream {
            node: node.into(),
            files: Arc::new(files),
        }
    }

    /// These files as the one upstream node `node` of an input slot.
    pub fn upstream(self, node: &str) -> Vec<Upstream> {
        vec![Upstream {
            node: node.into(),
            files: Arc::new(self),
        }]
    }
}

impl UpstreamFiles for MemoryFiles {
    fn has(&self, file: &str) -> bool {
        self.tables.contains_key(file) || self.bytes.contains_key(file)
    }
    fn table(&self, file: &str) -> Result<RecordBatch, String> {
        self.tables
            .get(file)
            .cloned()
            .ok_or_else(|| format!("no file `{file}`"))
    }
    fn bytes(&self, file: &str) -> Result<Vec<u8>, String> {
        self.bytes
            .get(file)
            .cloned()
            .ok_or_else(|| format!("no file `{file}`"))
    }
}

/// For stages that emit nothing before their end.
pub struct NoSink;

impl Sink for NoSink {
    fn emit(&self, name: &str, _: Output) -> Result<(), String> {
        Err(format!("unexpected early output {name}"))
    }
    fn has(&self, _: &str) -> bool {
        false
    }
    fn save_checkpoint(&self, _: &str, _: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
    fn load_checkpoint(&self, _: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(None)
    }
}

pub struct NoProgress;

impl Progress for NoProgress {
    fn set_total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// `overrides` (a JSON object) over the stage's declared defaults.
pub fn params_with_defaults(stage: &dyn Stage, overrides: Value) -> Params {
    let mut map = Map::new();
    for spec in stage.params() {
        let Some(default) = spec.default else {
            continue;
        };
        let value = match spec.ty {
            ParamType::Int => Value::from(default.parse::<i64>().expect("int default")),
            ParamType::Float => Value::from(default.parse::<f64>().expect("float default")),
            ParamType::Bool => Value::from(default == "true"),
            ParamType::StrList => default
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|s| Value::from(s.trim()))
                .collect(),
            _ => Value::from(default),
        };
        map.insert(spec.name.into(), value);
    }
    if let Value::Object(given) = overrides {
        map.extend(given);
    }
    Params(map)
}
