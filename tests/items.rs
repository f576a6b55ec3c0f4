//! Per-item reuse across keys (issue 17): a fetch or mel node whose key
//! changed because its manifest gained tracks computes only the new tracks,
//! reusing the items any node of the stage computed before, and ends with
//! the bytes of a run from scratch (a damaged item is computed again);
//! gc drops the records of items whose
//! blobs it deletes.

use serde_json::Value;

use crate::fetch::{manifest_of, output_table, strings};
use crate::support::*;

const PIPELINE: &str = r#"
nodes:
  - name: corpus
    stage: synth_audio
    params: {preset: tiny, seed: 3}
  - name: manifest
    stage: load_table
    params: {path: manifest.csv}
  - name: audio
    stage: fetch
    inputs: {tracks: manifest, files: corpus}
  - name: mel
    stage: mel
    inputs: {audio: audio}
"#;

/// The first `n` tracks of the corpus, as a manifest CSV.
fn manifest(ids: &[String], uris: &[String], n: usize) -> String {
    let mut csv = String::from("track_id,uri\n");
    for (id, uri) in ids.iter().zip(uris).take(n) {
        csv.push_str(&format!("{id},{uri}\n"));
    }
    csv
}

fn meta(p: &Project, ran: &Ran, node: &str, field: &str) -> u64 {
    manifest_of(p, ran, node)["metadata"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("{node} has no {field}"))
}

fn files(p: &Project, ran: &Ran, node: &str) -> Value {
    manifest_of(p, ran, node)["files"].clone()
}

#[test]
fn local_five_more_tracks_compute_five_items() {
    five_more_tracks_compute_five_items_and_give_the_bytes_of_a_fresh_run(&Backend::Local);
}

#[test]
fn s3_five_more_tracks_compute_five_items() {
    let server = S3Server::start();
    five_more_tracks_compute_five_items_and_give_the_bytes_of_a_fresh_run(&server.backend());
}

fn five_more_tracks_compute_five_items_and_give_the_bytes_of_a_fresh_run(backend: &Backend) {
    let p = Project::new(backend, "items");
    p.write("pipeline.yaml", PIPELINE);
    p.write("manifest.csv", "track_id,uri\n");
    let corpus = p.run(&["run", "--only", "corpus", "--json"]).ok();
    let table = output_table(&p, &corpus, "corpus", "table");
    let (ids, uris) = (strings(&table, "track_id"), strings(&table, "uri"));

    p.write("manifest.csv", &manifest(&ids, &uris, 60));
    let first = p.run(&["run", "--json"]).ok();
    assert_eq!(meta(&p, &first, "audio", "downloaded"), 60);
    assert_eq!(meta(&p, &first, "mel", "reused"), 0);

    // One of the mels is damaged on disk: it is not reused but analysed
    // again, and its blob mended.
    let damaged = p.blob_of(&key_of(&first.json(), "mel"), &format!("mel/{}", ids[0]));
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[200] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();

    p.write("manifest.csv", &manifest(&ids, &uris, 65));
    let more = p.run(&["run", "--json"]).ok();
    assert_eq!(more.nodes("ran"), set(&["manifest", "audio", "mel"]));
    assert_eq!(meta(&p, &more, "audio", "downloaded"), 5);
    assert_eq!(meta(&p, &more, "audio", "reused"), 60);
    assert_eq!(meta(&p, &more, "mel", "analysed"), 65);
    assert_eq!(meta(&p, &more, "mel", "reused"), 59);
    p.run(&["verify"]).ok();
    assert_eq!(meta(&p, &more, "mel", "resumed"), 0);

    let q = Project::new(backend, "items-fresh");
    q.write("pipeline.yaml", PIPELINE);
    q.write("manifest.csv", &manifest(&ids, &uris, 65));
    let fresh = q.run(&["run", "--json"]).ok();
    assert_eq!(meta(&q, &fresh, "mel", "reused"), 0);
    for node in ["audio", "mel"] {
        assert_eq!(
            files(&p, &more, node),
            files(&q, &fresh, node),
            "{node}: other bytes than a run from scratch"
        );
        assert_eq!(key_of(&more.json(), node), key_of(&fresh.json(), node));
    }

    // Back to 60 tracks and a gc that deletes the 65-track nodes: the five
    // extra mels' records go with their blobs (the fetched tracks' blobs
    // are the corpus's files, which stay, and so do their records), and
    // the next 65-track run analyses those five again.
    p.write("manifest.csv", &manifest(&ids, &uris, 60));
    let back = p.run(&["run", "--json"]).ok();
    assert!(
        back.nodes("ran").is_empty(),
        "the 60-track nodes are cached"
    );
    let gc = p.run(&["gc", "--grace", "0"]).ok();
    assert!(gc.stdout.contains(", 5 item records"), "{}", gc.stdout);
    p.write("manifest.csv", &manifest(&ids, &uris, 65));
    let again = p.run(&["run", "--json"]).ok();
    assert_eq!(meta(&p, &again, "audio", "reused"), 65);
    assert_eq!(meta(&p, &again, "mel", "reused"), 60);
    assert_eq!(files(&p, &again, "mel"), files(&q, &fresh, "mel"));
}
