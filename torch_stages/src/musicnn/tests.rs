//! The port against the original TensorFlow model
//! (tests/reference/musicnn/make_reference.py: musicnn 0.1.0's graph and
//! checkpoint in TF 2.21), and the stage end to end.
//!
//! They need the converted weights that scripts/setup.sh makes
//! (~/.cache/mdr/musicnn/MSD_vgg.safetensors): without them they skip with
//! a printed reason, or fail under `CI=true`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, BooleanArray, FixedSizeListArray, Float32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::json;

use super::*;
use stages::test_support::{params_with_defaults, MemoryFiles, NoProgress};

/// The weights, or None (skip) where they are not set up and CI is not
/// `true`. A file that is there but wrong always fails.
fn weights() -> Option<Vec<u8>> {
    let path = default_weights("MSD_vgg").expect("HOME is set");
    if !path.exists() {
        let why = format!(
            "{} not found: run scripts/setup.sh (it downloads musicnn 0.1.0 and converts \
             its MSD_vgg weights)",
            path.display()
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why}");
        }
        eprintln!("skipped: {why}");
        return None;
    }
    Some(read_weights("MSD_vgg", "", Path::new(".")).unwrap_or_else(|e| panic!("{e}")))
}

fn reference(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/reference/musicnn/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn floats(file: &str) -> Vec<f32> {
    reference(file)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_device(Device::Cpu).flatten(0, -1)).unwrap()
}

#[test]
fn musicnn_network_gives_tensorflows_pool5_and_tags() {
    crate::model::use_one_torch_thread();
    let Some(bytes) = weights() else { return };
    let (_vs, net) = net::load(&bytes, Device::Cpu).unwrap();
    // TF's own input: the reference log-mel's two patches (the second has
    // inf bins, where musicnn's float16 overflows).
    let mel = floats("logmel.f32");
    let want_pool5 = floats("pool5.f32");
    let want_tags = floats("taggram.f32");
    let count = want_pool5.len() / POOL5_DIM as usize;
    assert_eq!(count, 2);
    let patches = &mel[..count * PATCH_LEN];
    assert!(patches[PATCH_LEN..].iter().any(|x| x.is_infinite()));
    let (pool5, tags) = run_patches(&net, patches, count, Device::Cpu);
    let (pool5, tags) = (to_vec(&pool5), to_vec(&tags));
    let (d_pool5, d_tags) = (max_diff(&pool5, &want_pool5), max_diff(&tags, &want_tags));
    eprintln!("musicnn network vs TF: pool5 max |diff| {d_pool5:e}, tags {d_tags:e}");
    assert!(d_pool5 < 1e-4, "pool5 differs by {d_pool5}");
    assert!(d_tags < 1e-4, "tags differ by {d_tags}");
}

#[test]
fn musicnn_tf_relu_maps_nan_to_zero_and_keeps_inf() {
    let x = Tensor::from_slice(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1.0, 2.0]);
    assert_eq!(
        to_vec(&net::tf_relu(&x)),
        [0.0, f32::INFINITY, 0.0, 0.0, 2.0]
    );
}

#[test]
fn musicnn_refuses_weights_that_are_not_the_pinned_conversion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.safetensors"), b"not these").unwrap();
    let err = read_weights("MSD_vgg", "w.safetensors", dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has blake3") && err.contains(MSD_VGG_BLAKE3),
        "{err}"
    );
    let err = read_weights("MSD_vgg", "absent.safetensors", dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no such file") && err.contains("scripts/setup.sh"),
        "{err}"
    );
}

/// Mono 16-bit PCM WAV bytes.
fn wav(samples: &[f32], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    for v in [16u32, 1 | (1 << 16), rate, rate * 2, 2 | (16 << 16)] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes());
    }
    out
}

/// A sink that keeps item records, keyed by what determines the item.
#[derive(Default)]
struct ItemSink {
    records: Mutex<HashMap<String, Value>>,
}

impl ItemSink {
    fn key(item: &[ItemSource]) -> String {
        format!("{item:?}")
    }
}

