//! `pipeline embed`: a representation of the study (a train node, the MFCC
//! baseline's mel node, the pre-trained musicnn node) applied to audio files
//! from outside it. It runs through the engine: the files become a track
//! manifest, and fetch -> mel -> extract nodes (the model's own front end
//! and aggregation) are appended to the model's pipeline, so every file's
//! result is cached per item like any node's, in the model's store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;

use crate::config::{InputRef, NodeTemplate};
use crate::error::{PipelineError, Result};
use crate::ops::committed;
use crate::plan::Plan;
use crate::{Config, Executor, Outcome, RunOptions, StoreChoice, Workspace};
use stages::Registry;

/// The nodes `embed` adds; `:` keeps them clear of a study's own names and
/// of its globs (`eval_*`).
const FILES: &str = "embed:files";
const AUDIO: &str = "embed:audio";
const MEL: &str = "embed:mel";
const VECTORS: &str = "embed:vectors";

/// What a directory given to `embed` contributes: files with these
/// extensions (any case), as `import_folders` takes them.
const AUDIO_EXTENSIONS: &[&str] = &["wav", "mp3", "ogg", "opus", "flac", "au", "aiff", "m4a"];

/// One `pipeline embed` call.
pub struct EmbedRequest {
    /// The node whose representation is applied.
    pub model: String,
    /// Audio files, and directories searched for audio files.
    pub inputs: Vec<PathBuf>,
    /// `.parquet` (path, vector) or `.npy` (with the paths beside it, one
    /// per line, in a `.txt` of the same name).
    pub out: PathBuf,
    /// Analyse only the first this many seconds (default: as the model's
    /// own mel node does).
    pub max_seconds: Option<f64>,
    pub jobs: Option<usize>,
}

/// What was embedded and what was not.
pub struct Embedded {
    pub vectors: usize,
    pub dims: usize,
    /// Each file with no vector, and why.
    pub failures: Vec<(PathBuf, String)>,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// The nodes this call computed (none when every file was cached).
    pub ran: Vec<String>,
}

/// Where a model's vectors come from once the embed nodes ran.
struct Source {
    node: &'static str,
    table: &'static str,
    column: &'static str,
    /// The node whose `failures` name the tracks its audio front end
    /// could not analyse.
    front_end: &'static str,
}

/// Embeds `request.inputs` with `request.model` of the pipeline `config`.
pub async fn embed(
    mut config: Config,
    registry: &Registry,
    choice: &StoreChoice,
    request: &EmbedRequest,
) -> Result<Embedded> {
    // Refused before anything is computed.
    output_kind(&request.out)?;
    let files = audio_files(&request.inputs)?;
    let ids: Vec<String> = files.iter().map(|f| track_id(f)).collect();
    let study = Plan::build(&config, registry)?;
    let manifest = write_manifest(&config, &files, &ids)?;
    for file in &files {
        if let Some(dir) = file.parent() {
            if !config.allow_paths.iter().any(|p| p == dir) {
                config.allow_paths.push(dir.to_path_buf());
            }
        }
    }
    let (nodes, source) = embed_nodes(&study, &request.model, &manifest, request.max_seconds)?;
    config.nodes.extend(nodes);
    let ws = Workspace::from_config(config, registry, choice)?;
    ws.probe().await?;
    // A model that is not in the store would be trained here: refuse.
    committed(&ws.plan, &ws.store, &request.model)
        .await
        .map_err(|e| {
            PipelineError::Usage(format!(
                "model `{}` is not in the store ({e}): run `pipeline run --only {}` first, \
                 or name the store that holds it with --store / --remote",
                request.model, request.model
            ))
        })?;
    let opts = RunOptions {
        jobs: ws.jobs(request.jobs),
        only: vec![source.node.to_string()],
        force: Vec::new(),
        progress: true,
        frozen: false,
        check: false,
        executor: Executor::Local,
    };
    let report = ws.run(&opts).await?;
    if let Some(failed) = report.failed().first() {
        return Err(PipelineError::Failed(format!(
            "node `{}` failed: {:?}",
            failed.node, failed.outcome
        )));
    }
    let ran = report
        .nodes
        .iter()
        .filter(|n| matches!(n.outcome, Outcome::Ran { .. }))
        .map(|n| n.node.clone())
        .collect();
    let vectors = read_table(&ws, source.node, source.table).await?;
    let by_id = vectors_by_id(&vectors, source.column, source.node)?;
    let mut reasons = BTreeMap::new();
    for node in [AUDIO, source.front_end] {
        let failures = read_table(&ws, node, "failures").await?;
        for (id, error) in column_pairs(&failures, "track_id", "error", node)? {
            reasons.entry(id).or_insert(error);
        }
    }
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (file, id) in files.iter().zip(&ids) {
        match by_id.get(id.as_str()) {
            Some(v) => rows.push((file.clone(), v.clone())),
            None => failures.push((
                file.clone(),
                reasons
                    .remove(id)
                    .unwrap_or_else(|| format!("no vector (see `pipeline show {}`)", source.node)),
            )),
        }
    }
    let dims = match vectors.column_by_name(source.column).map(|c| c.data_type()) {
        Some(DataType::FixedSizeList(_, d)) => *d as usize,
        _ => 0,
    };
    let written = write_vectors(&request.out, &rows, dims)?;
    Ok(Embedded {
        vectors: rows.len(),
        dims,
        failures,
        written,
        ran,
    })
}

