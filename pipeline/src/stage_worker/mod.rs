//! Stages that need libtorch run in a worker process (`pipeline-worker`),
//! so that the engine's binary does not link libtorch and its commands
//! start at once. The engine's side of a worker stage is [`InWorker`]: to
//! the scheduler it is the stage itself (same name, version, parameters and
//! inputs); its `run` starts the worker and answers what the stage asks of
//! its context, over the worker's stdin and stdout ([`wire`]).

mod serve;
pub mod wire;

use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use stages::{
    Declaration, InputSpec, OutputSpec, Outputs, ParamSpec, Registry, Stage, StageContext,
    StageError,
};

pub use serve::serve;
use wire::{Call, ItemPart, Reply, Request};

/// The name of the worker binary, installed beside `pipeline`.
pub const WORKER_BIN: &str = "pipeline-worker";

/// The stages as the engine runs them: libtorch's in a worker process.
pub fn engine_registry() -> Registry {
    let mut registry = Registry::standard();
    for declaration in stages::declarations::IN_WORKER {
        registry.insert(Arc::new(InWorker(declaration)));
    }
    registry
}

/// Where the worker is: `PIPELINE_WORKER`, else beside this executable.
fn worker_path() -> Result<PathBuf, StageError> {
    if let Some(path) = std::env::var_os("PIPELINE_WORKER") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|e| StageError::Data(format!("cannot find this executable: {e}")))?;
    Ok(exe.with_file_name(WORKER_BIN))
}

/// A stage whose `run` happens in the worker; here only its declaration.
pub struct InWorker(pub Declaration);

impl Stage for InWorker {
    fn name(&self) -> &'static str {
        self.0.name
    }
    fn version(&self) -> u32 {
        self.0.version
    }
    fn doc(&self) -> &'static str {
        self.0.doc
    }
    fn params(&self) -> &'static [ParamSpec] {
        self.0.params
    }
    fn inputs(&self) -> &'static [InputSpec] {
        self.0.inputs
    }
    fn optional_inputs(&self) -> &'static [&'static str] {
        self.0.optional_inputs
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        self.0.outputs
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let path = worker_path()?;
        let mut child = spawn(&path).map_err(|e| {
            StageError::Data(format!(
                "cannot start the stage worker {} (it is built and installed with \
                 `pipeline`; PIPELINE_WORKER names another): {e}",
                path.display()
            ))
        })?;
        let answered = answer(self.0.name, ctx, &mut child);
        if answered.is_err() {
            // A worker that is not done when we give up is stopped.
            let _ = child.kill();
        }
        let status = child.wait();
        match (answered, status) {
            (Ok(Some(outputs)), _) => Ok(outputs),
            (Ok(None), Ok(status)) => Err(StageError::Data(format!(
                "the stage worker ended ({status}) before the stage finished; \
                 its error output is above"
            ))),
            (Ok(None), Err(e)) => Err(StageError::Data(format!("the stage worker: {e}"))),
            (Err(e), _) => Err(e),
        }
    }
}

/// Starts the worker; it dies with the thread that started it, so that a
/// killed run leaves no training behind.
fn spawn(path: &std::path::Path) -> std::io::Result<Child> {
    let mut command = Command::new(path);
    command
        .arg("serve-stage")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    command.spawn()
}

