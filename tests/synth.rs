//! The bundled corpus through the real stages: audio to mels, labels to
//! target distributions; deterministic, and cached on a second run.

use crate::support::*;

const PIPELINE: &str = r#"
nodes:
  - name: audio
    stage: synth_audio
    params: {preset: tiny, seed: 3}
  - name: labels_{table}
    stage: synth_table
    foreach: {table: [tag, bpm, fma]}
    params: {preset: tiny, seed: 3, table: "{table}"}
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
fn the_tiny_corpus_runs_end_to_end_and_then_is_cached() {
    let p = Project::new(&Backend::Local, "synth");
    p.write("pipeline.yaml", PIPELINE);
    let first = p.run(&["run", "--json"]).ok();
    assert_eq!(first.nodes("ran").len(), 8, "{}", first.stderr);
    let audio = p.run(&["show", "audio", "--rows", "2"]).ok().stdout;
    // 48 learning tracks and 6 target sets of 24 (tiny preset).
    assert!(audio.contains("fetched: 192 rows"), "{audio}");
    let mel = p.run(&["show", "mel", "--rows", "1"]).ok().stdout;
    assert!(
        mel.contains("failures: 0 rows") && mel.contains("mfcc: 192 rows"),
        "{mel}"
    );
    let z = p.run(&["show", "z_tag", "--rows", "1"]).ok().stdout;
    assert!(z.contains("\"tracks_used\""), "{z}");
    assert!(p.run(&["run", "--json"]).ok().nodes("ran").is_empty());

    // Same seed, fresh store: the same audio bytes (same blob keys).
    let q = Project::new(&Backend::Local, "synth-again");
    q.write("pipeline.yaml", PIPELINE);
    q.run(&["run", "--only", "audio"]).ok();
    let blobs = |p: &Project| {
        let mut names: Vec<String> = walk(&p.store_dir().join("blobs"));
        names.sort();
        names
    };
    let audio_blobs_q = blobs(&q);
    let all_p = blobs(&p);
    assert!(audio_blobs_q.iter().all(|b| all_p.contains(b)));
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            out.push(name.to_string());
        }
    }
    out
}