/// The files named, and the audio files under the directories named
/// (sorted), each once, as absolute paths.
fn audio_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if inputs.is_empty() {
        return Err(PipelineError::Usage(
            "embed needs audio files or directories".into(),
        ));
    }
    let mut files = Vec::new();
    for input in inputs {
        let path = std::fs::canonicalize(input).map_err(|source| PipelineError::Read {
            path: input.display().to_string(),
            source,
        })?;
        if path.is_dir() {
            let mut found = Vec::new();
            walk(&path, &mut found)?;
            if found.is_empty() {
                return Err(PipelineError::Usage(format!(
                    "{}: no audio files ({}) in this directory",
                    input.display(),
                    AUDIO_EXTENSIONS.join(", ")
                )));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    Ok(files)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let read_err = |source| PipelineError::Read {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            found.push(std::fs::canonicalize(&path).unwrap_or(path));
        }
    }
    Ok(())
}

/// A file's track id: its name, made safe, and a hash of its whole path,
/// so that the same file keeps its id (and its cached results) from call
/// to call, and two `take1.wav` in different folders do not meet.
fn track_id(path: &Path) -> String {
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let hash = blake3::hash(path.as_os_str().as_encoded_bytes()).to_hex();
    format!("{}-{}", stem.trim_matches('.'), &hash[..12])
}

/// Writes the files' track manifest where `load_table` reads it: under
/// the pipeline's state directory, named by its content.
fn write_manifest(config: &Config, files: &[PathBuf], ids: &[String]) -> Result<String> {
    let mut csv = String::from("track_id,uri\n");
    for (file, id) in files.iter().zip(ids) {
        let uri = file.to_string_lossy().replace('"', "\"\"");
        csv.push_str(&format!("{id},\"{uri}\"\n"));
    }
    let hash = blake3::hash(csv.as_bytes()).to_hex();
    let rel = format!(".pipeline/embed/files-{}.csv", &hash[..16]);
    let path = config.base_dir.join(&rel);
    let write_err = |source| PipelineError::Read {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(path.parent().expect("under the state directory"))
        .map_err(write_err)?;
    std::fs::write(&path, csv).map_err(write_err)?;
    Ok(rel)
}

/// The nodes that embed the manifest with `model`, and where their vectors
/// are.
fn embed_nodes(
    study: &Plan,
    model: &str,
    manifest: &str,
    max_seconds: Option<f64>,
) -> Result<(Vec<NodeTemplate>, Source)> {
    let &i = study
        .by_name
        .get(model)
        .ok_or_else(|| PipelineError::Usage(format!("no node named `{model}` in the pipeline")))?;
    let node = &study.nodes[i];
    let upstream = |slot: &str| -> Result<&crate::plan::PlannedNode> {
        node.inputs
            .get(slot)
            .and_then(|u| u.first())
            .map(|&u| &study.nodes[u])
            .ok_or_else(|| PipelineError::Usage(format!("model `{model}` has no `{slot}` input")))
    };
    let mut nodes = vec![
        template(FILES, "load_table", [("path", manifest.into())], []),
        template(
            AUDIO,
            "fetch",
            [("max_failure_fraction", 1.into())],
            [("tracks", FILES)],
        ),
    ];
    let mel = |params: &serde_json::Map<String, Value>| {
        let mut params = params.clone();
        if let Some(s) = max_seconds {
            params.insert("max_seconds".into(), s.into());
        }
        template_with(MEL, "mel", params, [("audio", AUDIO)])
    };
    let source = match node.stage.name() {
        "train" => {
            let (trained_mel, scaler) = (upstream("mel")?, upstream("scaler")?);
            nodes.push(mel(&trained_mel.params));
            nodes.push(template(
                VECTORS,
                "extract",
                [],
                [
                    ("model", model),
                    ("mel", MEL),
                    ("scaler", scaler.name.as_str()),
                    ("dataset", FILES),
                ],
            ));
            Source {
                node: VECTORS,
                table: "vectors",
                column: "vector",
                front_end: MEL,
            }
        }
        "mel" => {
            nodes.push(mel(&node.params));
            Source {
                node: MEL,
                table: "mfcc",
                column: "mfcc",
                front_end: MEL,
            }
        }
        "musicnn" => {
            let mut params = node.params.clone();
            if let Some(s) = max_seconds {
                params.insert("max_seconds".into(), s.into());
            }
            nodes.push(template_with(
                VECTORS,
                "musicnn",
                params,
                [("audio", AUDIO)],
            ));
            Source {
                node: VECTORS,
                table: "vectors",
                column: "vector",
                front_end: VECTORS,
            }
        }
        other => {
            return Err(PipelineError::Usage(format!(
                "node `{model}` (stage {other}) is not a representation: embed takes a train \
                 node (any strategy, Rand), a mel node (the MFCC baseline) or a musicnn node"
            )))
        }
    };
    Ok((nodes, source))
}

fn template<const P: usize, const I: usize>(
    name: &str,
    stage: &str,
    params: [(&str, Value); P],
    inputs: [(&str, &str); I],
) -> NodeTemplate {
    let params = params
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    template_with(name, stage, params, inputs)
}

fn template_with<const I: usize>(
    name: &str,
    stage: &str,
    params: serde_json::Map<String, Value>,
    inputs: [(&str, &str); I],
) -> NodeTemplate {
    NodeTemplate {
        name: name.to_string(),
        stage: stage.to_string(),
        params: params
            .into_iter()
            .map(|(k, v)| {
                let v = serde_yaml::to_value(v).expect("JSON values are YAML values");
                (serde_yaml::Value::String(k), v)
            })
            .collect(),
        inputs: inputs
            .into_iter()
            .map(|(slot, up)| (slot.to_string(), InputRef::One(up.to_string())))
            .collect(),
        foreach: BTreeMap::new(),
        foreach_rows: None,
    }
}

async fn read_table(ws: &Workspace, node: &str, file: &str) -> Result<RecordBatch> {
    let manifest = committed(&ws.plan, &ws.store, node).await?;
    let entry = manifest
        .files
        .get(file)
        .ok_or_else(|| PipelineError::Failed(format!("node `{node}` has no output `{file}`")))?;
    let artifact = |source| PipelineError::artifact(node, file, source);
    let bytes = ws.store.get_blob(entry).await.map_err(artifact)?;
    storage::table::from_parquet(file, bytes).map_err(artifact)
}

fn strings<'a>(batch: &'a RecordBatch, column: &str, node: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| PipelineError::Failed(format!("node `{node}`: no text column `{column}`")))
}