/// Sends the node and answers the worker's calls until it reports the
/// stage's result (`Some`) or its stream ends early (`None`).
fn answer(
    stage: &str,
    ctx: &StageContext,
    child: &mut Child,
) -> Result<Option<Outputs>, StageError> {
    let io_error = |e: std::io::Error| StageError::Data(format!("the stage worker's pipe: {e}"));
    let mut to = BufWriter::new(child.stdin.take().expect("piped stdin"));
    let mut from = BufReader::new(child.stdout.take().expect("piped stdout"));
    let request = Request {
        stage: stage.to_string(),
        node: ctx.node.to_string(),
        params: ctx.params.0.clone(),
        inputs: ctx
            .inputs
            .iter()
            .map(|(slot, ups)| (slot.clone(), ups.iter().map(|u| u.node.clone()).collect()))
            .collect(),
        files: ctx.files.keys().cloned().collect(),
        base_dir: ctx.base_dir.to_path_buf(),
        local_roots: ctx.local_roots.to_vec(),
    };
    wire::write_frame(&mut to, &request, &[]).map_err(io_error)?;
    for bytes in ctx.files.values() {
        wire::write_frame(&mut to, &Reply::Data, bytes).map_err(io_error)?;
    }
    let mut outputs = Outputs::default();
    while let Some((call, body)) = wire::read_frame::<Call>(&mut from).map_err(io_error)? {
        let wants_reply = call.wants_reply();
        let reply = match call {
            Call::Done { metadata } => {
                outputs.metadata = metadata;
                return Ok(Some(outputs));
            }
            Call::Failed { error } => return Err(StageError::Data(error)),
            Call::Output { name, kind } => {
                let output = wire::decode_output(kind, body).map_err(StageError::Data)?;
                outputs.files.insert(name, output);
                continue;
            }
            call => serve_call(ctx, call, body),
        };
        if wants_reply {
            let (head, body) = match reply {
                Ok((head, body)) => (head, body),
                Err(error) => (Reply::Error { error }, Vec::new()),
            };
            wire::write_frame(&mut to, &head, &body).map_err(io_error)?;
        }
    }
    Ok(None)
}

/// Does what one call asks of the context.
fn serve_call(ctx: &StageContext, call: Call, body: Vec<u8>) -> Result<(Reply, Vec<u8>), String> {
    let upstream = |slot: &str, index: usize| {
        ctx.inputs
            .get(slot)
            .and_then(|ups| ups.get(index))
            .ok_or_else(|| format!("no upstream {index} in slot `{slot}`"))
    };
    let done = Ok((Reply::Done, Vec::new()));
    match call {
        Call::Has { slot, index, file } => Ok((
            Reply::Answer {
                yes: upstream(&slot, index)?.files.has(&file),
            },
            Vec::new(),
        )),
        Call::Table { slot, index, file } => {
            let batch = upstream(&slot, index)?.files.table(&file)?;
            Ok((Reply::Data, wire::table_to_ipc(&batch)?))
        }
        Call::Bytes { slot, index, file } => {
            Ok((Reply::Data, upstream(&slot, index)?.files.bytes(&file)?))
        }
        Call::Emit { name, kind } => {
            ctx.sink.emit(&name, wire::decode_output(kind, body)?)?;
            done
        }
        Call::Emitted { name } => Ok((
            Reply::Answer {
                yes: ctx.sink.has(&name),
            },
            Vec::new(),
        )),
        Call::SaveCheckpoint { name } => {
            ctx.sink.save_checkpoint(&name, body)?;
            done
        }
        Call::LoadCheckpoint { name } => Ok(match ctx.sink.load_checkpoint(&name)? {
            Some(bytes) => (Reply::Data, bytes),
            None => (Reply::Nothing, Vec::new()),
        }),
        Call::ReuseItem { item } => {
            Ok(match ctx.sink.reuse_item(&ItemPart::as_sources(&item))? {
                Some(record) => (
                    Reply::Data,
                    serde_json::to_vec(&record).expect("JSON values serialise"),
                ),
                None => (Reply::Nothing, Vec::new()),
            })
        }
        Call::EmitItem {
            item,
            record,
            files,
        } => {
            let mut outputs = Vec::new();
            let mut rest = body.as_slice();
            for file in files {
                if file.len > rest.len() {
                    return Err(format!("item file `{}` is cut short", file.name));
                }
                let (bytes, after) = rest.split_at(file.len);
                outputs.push((file.name, wire::decode_output(file.kind, bytes.to_vec())?));
                rest = after;
            }
            ctx.sink
                .emit_item(&ItemPart::as_sources(&item), outputs, &record)?;
            done
        }
        Call::SetTotal { total } => {
            ctx.progress.set_total(total);
            done
        }
        Call::Advance { items } => {
            ctx.progress.advance(items);
            done
        }
        Call::Message { text } => {
            ctx.progress.message(&text);
            done
        }
        Call::Output { .. } | Call::Done { .. } | Call::Failed { .. } => {
            unreachable!("handled by the caller")
        }
    }
}
