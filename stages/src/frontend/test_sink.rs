//! In-memory stand-ins for the engine's side of a stage (unit tests only).

use std::collections::BTreeMap;
use std::sync::Mutex;

use arrow::array::RecordBatch;

use crate::api::{Output, Sink};

/// A sink that keeps emitted outputs and checkpoints in memory.
#[derive(Default)]
pub struct MemorySink {
    pub outputs: Mutex<BTreeMap<String, Output>>,
    pub checkpoints: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Sink for MemorySink {
    fn emit(&self, name: &str, output: Output) -> Result<(), String> {
        self.outputs.lock().unwrap().insert(name.into(), output);
        Ok(())
    }
    fn has(&self, name: &str) -> bool {
        self.outputs.lock().unwrap().contains_key(name)
    }
    fn save_checkpoint(&self, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.checkpoints.lock().unwrap().insert(name.into(), bytes);
        Ok(())
    }
    fn load_checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.checkpoints.lock().unwrap().get(name).cloned())
    }
}

impl MemorySink {
    pub fn table(&self, name: &str) -> RecordBatch {
        match self.outputs.lock().unwrap().get(name) {
            Some(Output::Table(t)) => t.clone(),
            _ => panic!("no table {name}"),
        }
    }
    pub fn bytes(&self, name: &str) -> Vec<u8> {
        match self.outputs.lock().unwrap().get(name) {
            Some(Output::Bytes(b)) => b.clone(),
            _ => panic!("no bytes {name}"),
        }
    }
}

/// The shared in-memory upstream node and no-op progress.
pub use crate::test_support::{MemoryFiles, NoProgress};