fn column_pairs(
    batch: &RecordBatch,
    a: &str,
    b: &str,
    node: &str,
) -> Result<Vec<(String, String)>> {
    let (a, b) = (strings(batch, a, node)?, strings(batch, b, node)?);
    Ok((0..batch.num_rows())
        .map(|r| (a.value(r).to_string(), b.value(r).to_string()))
        .collect())
}

/// Track id -> vector, from a table of track_id and a FixedSizeList<Float32>.
fn vectors_by_id<'a>(
    batch: &'a RecordBatch,
    column: &str,
    node: &str,
) -> Result<BTreeMap<&'a str, Vec<f32>>> {
    let ids = strings(batch, "track_id", node)?;
    let list = batch
        .column_by_name(column)
        .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
        .ok_or_else(|| {
            PipelineError::Failed(format!("node `{node}`: no vector column `{column}`"))
        })?;
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or_else(|| {
            PipelineError::Failed(format!("node `{node}`: `{column}` is not Float32"))
        })?;
    let d = list.value_length() as usize;
    Ok((0..batch.num_rows())
        .map(|r| (ids.value(r), values.values()[r * d..(r + 1) * d].to_vec()))
        .collect())
}

/// Writes the vectors as `.parquet` (path, vector) or `.npy` (float32,
/// one row per file) with the paths in a `.txt` beside it.
fn write_vectors(out: &Path, rows: &[(PathBuf, Vec<f32>)], dims: usize) -> Result<Vec<PathBuf>> {
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| PipelineError::Read { path, source }
    };
    let paths = || rows.iter().map(|(p, _)| p.to_string_lossy().into_owned());
    let values: Vec<f32> = rows.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    match output_kind(out)? {
        "parquet" => {
            let item = Arc::new(Field::new("item", DataType::Float32, false));
            let vector: ArrayRef = Arc::new(
                FixedSizeListArray::try_new(
                    item.clone(),
                    dims as i32,
                    Arc::new(Float32Array::from(values)),
                    None,
                )
                .map_err(|e| PipelineError::Failed(format!("vectors: {e}")))?,
            );
            let schema = Schema::new(vec![
                Field::new("path", DataType::Utf8, false),
                Field::new("vector", DataType::FixedSizeList(item, dims as i32), false),
            ]);
            let batch = RecordBatch::try_new(
                Arc::new(schema),
                vec![Arc::new(StringArray::from_iter_values(paths())), vector],
            )
            .map_err(|e| PipelineError::Failed(format!("vectors: {e}")))?;
            let bytes = storage::table::to_parquet("vectors", &batch)
                .map_err(|e| PipelineError::Failed(format!("vectors: {e}")))?;
            std::fs::write(out, bytes).map_err(write_err(out))?;
            Ok(vec![out.to_path_buf()])
        }
        _ => {
            std::fs::write(out, npy(&values, rows.len(), dims)).map_err(write_err(out))?;
            let listing = out.with_extension("txt");
            let text: String = paths().map(|p| p + "\n").collect();
            std::fs::write(&listing, text).map_err(write_err(&listing))?;
            Ok(vec![out.to_path_buf(), listing])
        }
    }
}

/// `parquet` or `npy`, from the output's extension.
fn output_kind(out: &Path) -> Result<&'static str> {
    match out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => Ok("parquet"),
        Some("npy") => Ok("npy"),
        _ => Err(PipelineError::Usage(format!(
            "{}: the output must end in .parquet or .npy",
            out.display()
        ))),
    }
}

/// A NumPy 1.0 `.npy` file of little-endian float32, shape (rows, dims).
fn npy(values: &[f32], rows: usize, dims: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dims}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n', to 64 bytes.
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_describes_the_array() {
        let bytes = npy(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
        assert!(header.contains("'shape': (2, 3)"), "{header}");
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + len + 6 * 4);
        assert_eq!(&bytes[10 + len..10 + len + 4], &1.0f32.to_le_bytes());
    }

    #[test]
    fn track_ids_are_safe_stable_and_tell_folders_apart() {
        let a = track_id(Path::new("/music/a/take 1 (live).wav"));
        let b = track_id(Path::new("/music/b/take 1 (live).wav"));
        assert_ne!(a, b);
        assert_eq!(a, track_id(Path::new("/music/a/take 1 (live).wav")));
        assert!(a.starts_with("take_1__live_-"), "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    }
}
