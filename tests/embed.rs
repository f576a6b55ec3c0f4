//! `pipeline embed`: a trained representation applied to real audio from
//! outside the study (Debian's wesnoth music, Ogg Vorbis) gives each file
//! the vector `extract` gives the same track; a second call computes
//! nothing; a corrupt file is reported and the rest embedded; a model in a
//! shared store is used without its training data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, FixedSizeListArray, Float32Array, RecordBatch, StringArray};

use crate::fetch::output_table;
use crate::model::pipeline;
use crate::real_audio::TRAIN_TAG;
use crate::support::*;

const WESNOTH: &str = "/usr/share/games/wesnoth/1.16/data/core/music";

/// `extract` of the study's model (`TRAIN_TAG`) on a folder of the same files.
const NODES: &str = r#"
  - name: games
    stage: import_folders
    params: {root: music}
  - name: games_audio
    stage: fetch
    inputs: {tracks: games}
  - name: games_mel
    stage: mel
    params: {max_seconds: 20}
    inputs: {audio: games_audio}
  - name: games_vectors
    stage: extract
    inputs: {model: train_tag, mel: games_mel, scaler: scaler, dataset: games}
"#;

/// Path (canonical) -> vector of a table of `key` (text) and `vector`.
fn vectors(
    batch: &RecordBatch,
    key: &str,
    column: &str,
    to_path: impl Fn(&str) -> PathBuf,
) -> BTreeMap<PathBuf, Vec<u32>> {
    let keys = batch
        .column_by_name(key)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let list = batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap();
    (0..batch.num_rows())
        .map(|r| {
            let v = list.value(r);
            let v = v.as_any().downcast_ref::<Float32Array>().unwrap();
            let bits = v.values().iter().map(|x| x.to_bits()).collect();
            (to_path(keys.value(r)), bits)
        })
        .collect()
}

fn embed(p: &Project, args: &[&str]) -> Ran {
    p.run(
        &[
            &["embed", "--model", "train_tag", "--max-seconds", "20"],
            args,
        ]
        .concat(),
    )
}

