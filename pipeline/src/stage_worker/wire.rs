//! The frames between the engine and a stage worker on the worker's stdin
//! and stdout: a JSON head and a byte body, each length-prefixed.

use std::io::{self, Read, Write};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use serde::{Deserialize, Serialize};

/// What the engine sends first: the node to run, less its input bytes,
/// which the worker asks for as the stage reads them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub stage: String,
    pub node: String,
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Slot -> the upstream nodes' names, in order.
    pub inputs: Vec<(String, Vec<String>)>,
    /// Parameter -> the local file's bytes (each in its own body frame,
    /// in this order).
    pub files: Vec<String>,
    pub base_dir: std::path::PathBuf,
    pub local_roots: Vec<std::path::PathBuf>,
}

/// What the worker asks or tells the engine while the stage runs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Call {
    Has {
        slot: String,
        index: usize,
        file: String,
    },
    Table {
        slot: String,
        index: usize,
        file: String,
    },
    Bytes {
        slot: String,
        index: usize,
        file: String,
    },
    /// Body: the output, encoded as `kind` says.
    Emit {
        name: String,
        kind: Kind,
    },
    Emitted {
        name: String,
    },
    /// Body: the checkpoint.
    SaveCheckpoint {
        name: String,
    },
    LoadCheckpoint {
        name: String,
    },
    /// Answered with the item's record (body, JSON) or `Nothing`.
    ReuseItem {
        item: Vec<ItemPart>,
    },
    /// Body: the item's files, one after another, each `len` bytes.
    EmitItem {
        item: Vec<ItemPart>,
        record: serde_json::Value,
        files: Vec<ItemFile>,
    },
    SetTotal {
        total: u64,
    },
    Advance {
        items: u64,
    },
    Message {
        text: String,
    },
    /// One file of the stage's result (body: the output); `Done` follows.
    Output {
        name: String,
        kind: Kind,
    },
    Done {
        metadata: serde_json::Map<String, serde_json::Value>,
    },
    Failed {
        error: String,
    },
}

impl Call {
    /// Whether the engine answers this call with a [`Reply`].
    pub fn wants_reply(&self) -> bool {
        matches!(
            self,
            Call::Has { .. }
                | Call::Table { .. }
                | Call::Bytes { .. }
                | Call::Emit { .. }
                | Call::Emitted { .. }
                | Call::SaveCheckpoint { .. }
                | Call::LoadCheckpoint { .. }
                | Call::ReuseItem { .. }
                | Call::EmitItem { .. }
        )
    }
}

/// One [`stages::ItemSource`], owned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ItemPart {
    File { slot: String, file: String },
    Text { text: String },
}

impl ItemPart {
    pub fn from_sources(item: &[stages::ItemSource]) -> Vec<ItemPart> {
        item.iter()
            .map(|source| match *source {
                stages::ItemSource::File { slot, file } => ItemPart::File {
                    slot: slot.to_string(),
                    file: file.to_string(),
                },
                stages::ItemSource::Text(text) => ItemPart::Text {
                    text: text.to_string(),
                },
            })
            .collect()
    }

    pub fn as_sources(parts: &[ItemPart]) -> Vec<stages::ItemSource<'_>> {
        parts
            .iter()
            .map(|part| match part {
                ItemPart::File { slot, file } => stages::ItemSource::File { slot, file },
                ItemPart::Text { text } => stages::ItemSource::Text(text),
            })
            .collect()
    }
}

/// One file of an [`Call::EmitItem`]: its part of the body.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemFile {
    pub name: String,
    pub kind: Kind,
    pub len: usize,
}

/// The engine's answer to a call that wants one.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Done,
    Answer {
        yes: bool,
    },
    /// Body: the data asked for.
    Data,
    Nothing,
    Error {
        error: String,
    },
}

/// How an output's bytes are encoded in a body.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An Arrow IPC stream of one batch.
    Table,
    Json,
    Bytes,
}

/// Writes one frame: head length (u32 LE), head JSON, body length (u64
/// LE), body.
pub fn write_frame(out: &mut impl Write, head: &impl Serialize, body: &[u8]) -> io::Result<()> {
    let head = serde_json::to_vec(head).map_err(io::Error::other)?;
    let head_len = u32::try_from(head.len()).map_err(io::Error::other)?;
    out.write_all(&head_len.to_le_bytes())?;
    out.write_all(&head)?;
    out.write_all(&(body.len() as u64).to_le_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// Reads one frame; `None` at a clean end of the stream.
pub fn read_frame<T: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
) -> io::Result<Option<(T, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut head = vec![0u8; u32::from_le_bytes(len) as usize];
    input.read_exact(&mut head)?;
    let head = serde_json::from_slice(&head).map_err(io::Error::other)?;
    let mut len = [0u8; 8];
    input.read_exact(&mut len)?;
    let len = usize::try_from(u64::from_le_bytes(len)).map_err(io::Error::other)?;
    let mut body = Vec::new();
    input.take(len as u64).read_to_end(&mut body)?;
    if body.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some((head, body)))
}

/// A stage output as a body and its kind.
pub fn encode_output(output: &stages::Output) -> Result<(Kind, Vec<u8>), String> {
    Ok(match output {
        stages::Output::Table(batch) => (Kind::Table, table_to_ipc(batch)?),
        stages::Output::Json(value) => (
            Kind::Json,
            serde_json::to_vec(value).map_err(|e| e.to_string())?,
        ),
        stages::Output::Bytes(bytes) => (Kind::Bytes, bytes.clone()),
    })
}

/// The output a body of `kind` holds.
pub fn decode_output(kind: Kind, body: Vec<u8>) -> Result<stages::Output, String> {
    Ok(match kind {
        Kind::Table => stages::Output::Table(table_from_ipc(&body)?),
        Kind::Json => stages::Output::Json(
            serde_json::from_slice(&body).map_err(|e| format!("a JSON output: {e}"))?,
        ),
        Kind::Bytes => stages::Output::Bytes(body),
    })
}

pub fn table_to_ipc(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut writer =
        StreamWriter::try_new(&mut bytes, &batch.schema()).map_err(|e| e.to_string())?;
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    drop(writer);
    Ok(bytes)
}

pub fn table_from_ipc(bytes: &[u8]) -> Result<RecordBatch, String> {
    let reader = StreamReader::try_new(bytes, None).map_err(|e| e.to_string())?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow::compute::concat_batches(&schema, &batches).map_err(|e| e.to_string()),
    }
}
