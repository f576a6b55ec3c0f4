//! The smaller commands and options: --only, --force, gc, show, export,
//! dag, status --explain.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::fetch::{payload, FETCH_ONLY};
use crate::scenarios::{small_project, ALL, PIPELINE};
use crate::support::*;

#[test]
fn only_runs_the_selection_and_what_it_needs() {
    let p = small_project(&Backend::Local, "only");
    let ran = p.run(&["run", "--json", "--only", "stats_x"]).ok();
    assert_eq!(
        ran.nodes("ran"),
        set(&["source", "scaled", "shifted", "stats_x"])
    );
    let rest = p.run(&["run", "--json"]).ok();
    assert_eq!(
        rest.nodes("ran"),
        set(&["stats_x2", "stats_x3", "gathered", "squares"])
    );
    let unknown = p.run(&["run", "--only", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no node named `nope`"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn force_recomputes_only_the_forced_node() {
    let p = small_project(&Backend::Local, "force");
    p.run(&["run"]).ok();
    let forced = p.run(&["run", "--json", "--force", "scaled"]).ok();
    assert_eq!(forced.nodes("ran"), set(&["scaled"]));
    p.run(&["verify"]).ok();
}

#[test]
fn gc_deletes_only_what_no_node_needs() {
    let p = small_project(&Backend::Local, "gc");
    p.run(&["run"]).ok();
    p.write(
        "pipeline.yaml",
        &PIPELINE.replace("value: 1.0", "value: 9.0"),
    );
    p.run(&["run"]).ok();
    assert_eq!(p.manifest_keys().len(), ALL.len() + 5);

    // Five old manifests; only three old blobs, since stats_x and stats_x2
    // summarise columns the change did not touch: same bytes, same blob.
    let dry = p.run(&["gc", "--dry-run", "--grace", "0"]).ok();
    assert!(
        dry.stdout
            .starts_with("would delete 5 manifests and 3 blobs"),
        "{}",
        dry.stdout
    );
    assert_eq!(p.manifest_keys().len(), ALL.len() + 5);
    // Within the grace period, unreferenced blobs stay.
    let young = p.run(&["gc", "--dry-run"]).ok();
    assert!(
        young
            .stdout
            .starts_with("would delete 5 manifests and 0 blobs"),
        "{}",
        young.stdout
    );

    let done = p.run(&["gc", "--grace", "0"]).ok();
    assert!(
        done.stdout.starts_with("deleted 5 manifests and 3 blobs"),
        "{}",
        done.stdout
    );
    assert_eq!(p.manifest_keys().len(), ALL.len());
    p.run(&["verify"]).ok();
    assert!(p.run(&["run", "--json"]).ok().nodes("ran").is_empty());
}

#[test]
fn show_prints_the_manifest_and_a_table_preview() {
    let p = small_project(&Backend::Local, "show");
    let before = p.run(&["show", "stats_x"]);
    assert_eq!(before.code, 1);
    assert!(
        before
            .stderr
            .contains("node `stats_x` has no artifact yet: its upstream `shifted` must run first"),
        "{}",
        before.stderr
    );
    p.run(&["run"]).ok();
    let shown = p.run(&["show", "stats_x", "--rows", "3"]).ok();
    assert!(
        shown.stdout.contains("\"stage\": \"aggregate\""),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("table: 7 rows"), "{}", shown.stdout);
    assert!(shown.stdout.contains("| g0 "), "{}", shown.stdout);
    assert!(
        !shown.stdout.contains("| g3 "),
        "only 3 rows are previewed: {}",
        shown.stdout
    );
}

#[test]
fn export_writes_a_nodes_files_as_stored() {
    let p = small_project(&Backend::Local, "export");
    let out = p.path("exported");
    let out_text = out.to_str().unwrap();
    let before = p.run(&["export", "stats_x", out_text]);
    assert_eq!(before.code, 1, "nothing to export before a run");
    let report = p.run(&["run", "--json"]).ok().json();
    let listed = p.run(&["export", "stats_x", out_text]).ok().stdout;
    let written = out.join("table.parquet");
    assert!(listed.contains(written.to_str().unwrap()), "{listed}");
    let stored = std::fs::read(p.blob_of(&key_of(&report, "stats_x"), "table")).unwrap();
    assert_eq!(std::fs::read(&written).unwrap(), stored);
    assert_eq!(p.run(&["export", "no_such_node", out_text]).code, 2);
}

#[test]
fn dag_is_graphviz_with_every_edge() {
    let p = small_project(&Backend::Local, "dag");
    let dot = p.run(&["dag"]).ok().stdout;
    assert!(dot.starts_with("digraph pipeline {"));
    for edge in [
        "\"source\" -> \"scaled\"",
        "\"scaled\" -> \"shifted\"",
        "\"shifted\" -> \"stats_x2\"",
        "\"stats_x3\" -> \"gathered\"",
        "\"source\" -> \"squares\"",
    ] {
        assert!(dot.contains(edge), "{edge} missing from {dot}");
    }
    assert_eq!(dot.matches(" -> ").count(), 9);
}

/// The paper-sized study is the default one with the paper's numbers:
/// `status` plans its 425 training runs (and the Rand baseline) without
/// running anything, and only what the overrides touch changes key.
#[test]
fn the_paper_sized_study_plans_425_runs_on_the_default_graph() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let store = tempfile::tempdir().unwrap();
    let status = |file: &str| -> Vec<Value> {
        let out = Command::new(BIN)
            .current_dir(&root)
            .args(["--file", file, "--store"])
            .arg(store.path())
            .args(["status", "--json"])
            .output()
            .expect("the binary starts");
        let ran: Ran = out.into();
        ran.json().as_array().cloned().expect("a list of nodes")
    };
    let count = |nodes: &[Value], prefix: &str| {
        nodes
            .iter()
            .filter(|n| n["node"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    let key = |nodes: &[Value], name: &str| {
        nodes.iter().find(|n| n["node"] == name).expect(name)["key"].clone()
    };
    let default = status("pipeline.yaml");
    let paper = status("pipeline.paper.yaml");
    assert_eq!(count(&paper, "train_"), 425 + 1);
    assert_eq!(
        count(&paper, "rec_"),
        425 + 3,
        "with Rand, MFCC and musicnn"
    );
    assert!(count(&default, "train_") < 50);
    assert_eq!(key(&paper, "tracks"), key(&default, "tracks"));
    assert_ne!(key(&paper, "design"), key(&default, "design"));
    assert!(paper.iter().all(|n| n["state"] != "cached"), "nothing ran");
}

/// A `fetch` of three local files: besides its tables, a folder `audio/`
/// of one file per track, as stored (`payload` bytes).
fn fetched(name: &str) -> (Project, Ran) {
    let p = Project::new(&Backend::Local, name);
    p.write("pipeline.yaml", FETCH_ONLY);
    let mut csv = String::from("track_id,uri\n");
    for id in ["t1", "t2", "t3"] {
        std::fs::write(p.path(&format!("{id}.bin")), payload(id, 1000)).unwrap();
        csv.push_str(&format!("{id},{id}.bin\n"));
    }
    p.write("tracks.csv", &csv);
    let ran = p.run(&["run", "--json"]).ok();
    (p, ran)
}

#[test]
fn show_counts_the_files_in_folders_and_speaks_json() {
    let (p, _) = fetched("show_folders");
    let shown = p.run(&["show", "audio", "--json"]).ok().json();
    assert_eq!(shown["stage"], "fetch");
    assert_eq!(shown["metadata"]["fetched"], 3);
    let files: Vec<&str> = shown["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(files, ["failures", "fetched"], "{shown}");
    assert_eq!(
        shown["folders"],
        serde_json::json!({"audio": {"files": 3, "bytes": 3000}})
    );

    let all = p.run(&["show", "audio", "--json", "--files"]).ok().json();
    assert_eq!(all["files"]["audio/t2"]["size"], 1000, "{all}");
    assert!(all.get("folders").is_none(), "{all}");

    let text = p.run(&["show", "audio", "--rows", "1"]).ok().stdout;
    assert!(text.contains("fetched: 3 rows"), "{text}");
    assert!(
        !text.contains("audio/t1"),
        "per-track files are counted: {text}"
    );
}

#[test]
fn export_writes_the_chosen_files_with_their_extensions() {
    let (p, ran) = fetched("export_chosen");
    let out = p.path("out");
    let out_text = out.to_str().unwrap();
    let listed = p.run(&["export", "audio", out_text, "fetched"]).ok().stdout;
    let table = out.join("fetched.parquet");
    assert_eq!(listed.trim(), table.to_str().unwrap());
    assert_eq!(files_under(&out), std::slice::from_ref(&table));
    let stored = std::fs::read(p.blob_of(&key_of(&ran.json(), "audio"), "fetched")).unwrap();
    assert_eq!(std::fs::read(&table).unwrap(), stored);

    // A folder names its files; fetched audio keeps its name (the format
    // varies), and its bytes.
    let listed = p.run(&["export", "audio", out_text, "audio"]).ok().stdout;
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert_eq!(
        std::fs::read(out.join("audio/t2")).unwrap(),
        payload("t2", 1000)
    );

    let fresh = p.path("fresh");
    let wrong = p.run(&[
        "export",
        "audio",
        fresh.to_str().unwrap(),
        "fetched",
        "mfcc",
    ]);
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains(
            "node `audio` has no output `mfcc` (its outputs: failures, fetched, audio/ (3 files))"
        ),
        "{}",
        wrong.stderr
    );
    assert!(!fresh.exists(), "nothing is written");
}

#[test]
fn status_explain_lists_what_each_glob_matched() {
    let p = small_project(&Backend::Local, "globs");
    // A node of the user's own whose name the `stats_*` glob also matches.
    p.write(
        "pipeline.yaml",
        &format!(
            "{PIPELINE}  - name: stats_mine\n    stage: aggregate\n    \
             params: {{by: g, column: x}}\n    inputs: {{table: source}}\n"
        ),
    );
    let text = p.run(&["status", "--explain"]).ok().stdout;
    assert!(
        text.contains(
            "input `tables`: `stats_*` matched 4 nodes: stats_x, stats_x2, stats_x3, stats_mine"
        ),
        "{text}"
    );
    let plain = p.run(&["status"]).ok().stdout;
    assert!(!plain.contains("matched"), "{plain}");
    let statuses = p.run(&["status", "--json"]).ok().json();
    let gathered = statuses
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["node"] == "gathered")
        .unwrap();
    assert_eq!(
        gathered["globs"],
        serde_json::json!([{
            "slot": "tables",
            "pattern": "stats_*",
            "matched": ["stats_x", "stats_x2", "stats_x3", "stats_mine"]
        }])
    );
}