impl Sink for ItemSink {
    fn emit(&self, name: &str, _: Output) -> Result<(), String> {
        Err(format!("unexpected output {name}"))
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
    fn reuse_item(&self, item: &[ItemSource]) -> Result<Option<Value>, String> {
        Ok(self.records.lock().unwrap().get(&Self::key(item)).cloned())
    }
    fn emit_item(
        &self,
        item: &[ItemSource],
        files: Vec<(String, Output)>,
        record: &Value,
    ) -> Result<(), String> {
        assert!(files.is_empty());
        self.records
            .lock()
            .unwrap()
            .insert(Self::key(item), record.clone());
        Ok(())
    }
}

fn run_stage(sink: &ItemSink) -> Outputs {
    let tone: Vec<f32> = (0..44_100).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    let mut files = MemoryFiles::default();
    files.tables.insert(
        "fetched".into(),
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "track_id",
                DataType::Utf8,
                false,
            )])),
            vec![Arc::new(StringArray::from(vec!["clip", "junk", "tone"]))],
        )
        .unwrap(),
    );
    files
        .bytes
        .insert("audio/clip".into(), reference("clip.flac"));
    files.bytes.insert("audio/junk".into(), b"junk".to_vec());
    files.bytes.insert("audio/tone".into(), wav(&tone, 44_100));
    let inputs = BTreeMap::from([("audio".to_string(), files.upstream("audio"))]);
    let params = params_with_defaults(&Musicnn, json!({}));
    let none = BTreeMap::new();
    let ctx = StageContext {
        node: "musicnn",
        params: &params,
        inputs: &inputs,
        files: &none,
        progress: &NoProgress,
        sink,
        base_dir: Path::new("."),
        local_roots: &[],
    };
    Musicnn.run(&ctx).unwrap_or_else(|e| panic!("{e}"))
}

fn table(outputs: &Outputs, name: &str) -> RecordBatch {
    match &outputs.files[name] {
        Output::Table(t) => t.clone(),
        _ => panic!("{name} is not a table"),
    }
}

fn column<'a, T: 'static>(t: &'a RecordBatch, name: &str) -> &'a T {
    t.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

#[test]
fn musicnn_stage_gives_512_d_vectors_fails_junk_and_reuses_tracks() {
    crate::model::use_one_torch_thread();
    if weights().is_none() {
        return;
    }
    let sink = ItemSink::default();
    let out = run_stage(&sink);
    let vectors = table(&out, "vectors");
    let ids = column::<StringArray>(&vectors, "track_id");
    assert_eq!(ids.iter().flatten().collect::<Vec<_>>(), ["clip", "tone"]);
    let list = column::<FixedSizeListArray>(&vectors, "vector");
    assert_eq!(list.value_length(), VECTOR_DIM as i32);
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap()
        .values()
        .to_vec();
    assert!(values.iter().all(|v| v.is_finite()));
    // evaluate's reader takes it as it takes extract's vectors.
    let features =
        crate::evaluate::features::read_features(&vectors, "features", "vectors").unwrap();
    assert_eq!((features.dim, features.ids.len()), (VECTOR_DIM, 2));

    // The clip's vector: [mean, std] of TF's pool5 over its two patches,
    // within 1e-4 too (measured 5.3e-6: the front end matched librosa but
    // for two float16 roundings).
    let pool5 = floats("pool5.f32");
    let (a, b) = pool5.split_at(POOL5_DIM as usize);
    let mean: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x + y) / 2.0).collect();
    let std: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x - y).abs() / 2.0).collect();
    let want = [mean, std].concat();
    let d = max_diff(&values[..VECTOR_DIM], &want);
    eprintln!("musicnn stage: clip vector vs TF's pool5 [mean, std], max |diff| {d:e}");
    assert!(d < 1e-4, "the clip's vector differs from TF's by {d}");

    let index = table(&out, "index");
    let padded = column::<BooleanArray>(&index, "repeat_padded");
    assert_eq!(
        (padded.value(0), padded.value(1)),
        (false, true),
        "1 s tone padded"
    );
    let patches = column::<arrow::array::UInt32Array>(&index, "patches");
    assert_eq!((patches.value(0), patches.value(1)), (2, 1));
    let infs = column::<arrow::array::UInt32Array>(&index, "inf_bins");
    assert!(infs.value(0) > 0, "the clip's loud part overflows float16");
    let failures = table(&out, "failures");
    assert_eq!(
        column::<StringArray>(&failures, "track_id").value(0),
        "junk"
    );
    let tags = table(&out, "tags");
    assert_eq!(
        column::<FixedSizeListArray>(&tags, "tags").value_length(),
        TAGS as i32
    );
    assert_eq!(out.metadata["reused"], 0);

    // A second node with the same parameters takes the kept records.
    let again = run_stage(&sink);
    assert_eq!(again.metadata["reused"], 2);
    assert_eq!(table(&again, "vectors"), vectors);
    assert_eq!(table(&again, "index"), index);
}
