//! The worker's side: runs the one stage the engine sends, with a context
//! whose inputs, sink and progress are calls back to the engine.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use stages::{ItemSource, Output, Params, Registry, StageContext, Upstream, UpstreamFiles};

use super::wire::{self, Call, ItemFile, ItemPart, Reply, Request};

/// The worker's stdin and stdout, one call (and its reply) at a time.
struct Engine {
    pipes: Mutex<(io::BufReader<io::Stdin>, io::BufWriter<io::Stdout>)>,
}

impl Engine {
    /// Makes a call; a call that wants a reply returns its body, or
    /// `None` for [`Reply::Nothing`].
    fn call(&self, call: &Call, body: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let mut pipes = self.pipes.lock().expect("pipes lock");
        let (input, output) = &mut *pipes;
        wire::write_frame(output, call, body).map_err(lost)?;
        if !call.wants_reply() {
            return Ok(None);
        }
        match wire::read_frame::<Reply>(input).map_err(lost)? {
            Some((Reply::Data, body)) => Ok(Some(body)),
            Some((Reply::Done, _)) | Some((Reply::Nothing, _)) => Ok(None),
            Some((Reply::Answer { yes }, _)) => Ok(Some(vec![u8::from(yes)])),
            Some((Reply::Error { error }, _)) => Err(error),
            None => Err(lost(io::ErrorKind::UnexpectedEof.into())),
        }
    }

    fn ask(&self, call: &Call) -> Result<bool, String> {
        Ok(self.call(call, &[])?.is_some_and(|b| b == [1]))
    }

    /// Tells without waiting; a lost engine ends the worker at its next
    /// call that waits.
    fn tell(&self, call: &Call) {
        let _ = self.call(call, &[]);
    }
}

fn lost(e: io::Error) -> String {
    format!("the engine went away: {e}")
}

struct RemoteFiles {
    engine: Arc<Engine>,
    slot: String,
    index: usize,
}

impl RemoteFiles {
    fn file_call(&self, file: &str, make: fn(String, usize, String) -> Call) -> Call {
        make(self.slot.clone(), self.index, file.to_string())
    }
}

impl UpstreamFiles for RemoteFiles {
    fn has(&self, file: &str) -> bool {
        let call = self.file_call(file, |slot, index, file| Call::Has { slot, index, file });
        self.engine.ask(&call).unwrap_or(false)
    }
    fn table(&self, file: &str) -> Result<RecordBatch, String> {
        let call = self.file_call(file, |slot, index, file| Call::Table { slot, index, file });
        wire::table_from_ipc(&self.engine.call(&call, &[])?.unwrap_or_default())
    }
    fn bytes(&self, file: &str) -> Result<Vec<u8>, String> {
        let call = self.file_call(file, |slot, index, file| Call::Bytes { slot, index, file });
        Ok(self.engine.call(&call, &[])?.unwrap_or_default())
    }
}

struct RemoteSink(Arc<Engine>);

impl stages::Sink for RemoteSink {
    fn emit(&self, name: &str, output: Output) -> Result<(), String> {
        let (kind, body) = wire::encode_output(&output)?;
        let call = Call::Emit {
            name: name.to_string(),
            kind,
        };
        self.0.call(&call, &body).map(drop)
    }
    fn has(&self, name: &str) -> bool {
        let call = Call::Emitted {
            name: name.to_string(),
        };
        self.0.ask(&call).unwrap_or(false)
    }
    fn save_checkpoint(&self, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        let call = Call::SaveCheckpoint {
            name: name.to_string(),
        };
        self.0.call(&call, &bytes).map(drop)
    }
    fn load_checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let call = Call::LoadCheckpoint {
            name: name.to_string(),
        };
        self.0.call(&call, &[])
    }
    fn reuse_item(&self, item: &[ItemSource]) -> Result<Option<serde_json::Value>, String> {
        let call = Call::ReuseItem {
            item: ItemPart::from_sources(item),
        };
        self.0
            .call(&call, &[])?
            .map(|body| serde_json::from_slice(&body).map_err(|e| format!("an item record: {e}")))
            .transpose()
    }
    fn emit_item(
        &self,
        item: &[ItemSource],
        files: Vec<(String, Output)>,
        record: &serde_json::Value,
    ) -> Result<(), String> {
        let mut body = Vec::new();
        let mut listed = Vec::new();
        for (name, output) in files {
            let (kind, bytes) = wire::encode_output(&output)?;
            listed.push(ItemFile {
                name,
                kind,
                len: bytes.len(),
            });
            body.extend(bytes);
        }
        let call = Call::EmitItem {
            item: ItemPart::from_sources(item),
            record: record.clone(),
            files: listed,
        };
        self.0.call(&call, &body).map(drop)
    }
}

struct RemoteProgress(Arc<Engine>);

impl stages::Progress for RemoteProgress {
    fn set_total(&self, total: u64) {
        self.0.tell(&Call::SetTotal { total });
    }
    fn advance(&self, items: u64) {
        self.0.tell(&Call::Advance { items });
    }
    fn message(&self, text: &str) {
        self.0.tell(&Call::Message {
            text: text.to_string(),
        });
    }
}

/// Serves one node on stdin/stdout: reads the request, runs the stage,
/// sends its result. An error here is the pipe's; the stage's own error
/// goes to the engine as [`Call::Failed`].
pub fn serve(registry: &Registry) -> Result<(), String> {
    let mut input = io::BufReader::new(io::stdin());
    let (request, _) = wire::read_frame::<Request>(&mut input)
        .map_err(lost)?
        .ok_or("no request on stdin")?;
    let mut files = BTreeMap::new();
    for param in &request.files {
        let (_, bytes) = wire::read_frame::<Reply>(&mut input)
            .map_err(lost)?
            .ok_or("the request's files are cut short")?;
        files.insert(param.clone(), bytes);
    }
    let engine = Arc::new(Engine {
        pipes: Mutex::new((input, io::BufWriter::new(io::stdout()))),
    });
    let result = match registry.find(&request.stage) {
        None => Err(format!("this worker has no stage `{}`", request.stage)),
        Some(stage) => {
            let inputs: BTreeMap<String, Vec<Upstream>> = request
                .inputs
                .iter()
                .map(|(slot, nodes)| {
                    let ups = nodes
                        .iter()
                        .enumerate()
                        .map(|(index, node)| Upstream {
                            node: node.clone(),
                            files: Arc::new(RemoteFiles {
                                engine: engine.clone(),
                                slot: slot.clone(),
                                index,
                            }),
                        })
                        .collect();
                    (slot.clone(), ups)
                })
                .collect();
            let params = Params(request.params.clone());
            let sink = RemoteSink(engine.clone());
            let progress = RemoteProgress(engine.clone());
            let ctx = StageContext {
                node: &request.node,
                params: &params,
                inputs: &inputs,
                files: &files,
                progress: &progress,
                sink: &sink,
                base_dir: &request.base_dir,
                local_roots: &request.local_roots,
            };
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stage.run(&ctx))) {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(panic) => Err(format!("panicked: {}", panic_text(&panic))),
            }
        }
    };
    match result {
        Ok(outputs) => {
            for (name, output) in &outputs.files {
                let (kind, body) = wire::encode_output(output)?;
                let call = Call::Output {
                    name: name.clone(),
                    kind,
                };
                engine.call(&call, &body)?;
            }
            engine.call(
                &Call::Done {
                    metadata: outputs.metadata,
                },
                &[],
            )?;
        }
        Err(error) => {
            engine.call(&Call::Failed { error }, &[])?;
        }
    }
    Ok(())
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
