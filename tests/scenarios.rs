//! Engine behaviours, each run against any backend (local dir or S3).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::*;

/// A small pipeline with a chain, a fan-out, a gather and a side branch.
pub const PIPELINE: &str = r#"
nodes:
  - name: source
    stage: read_csv
    params: {path: data.csv}
  - name: scaled
    stage: derive
    params: {column: x, op: scale, value: 2.0, output: x2}
    inputs: {table: source}
  - name: shifted
    stage: derive
    params: {column: x2, op: offset, value: 1.0, output: x3}
    inputs: {table: scaled}
  - name: stats_{col}
    stage: aggregate
    foreach: {col: [x, x2, x3]}
    params: {by: g, column: "{col}"}
    inputs: {table: shifted}
  - name: gathered
    stage: concat
    inputs: {tables: "stats_*"}
  - name: squares
    stage: derive
    params: {column: x, op: square, output: xx}
    inputs: {table: source}
"#;

pub const ALL: [&str; 8] = [
    "source", "scaled", "shifted", "stats_x", "stats_x2", "stats_x3", "gathered", "squares",
];

pub fn csv(rows: usize) -> String {
    let mut text = String::from("g,x\n");
    for i in 0..rows {
        text.push_str(&format!("g{},{}\n", i % 7, (i * 37 % 101) as f64 / 4.0));
    }
    text
}

pub fn small_project(backend: &Backend, name: &str) -> Project {
    let p = Project::new(backend, name);
    p.write("pipeline.yaml", PIPELINE);
    p.write("data.csv", &csv(50));
    p
}

