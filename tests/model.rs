//! Training and extraction through the real binary on the tiny bundled
//! corpus: losses fall, Rand is the untrained network, vectors have the
//! strategy's width, and a training node killed mid-way resumes from its
//! checkpoint to the weights of an uninterrupted run, whatever thread count
//! the environment asks libtorch for.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::fetch::{manifest_of, output_table, strings};
use crate::support::*;

/// The tiny corpus and its front end, then `extra` nodes.
pub fn pipeline(extra: &str) -> String {
    format!(
        r#"
jobs: 1
nodes:
  - name: tracks
    stage: synth_audio
    params: {{preset: tiny, seed: 3}}
  - name: audio
    stage: fetch
    inputs: {{tracks: tracks, files: tracks}}
  - name: labels_{{table}}
    stage: synth_table
    foreach: {{table: [tag, artist, ballroom]}}
    params: {{preset: tiny, seed: 3, table: "{{table}}"}}
  - name: mel
    stage: mel
    inputs: {{audio: audio}}
  - name: scaler
    stage: scaler
    inputs: {{mel: mel, tracks: labels_artist}}
  - name: z_tag
    stage: factorize
    params: {{source: tag, iterations: 30}}
    inputs: {{labels: labels_tag}}
{extra}"#
    )
}

const MODELS: &str = r#"
  - name: train_tag
    stage: train
    params: {strategy: SS-R, sources: [tag], epochs: 6, batch: 16, lr: 0.002}
    inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}
  - name: train_multi
    stage: train
    params: {strategy: MS-CR@2, sources: [self, tag], epochs: 6, batch: 16, lr: 0.003}
    inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}
  - name: rand_multi
    stage: train
    params: {strategy: MS-CR@2, sources: [self, tag], epochs: 0}
    inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}
  - name: vectors_{model}
    stage: extract
    foreach: {model: [train_tag, train_multi, rand_multi]}
    inputs: {model: "{model}", mel: mel, scaler: scaler, dataset: labels_ballroom}
"#;

fn metadata(p: &Project, report: &Value, node: &str) -> Value {
    let key = key_of(report, node);
    let text = std::fs::read_to_string(p.store_dir().join("manifests").join(format!("{key}.json")))
        .unwrap();
    let sealed: Value = serde_json::from_str(&text).unwrap();
    sealed["manifest"]["metadata"].clone()
}

#[test]
fn training_lowers_every_loss_and_extraction_has_the_strategy_width() {
    let p = Project::new(&Backend::Local, "model");
    p.write("pipeline.yaml", &pipeline(MODELS));
    let run = p.run(&["run", "--json"]).ok();
    let report = run.json();
    for node in ["train_tag", "train_multi"] {
        let meta = metadata(&p, &report, node);
        for (source, loss) in meta["loss"].as_object().unwrap() {
            let (first, last) = (
                loss["first"].as_f64().unwrap(),
                loss["last"].as_f64().unwrap(),
            );
            // The Siamese task learns slowly from few iterations (its loss
            // starts near ln 2); the label sources fall fast.
            let bar = if source == "self" { 0.95 } else { 0.8 };
            assert!(
                last < bar * first,
                "{node} {source}: loss {first} -> {last}"
            );
        }
    }
    assert_eq!(metadata(&p, &report, "train_tag")["parameters"], 576_482);
    assert_eq!(metadata(&p, &report, "rand_multi")["iterations"], 0);
    // SS-R: 256-d representation, MS-CR@2 on 2 sources: 512; [mean, std].
    for (node, dim) in [
        ("vectors_train_tag", 512),
        ("vectors_train_multi", 1024),
        ("vectors_rand_multi", 1024),
    ] {
        let meta = metadata(&p, &report, node);
        assert_eq!(meta["dim"], dim, "{node}");
        assert_eq!(meta["tracks"], 32, "{node}: every ballroom track");
        assert_eq!(meta["missing"], 0);
    }
    assert!(p.run(&["run", "--json"]).ok().nodes("ran").is_empty());

    // The weights export as what they are: safetensors.
    let out = p.path("model");
    p.run(&[
        "export",
        "train_tag",
        out.to_str().unwrap(),
        "weights",
        "config",
    ])
    .ok();
    let stored = std::fs::read(p.blob_of(&key_of(&report, "train_tag"), "weights")).unwrap();
    assert_eq!(
        std::fs::read(out.join("weights.safetensors")).unwrap(),
        stored
    );
    assert_eq!(files_under(&out).len(), 2);
    assert!(out.join("config.json").is_file());
}

const ONE_MODEL: &str = r#"
  - name: train_tag
    stage: train
    params: {strategy: SS-R, sources: [tag], epochs: 3, batch: 16}
    inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}
"#;

fn checkpoint_written(store: &Path) -> bool {
    let Ok(keys) = std::fs::read_dir(store.join("checkpoints")) else {
        return false;
    };
    keys.filter_map(Result::ok)
        .any(|k| k.path().join("training.safetensors").exists())
}