#[test]
fn embed_gives_extracts_vectors_caches_them_and_reports_a_corrupt_file() {
    let mut tracks: Vec<PathBuf> = files_under(Path::new(WESNOTH))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ogg"))
        .collect();
    tracks.sort();
    tracks.truncate(3);
    if tracks.len() < 3 {
        eprintln!("skipped: needs wesnoth-1.16-music (scripts/setup.sh --test installs it)");
        return;
    }
    let p = Project::new(&Backend::Local, "embed");
    for (i, file) in tracks.iter().enumerate() {
        std::fs::create_dir_all(p.path("music/wesnoth")).unwrap();
        std::fs::copy(file, p.path(&format!("music/wesnoth/track{i}.ogg"))).unwrap();
    }
    p.write("broken.ogg", "OggS, but not really");
    p.write("pipeline.yaml", &pipeline(&format!("{TRAIN_TAG}{NODES}")));
    let ran = p.run(&["run", "--json"]).ok();
    let games = output_table(&p, &ran, "games", "table");
    let ids = games
        .column_by_name("track_id")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone();
    let uris = games
        .column_by_name("uri")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone();
    let path_of: BTreeMap<String, PathBuf> = (0..ids.len())
        .map(|r| {
            (
                ids.value(r).to_string(),
                std::fs::canonicalize(p.path(uris.value(r))).unwrap(),
            )
        })
        .collect();
    let extracted = vectors(
        &output_table(&p, &ran, "games_vectors", "vectors"),
        "track_id",
        "vector",
        |id| path_of[id].clone(),
    );
    assert_eq!(extracted.len(), 3);

    let first = embed(&p, &["--out", "v.parquet", "music", "broken.ogg"]);
    assert_eq!(first.code, 1, "a file was left out: {}", first.stderr);
    assert!(
        first.stderr.contains("not embedded") && first.stderr.contains("broken.ogg"),
        "the corrupt file is named: {}",
        first.stderr
    );
    let bytes = std::fs::read(p.path("v.parquet")).unwrap();
    let embedded = vectors(
        &storage::table::from_parquet("v", bytes.into()).unwrap(),
        "path",
        "vector",
        |p| PathBuf::from(p),
    );
    assert_eq!(embedded, extracted, "bit-identical to extract's vectors");

    let again = embed(&p, &["--out", "v.npy", "music", "broken.ogg"]);
    assert!(
        again.stderr.contains("computed nothing"),
        "the second call is cached: {}",
        again.stderr
    );
    let npy = std::fs::read(p.path("v.npy")).unwrap();
    let header = u16::from_le_bytes([npy[8], npy[9]]) as usize + 10;
    let listed = std::fs::read_to_string(p.path("v.txt")).unwrap();
    let rows: Vec<&str> = listed.lines().collect();
    assert_eq!(rows.len(), 3);
    let d = extracted.values().next().unwrap().len();
    for (r, path) in rows.iter().enumerate() {
        let row: Vec<u32> = npy[header + r * d * 4..header + (r + 1) * d * 4]
            .chunks(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(
            row,
            extracted[Path::new(path)],
            "npy row {r} is {path}'s vector"
        );
    }

    // The MFCC baseline: the mel node's `mfcc` vectors.
    let mfcc = p
        .run(&[
            "embed",
            "--model",
            "mel",
            "--max-seconds",
            "20",
            "--out",
            "m.parquet",
            "music",
        ])
        .ok();
    assert!(mfcc.stderr.contains("(120 dimensions)"), "{}", mfcc.stderr);
    let bytes = std::fs::read(p.path("m.parquet")).unwrap();
    let ours = vectors(
        &storage::table::from_parquet("m", bytes.into()).unwrap(),
        "path",
        "vector",
        |p| PathBuf::from(p),
    );
    let theirs = output_table(&p, &ran, "games_mel", "mfcc");
    let theirs = vectors(&theirs, "track_id", "mfcc", |id| path_of[id].clone());
    assert_eq!(ours, theirs, "the MFCC baseline's vectors");

    let refused = p.run(&["embed", "--model", "games", "--out", "x.parquet", "music"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("`games` (stage import_folders) is not a representation"),
        "{}",
        refused.stderr
    );

    // A colleague: the same pipeline, an empty store, this store as the
    // shared remote, no training run of their own.
    let bob = Project::new(&Backend::Local, "embed_bob");
    bob.write("pipeline.yaml", &pipeline(&format!("{TRAIN_TAG}{NODES}")));
    std::fs::create_dir_all(bob.path("music")).unwrap();
    let remote = p.store_dir();
    let shared = bob
        .run(&[
            "embed",
            "--model",
            "train_tag",
            "--max-seconds",
            "20",
            "--out",
            "b.parquet",
            p.path("music").to_str().unwrap(),
            "--remote",
            remote.to_str().unwrap(),
        ])
        .ok();
    let summary = shared
        .stderr
        .lines()
        .find(|l| l.starts_with("pipeline: embedded"))
        .unwrap_or_else(|| panic!("a summary: {}", shared.stderr));
    let computed = summary.split("; ").nth(1).unwrap();
    assert!(
        computed
            .trim_start_matches("ran ")
            .split(", ")
            .all(|node| node.starts_with("embed:")),
        "only the embed nodes run, nothing of the study: {summary}"
    );
    let bytes = std::fs::read(bob.path("b.parquet")).unwrap();
    let theirs = vectors(
        &storage::table::from_parquet("b", bytes.into()).unwrap(),
        "path",
        "vector",
        |p| PathBuf::from(p),
    );
    assert_eq!(theirs, extracted);
}

/// Bad requests are refused before anything is computed, each naming what
/// is wrong.
#[test]
fn embed_refuses_bad_requests_by_name() {
    let p = Project::new(&Backend::Local, "embed_refusals");
    p.write("pipeline.yaml", &pipeline(&format!("{TRAIN_TAG}{NODES}")));
    std::fs::create_dir_all(p.path("music")).unwrap();
    p.write("empty/notes.txt", "no audio here");
    let refused = |args: &[&str], says: &str| {
        let ran = p.run(&[&["embed"], args].concat());
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(says),
            "{args:?} says {says:?}: {}",
            ran.stderr
        );
    };
    let model = ["--model", "train_tag"];
    refused(
        &[&model[..], &["--out", "v.csv", "music"]].concat(),
        "v.csv: the output must end in .parquet or .npy",
    );
    refused(
        &[&model[..], &["--out", "v.parquet", "nowhere.ogg"]].concat(),
        "nowhere.ogg",
    );
    refused(
        &[&model[..], &["--out", "v.parquet", "empty"]].concat(),
        "empty: no audio files",
    );
    p.write("a.wav", "RIFF");
    refused(
        &["--model", "nope", "--out", "v.parquet", "a.wav"],
        "no node named `nope`",
    );
    assert!(
        !p.store_dir().join("manifests").exists() || p.manifest_keys().is_empty(),
        "nothing computed"
    );
}
