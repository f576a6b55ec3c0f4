//! Per-item records that survive an interrupted attempt at a node.
//!
//! A per-item stage emits each item's file through the sink as soon as it is
//! ready, but it also needs a small record per item to build its summary
//! tables at the end (a fetched track's blake3 and size, a mel's frame count
//! and MFCC vector). The journal keeps those records in numbered checkpoints
//! of the node (`<prefix>-000000.json`, ...), each written once, so saving is
//! linear in the number of items. A resumed attempt trusts an item only when
//! both its record and its output file survived ([`Sink::has`]); anything
//! else is simply redone.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{Sink, StageError};

/// Records per checkpoint.
const PER_CHUNK: usize = 64;

/// Upper bound on chunks read back (a guard against a corrupt sequence).
const MAX_CHUNKS: usize = 10_000_000;

/// One journal of records of type `R`, keyed by item id.
pub struct Journal<'a, R> {
    sink: &'a dyn Sink,
    prefix: &'static str,
    /// Records an earlier attempt saved, by item id.
    earlier: HashMap<String, R>,
    state: Mutex<Pending<R>>,
}

struct Pending<R> {
    next_chunk: usize,
    records: Vec<(String, R)>,
}

impl<'a, R: Serialize + DeserializeOwned + Clone> Journal<'a, R> {
    /// Reads back whatever an earlier attempt at this node saved. A chunk
    /// that does not parse ends the read (the items after it are redone).
    pub fn resume(sink: &'a dyn Sink, prefix: &'static str) -> Result<Self, StageError> {
        let mut earlier = HashMap::new();
        let mut next_chunk = 0;
        while next_chunk < MAX_CHUNKS {
            let name = chunk_name(prefix, next_chunk);
            let Some(bytes) = sink.load_checkpoint(&name).map_err(StageError::Data)? else {
                break;
            };
            let Ok(records) = serde_json::from_slice::<Vec<(String, R)>>(&bytes) else {
                break;
            };
            earlier.extend(records);
            next_chunk += 1;
        }
        Ok(Journal {
            sink,
            prefix,
            earlier,
            state: Mutex::new(Pending {
                next_chunk,
                records: Vec::new(),
            }),
        })
    }

    /// The record an earlier attempt saved for `id`, if any.
    pub fn earlier(&self, id: &str) -> Option<&R> {
        self.earlier.get(id)
    }

    /// How many records earlier attempts saved.
    #[cfg(test)]
    pub fn earlier_len(&self) -> usize {
        self.earlier.len()
    }

    /// Notes a finished item (its output already emitted); saves a chunk
    /// every [`PER_CHUNK`] records.
    pub fn add(&self, id: &str, record: R) -> Result<(), StageError> {
        let mut state = self.state.lock().expect("journal lock");
        state.records.push((id.to_string(), record));
        if state.records.len() >= PER_CHUNK {
            self.save(&mut state)?;
        }
        Ok(())
    }

    /// Saves what is pending (call before returning, success or not).
    pub fn flush(&self) -> Result<(), StageError> {
        let mut state = self.state.lock().expect("journal lock");
        if state.records.is_empty() {
            return Ok(());
        }
        self.save(&mut state)
    }

    fn save(&self, state: &mut Pending<R>) -> Result<(), StageError> {
        let bytes = serde_json::to_vec(&state.records).expect("journal records serialise");
        // The sink records every output emitted so far before it writes the
        // checkpoint, so each saved record's output is on record too.
        self.sink
            .save_checkpoint(&chunk_name(self.prefix, state.next_chunk), bytes)
            .map_err(StageError::Data)?;
        state.next_chunk += 1;
        state.records.clear();
        Ok(())
    }
}

fn chunk_name(prefix: &str, index: usize) -> String {
    format!("{prefix}-{index:06}.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::test_sink::MemorySink;

    #[test]
    fn records_survive_in_chunks_and_resume() {
        let sink = MemorySink::default();
        {
            let journal = Journal::<(u32, f32)>::resume(&sink, "j").unwrap();
            assert_eq!(journal.earlier_len(), 0);
            for i in 0..150u32 {
                journal.add(&format!("t{i}"), (i, i as f32 / 3.0)).unwrap();
            }
            // Two full chunks saved; 22 records pending and lost (no flush).
        }
        let journal = Journal::<(u32, f32)>::resume(&sink, "j").unwrap();
        assert_eq!(journal.earlier_len(), 128);
        assert_eq!(journal.earlier("t5"), Some(&(5, 5.0 / 3.0)));
        assert_eq!(journal.earlier("t140"), None);
        journal.add("t140", (140, 1.0)).unwrap();
        journal.flush().unwrap();
        let again = Journal::<(u32, f32)>::resume(&sink, "j").unwrap();
        assert_eq!(again.earlier_len(), 129);
        assert_eq!(again.earlier("t140"), Some(&(140, 1.0)));
    }
}