#[test]
fn a_killed_training_resumes_to_the_uninterrupted_weights() {
    // libtorch's sums depend on its thread count: the binary fixes it, so
    // neither the machine's cores nor OpenMP's variable change the weights.
    let threads = |p: &Project, n: &str, args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("OMP_NUM_THREADS", n);
        cmd
    };
    let whole = Project::new(&Backend::Local, "train-whole");
    whole.write("pipeline.yaml", &pipeline(ONE_MODEL));
    let ran: Ran = threads(&whole, "1", &["run", "--json"])
        .output()
        .unwrap()
        .into();
    let report = ran.ok().json();
    let want = whole.blob_of(&key_of(&report, "train_tag"), "weights");

    let killed = Project::new(&Backend::Local, "train-killed");
    killed.write("pipeline.yaml", &pipeline(ONE_MODEL));
    let mut child = threads(&killed, "2", &["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reached = wait_until(Duration::from_secs(600), || {
        checkpoint_written(&killed.store_dir())
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(reached, "no checkpoint was ever written");

    let rerun: Ran = threads(&killed, "2", &["run", "--json"])
        .output()
        .unwrap()
        .into();
    let rerun = rerun.ok();
    assert!(rerun.nodes("ran").contains("train_tag"));
    let report = rerun.json();
    let resumed_at = metadata(&killed, &report, "train_tag")["resumed_at_epoch"]
        .as_u64()
        .unwrap();
    assert!(
        resumed_at >= 1,
        "the re-run started over instead of resuming"
    );
    let got = killed.blob_of(&key_of(&report, "train_tag"), "weights");
    assert_eq!(
        got.file_name(),
        want.file_name(),
        "same weights (blake3) as the uninterrupted run"
    );
    assert!(
        !checkpoint_written(&killed.store_dir()),
        "checkpoints are dropped at commit"
    );
}

/// `pipeline` links no libtorch, so commands that train nothing start at
/// once; the training stages run in `pipeline-worker` beside it, and a
/// worker that cannot start fails only their nodes, with an error that
/// names it.
#[test]
fn the_engine_binary_leaves_libtorch_to_its_worker() {
    let binary = std::fs::read(BIN).unwrap();
    assert!(
        !binary.windows(15).any(|w| w == b"libtorch_cpu.so"),
        "{BIN} links libtorch"
    );
    let p = Project::new(&Backend::Local, "no-worker");
    p.write("pipeline.yaml", &pipeline(ONE_MODEL));
    let missing = p.path("no-such-worker");
    let out: Ran = p
        .command(&["run", "--json"])
        .env("PIPELINE_WORKER", &missing)
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.nodes("failed"), set(&["train_tag"]));
    assert!(out.nodes("ran").contains("z_tag"));
    assert!(
        out.stderr.contains("cannot start the stage worker")
            && out.stderr.contains(missing.to_str().unwrap()),
        "{}",
        out.stderr
    );
    // With its worker, the same run trains and reuses the rest.
    let again = p.run(&["run", "--json"]).ok();
    assert_eq!(again.nodes("ran"), set(&["train_tag"]));
}

/// An untrained network and the vectors of a dataset given as a CSV of ids.
const SUBSET_VECTORS: &str = r#"
  - name: rand_tag
    stage: train
    params: {strategy: SS-R, sources: [tag], epochs: 0}
    inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}
  - name: subset
    stage: load_table
    params: {path: subset.csv}
  - name: vectors
    stage: extract
    inputs: {model: rand_tag, mel: mel, scaler: scaler, dataset: subset}
"#;

/// The first `n` tracks, as a track manifest.
fn subset(ids: &[String], uris: &[String], n: usize) -> String {
    let mut csv = String::from("track_id,uri\n");
    for (id, uri) in ids.iter().zip(uris).take(n) {
        csv.push_str(&format!("{id},{uri}\n"));
    }
    csv
}

/// A target dataset that gains tracks extracts only the new ones (per-item
/// reuse, issue 17), and its table has the bytes of a run from scratch.
#[test]
fn a_dataset_that_gains_five_tracks_extracts_five() {
    let p = Project::new(&Backend::Local, "extract-items");
    p.write("pipeline.yaml", &pipeline(SUBSET_VECTORS));
    p.write("subset.csv", "track_id,uri\n");
    let labels = p.run(&["run", "--only", "labels_ballroom", "--json"]).ok();
    let ballroom = output_table(&p, &labels, "labels_ballroom", "table");
    let (ids, uris) = (strings(&ballroom, "track_id"), strings(&ballroom, "uri"));
    assert!(ids.len() >= 25, "{} ballroom tracks", ids.len());

    p.write("subset.csv", &subset(&ids, &uris, 20));
    let first = p.run(&["run", "--json"]).ok();
    let meta = metadata(&p, &first.json(), "vectors");
    assert_eq!(
        (meta["tracks"].as_u64(), meta["reused"].as_u64()),
        (Some(20), Some(0))
    );

    p.write("subset.csv", &subset(&ids, &uris, 25));
    let more = p.run(&["run", "--json"]).ok();
    assert_eq!(more.nodes("ran"), set(&["subset", "vectors"]));
    let meta = metadata(&p, &more.json(), "vectors");
    assert_eq!(
        (meta["tracks"].as_u64(), meta["reused"].as_u64()),
        (Some(25), Some(20))
    );

    let q = Project::new(&Backend::Local, "extract-items-fresh");
    q.write("pipeline.yaml", &pipeline(SUBSET_VECTORS));
    q.write("subset.csv", &subset(&ids, &uris, 25));
    let fresh = q.run(&["run", "--json"]).ok();
    assert_eq!(metadata(&q, &fresh.json(), "vectors")["reused"], 0);
    assert_eq!(
        manifest_of(&p, &more, "vectors")["files"],
        manifest_of(&q, &fresh, "vectors")["files"],
        "reused vectors differ from computed ones"
    );
}