pub fn status_of(p: &Project) -> Vec<serde_json::Value> {
    p.run(&["status", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn to_run(statuses: &[serde_json::Value]) -> BTreeSet<String> {
    in_state(statuses, "run")
}

pub fn in_state(statuses: &[serde_json::Value], state: &str) -> BTreeSet<String> {
    statuses
        .iter()
        .filter(|s| s["state"] == state)
        .map(|s| s["node"].as_str().unwrap().to_string())
        .collect()
}

fn reasons(statuses: &[serde_json::Value], node: &str) -> String {
    let s = statuses.iter().find(|s| s["node"] == node).unwrap();
    s["reasons"].to_string()
}

/// Changing one parameter re-runs exactly that node and, as its outputs
/// change, its descendants (which `status` shows waiting on it); an
/// unchanged pipeline runs nothing; editing the input file re-runs all that
/// reads it.
pub fn invalidation(backend: &Backend) {
    let p = small_project(backend, "invalidation");
    assert_eq!(p.run(&["run", "--json"]).ok().nodes("ran"), set(&ALL));
    let again = p.run(&["run", "--json"]).ok();
    assert!(again.nodes("ran").is_empty());
    assert_eq!(again.nodes("cached"), set(&ALL));

    p.write(
        "pipeline.yaml",
        &PIPELINE.replace("value: 1.0", "value: 3.0"),
    );
    // Only `shifted` must run; what reads it waits on its outputs.
    let expected = set(&["shifted", "stats_x", "stats_x2", "stats_x3", "gathered"]);
    let statuses = status_of(&p);
    assert_eq!(to_run(&statuses), set(&["shifted"]));
    assert_eq!(
        in_state(&statuses, "waiting"),
        set(&["stats_x", "stats_x2", "stats_x3", "gathered"])
    );
    assert!(
        reasons(&statuses, "shifted").contains("parameter `value` changed: 1.0 -> 3.0"),
        "{statuses:?}"
    );
    assert!(
        reasons(&statuses, "stats_x").contains("waits on `shifted`, which must run first"),
        "{statuses:?}"
    );
    // Its outputs change, so everything below it runs too.
    let ran = p.run(&["run", "--json"]).ok();
    assert_eq!(ran.nodes("ran"), expected);
    assert!(
        ran.stderr.contains("ran    stats_x (")
            && ran
                .stderr
                .contains("input `table` changed: upstream `shifted` gave other outputs"),
        "{}",
        ran.stderr
    );

    // The same value spelled as an integer is the same parameter.
    p.write("pipeline.yaml", &PIPELINE.replace("value: 1.0", "value: 3"));
    assert!(p.run(&["run", "--json"]).ok().nodes("ran").is_empty());

    p.write("data.csv", &csv(60));
    let statuses = status_of(&p);
    assert_eq!(to_run(&statuses), set(&["source"]));
    assert_eq!(in_state(&statuses, "waiting").len(), ALL.len() - 1);
    assert!(reasons(&statuses, "source").contains("input file `data.csv` changed"));
    assert_eq!(p.run(&["run", "--json"]).ok().nodes("ran"), set(&ALL));
}

/// A pipeline whose nodes take long enough to be killed in the middle.
fn heavy_project(backend: &Backend, name: &str) -> Project {
    let p = Project::new(backend, name);
    p.write(
        "pipeline.yaml",
        r#"
jobs: 2
nodes:
  - name: source
    stage: read_csv
    params: {path: data.csv}
  - name: derived_{i}
    stage: derive
    foreach: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}
    params: {column: x, op: scale, value: "{i}", output: y}
    inputs: {table: source}
  - name: stats_{i}
    stage: aggregate
    foreach: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}
    params: {by: g, column: y}
    inputs: {table: "derived_{i}"}
  - name: gathered
    stage: concat
    inputs: {tables: "stats_*"}
"#,
    );
    p.write("data.csv", &csv(200_000));
    p
}

const HEAVY_NODES: usize = 26;

/// SIGKILL mid-run at several points: the re-run completes, the store
/// verifies, and nothing committed before the kill is recomputed.
pub fn crash_and_resume(backend: &Backend) {
    for (point, after) in [1usize, HEAVY_NODES / 2, HEAVY_NODES - 2]
        .into_iter()
        .enumerate()
    {
        let p = heavy_project(backend, &format!("crash{point}"));
        let mut child = p
            .command(&["run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let reached = wait_until(Duration::from_secs(120), || {
            p.manifest_keys().len() >= after
        });
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(reached, "the run never committed {after} nodes");
        let committed = p.manifest_keys();
        assert!(
            committed.len() < HEAVY_NODES,
            "killed too late to test anything"
        );

        let rerun = p.run(&["run", "--json"]).ok();
        let report = rerun.json();
        for node in rerun.nodes("ran") {
            let key = key_of(&report, &node);
            assert!(
                !committed.contains(&key),
                "{node} was committed before the kill but re-ran"
            );
        }
        assert_eq!(
            rerun.nodes("ran").len() + rerun.nodes("cached").len(),
            HEAVY_NODES
        );
        assert_eq!(rerun.nodes("cached").len(), committed.len());
        p.run(&["verify"]).ok();
    }
}

/// A flipped byte is found by verify and mended by the next run; a torn
/// manifest is never trusted.
pub fn corruption(backend: &Backend) {
    let p = small_project(backend, "corruption");
    let first = p.run(&["run", "--json"]).ok();
    let report = first.json();

    let blob = p.blob_of(&key_of(&report, "scaled"), "table");
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&blob, &bytes).unwrap();

    let verify = p.run(&["verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify.stdout.contains("node `scaled`") && verify.stdout.contains("corrupt"),
        "{}",
        verify.stdout
    );
    let rerun = p.run(&["run", "--json"]).ok();
    assert_eq!(rerun.nodes("ran"), set(&["scaled"]));
    assert!(
        rerun
            .stderr
            .contains("artifact corrupt: output `table` does not match its checksum"),
        "{}",
        rerun.stderr
    );
    p.run(&["verify"]).ok();

    let manifest = p
        .store_dir()
        .join("manifests")
        .join(format!("{}.json", key_of(&report, "stats_x")));
    let text = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    let statuses = status_of(&p);
    assert_eq!(to_run(&statuses), set(&["stats_x"]));
    assert!(reasons(&statuses, "stats_x").contains("artifact corrupt"));
    assert_eq!(p.run(&["verify"]).code, 1);
    assert_eq!(
        p.run(&["run", "--json"]).ok().nodes("ran"),
        set(&["stats_x"])
    );
    p.run(&["verify"]).ok();
}

/// Two runs started at once on one store both succeed and leave a store
/// that verifies.
pub fn concurrent_runs(backend: &Backend) {
    let p = heavy_project(backend, "concurrent");
    let spawn = || {
        p.command(&["run", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let ran: Ran = child.wait_with_output().unwrap().into();
        let ran = ran.ok();
        assert_eq!(
            ran.nodes("ran").len() + ran.nodes("cached").len(),
            HEAVY_NODES
        );
    }
    p.run(&["verify"]).ok();
    assert_eq!(p.manifest_keys().len(), HEAVY_NODES);
    assert!(p.run(&["run", "--json"]).ok().nodes("ran").is_empty());
}
