//! The bundled corpus through the real stages, as a user's data goes:
//! synth_audio's manifest and files through fetch to mels, labels to
//! target distributions; deterministic, and cached on a second run.

use stages::contracts::{validate, Contract};

use crate::fetch::{manifest_of, output_table, strings};
use crate::support::*;

const PIPELINE: &str = r#"
nodes:
  - name: tracks
    stage: synth_audio
    params: {preset: tiny, seed: 3}
  - name: audio
    stage: fetch
    inputs: {tracks: tracks, files: tracks}
  - name: labels_{table}
    stage: synth_table
    foreach: {table: [tag, bpm, fma]}
    params: {preset: tiny, seed: 3, table: "{table}"}
  - name: fma_audio
    stage: fetch
    inputs: {tracks: labels_fma, files: tracks}
  - name: mel
    stage: mel
    inputs: {audio: audio}
  - name: scaler
    stage: scaler
    inputs: {mel: mel, tracks: labels_fma}
  - name: z_{source}
    stage: factorize
    foreach: {source: [tag, bpm]}
    params: {source: "{source}", k: 8, iterations: 20}
    inputs: {labels: "labels_{source}"}
"#;

#[test]
fn the_tiny_corpus_goes_through_fetch_to_mels_and_then_is_cached() {
    let p = Project::new(&Backend::Local, "synth");
    p.write("pipeline.yaml", PIPELINE);
    let first = p.run(&["run", "--json"]).ok();
    assert_eq!(first.nodes("ran").len(), 10, "{}", first.stderr);

    // The manifest is a user's track manifest: it passes the contract as
    // stored, and its uris name synth_audio's files.
    let manifest = output_table(&p, &first, "tracks", "table");
    // 48 learning tracks, 5 target sets of 24 and Ballroom's 32 (tiny
    // preset).
    assert_eq!(manifest.num_rows(), 200);
    assert_eq!(
        validate(Contract::Tracks, "tracks", &manifest).unwrap(),
        manifest
    );
    let ids = strings(&manifest, "track_id");
    let uris = strings(&manifest, "uri");
    assert!(ids
        .iter()
        .zip(&uris)
        .all(|(id, uri)| *uri == format!("audio/{id}.wav")));

    // fetch read every track from those files, checked against the
    // manifest's blake3, and its copies are the same blobs: no extra
    // storage in a content-addressed store.
    let audio = p.run(&["show", "audio", "--rows", "2"]).ok().stdout;
    assert!(
        audio.contains("fetched: 200 rows") && audio.contains("failures: 0 rows"),
        "{audio}"
    );
    let synthesised = manifest_of(&p, &first, "tracks")["files"].clone();
    let fetched = manifest_of(&p, &first, "audio")["files"].clone();
    for (id, uri) in ids.iter().zip(&uris) {
        let copy = &fetched[format!("audio/{id}")]["blake3"];
        assert!(copy.is_string(), "fetch has no audio/{id}");
        assert_eq!(copy, &synthesised[uri]["blake3"], "{id}");
    }

    // A target manifest's uris name the same files.
    let fma = p.run(&["show", "fma_audio"]).ok().stdout;
    assert!(
        fma.contains("fetched: 24 rows") && fma.contains("failures: 0 rows"),
        "{fma}"
    );

    let mel = p.run(&["show", "mel", "--rows", "1"]).ok().stdout;
    assert!(
        mel.contains("failures: 0 rows") && mel.contains("mfcc: 200 rows"),
        "{mel}"
    );
    let z = p.run(&["show", "z_tag", "--rows", "1"]).ok().stdout;
    assert!(z.contains("\"tracks_used\""), "{z}");
    // Recomputed without the cache, every node gives the committed bytes.
    let check = p.run(&["run", "--check", "--json"]).ok();
    assert_eq!(check.nodes("checked").len(), 10, "{}", check.stderr);
    for node in check.json()["nodes"].as_array().unwrap() {
        assert_eq!(node["differences"], serde_json::json!([]), "{node}");
    }
    // A no-op run trusts what was verified and reads no blob.
    let noop = p.run(&["run", "--json"]).ok();
    assert!(noop.nodes("ran").is_empty());
    assert_eq!(noop.json()["blob_bytes_read"], 0, "{}", noop.stdout);

    // A flipped byte in one mel: verify reports it, and the next run reads
    // it, finds it corrupt and mends it; then nothing is read again.
    let mel_files = manifest_of(&p, &first, "mel")["files"].clone();
    let one_mel = mel_files
        .as_object()
        .unwrap()
        .keys()
        .find(|name| name.starts_with("mel/"))
        .unwrap()
        .clone();
    let mel_blob = p.blob_of(&key_of(&first.json(), "mel"), &one_mel);
    let mut bytes = std::fs::read(&mel_blob).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&mel_blob, &bytes).unwrap();
    let verify = p.run(&["verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    let mended = p.run(&["run", "--json"]).ok();
    assert_eq!(mended.nodes("ran"), set(&["mel"]), "{}", mended.stderr);
    assert!(mended.json()["blob_bytes_read"].as_u64().unwrap() > 0);
    p.run(&["verify"]).ok();
    let noop = p.run(&["run", "--json"]).ok();
    assert_eq!(noop.json()["blob_bytes_read"], 0, "{}", noop.stdout);

    // Same seed, fresh store: the same audio bytes (same blob keys).
    let q = Project::new(&Backend::Local, "synth-again");
    q.write("pipeline.yaml", PIPELINE);
    q.run(&["run", "--only", "tracks"]).ok();
    let blobs = |p: &Project| {
        let mut names: Vec<String> = files_under(&p.store_dir().join("blobs"))
            .iter()
            .filter_map(|f| f.file_name()?.to_str().map(String::from))
            .collect();
        names.sort();
        names
    };
    let audio_blobs_q = blobs(&q);
    let all_p = blobs(&p);
    assert!(audio_blobs_q.iter().all(|b| all_p.contains(b)));
}
