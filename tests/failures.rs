//! Bad input gets a clear error and exit code 2; a failing node fails only
//! its descendants; an unreachable store loses nothing committed.

use std::time::{Duration, Instant};

use crate::scenarios::{small_project, ALL, PIPELINE};
use crate::support::*;

fn expect_bad_input(yaml: &str, needles: &[&str]) {
    let p = Project::new(&Backend::Local, "bad");
    p.write("data.csv", "g,x\na,1\n");
    p.write("pipeline.yaml", yaml);
    let ran = p.run(&["run"]);
    assert_eq!(ran.code, 2, "stderr: {}", ran.stderr);
    for needle in needles {
        assert!(
            ran.stderr.contains(needle),
            "`{needle}` not in: {}",
            ran.stderr
        );
    }
    // Nothing was run or written.
    assert!(p.manifest_keys().is_empty());
}

#[test]
fn malformed_yaml_names_line_and_column() {
    expect_bad_input(
        "nodes:\n  - name: a\n    stage: read_csv\n    params: {path: data.csv\n",
        &["pipeline.yaml: line ", "column "],
    );
}

#[test]
fn unknown_stage() {
    expect_bad_input(
        "nodes:\n  - name: a\n    stage: read_cvs\n",
        &["node `a`", "unknown stage `read_cvs`", "read_csv"],
    );
}

#[test]
fn unknown_or_mistyped_parameter() {
    expect_bad_input(
        "nodes:\n  - name: a\n    stage: read_csv\n    params: {path: data.csv, delimitr: ';'}\n",
        &[
            "node `a`",
            "unknown parameter `delimitr`",
            "known: path, delimiter",
        ],
    );
    expect_bad_input(
        &PIPELINE.replace("value: 2.0", "value: two"),
        &[
            "node `scaled`",
            "parameter `value` must be a number, got \"two\"",
        ],
    );
    expect_bad_input(
        "nodes:\n  - name: a\n    stage: read_csv\n    params: {path: missing.csv}\n",
        &["node `a`", "missing.csv"],
    );
}

#[test]
fn dependency_cycle_is_named() {
    expect_bad_input(
        r#"
nodes:
  - name: src
    stage: read_csv
    params: {path: data.csv}
  - name: a
    stage: concat
    inputs: {tables: [src, c]}
  - name: b
    stage: concat
    inputs: {tables: [a]}
  - name: c
    stage: concat
    inputs: {tables: [b]}
"#,
        &["dependency cycle: ", "a -> b -> c -> a"],
    );
}

#[test]
fn reference_to_missing_node() {
    expect_bad_input(
        &PIPELINE.replace("inputs: {table: scaled}", "inputs: {table: scaeld}"),
        &["node `shifted`", "refers to missing node `scaeld`"],
    );
}

#[test]
fn failing_node_fails_only_its_descendants() {
    let p = small_project(&Backend::Local, "failing");
    p.write(
        "pipeline.yaml",
        &format!(
            "{PIPELINE}
  - name: broken
    stage: derive
    params: {{column: nope, output: y}}
    inputs: {{table: source}}
  - name: after_broken
    stage: aggregate
    params: {{by: g, column: y}}
    inputs: {{table: broken}}
"
        ),
    );
    let ran = p.run(&["run", "--json"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.nodes("ran"), set(&ALL));
    assert_eq!(ran.nodes("failed"), set(&["broken"]));
    assert_eq!(ran.nodes("skipped"), set(&["after_broken"]));
    assert!(
        ran.stderr
            .contains("failed  broken: stage `derive`: parameter `column`: no column `nope`"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("skipped after_broken: upstream `broken` failed"),
        "{}",
        ran.stderr
    );
    let again = p.run(&["run", "--json"]);
    assert_eq!(again.code, 1);
    assert_eq!(again.nodes("cached"), set(&ALL));
}

#[test]
fn unreachable_store_is_a_clear_error() {
    let p = small_project(&Backend::Local, "unreachable");
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(p.dir.path())
        .args(["run", "--store", "s3://artifacts/x"]);
    s3_env(&mut cmd, &format!("http://127.0.0.1:{}", free_port()));
    let started = Instant::now();
    let ran: Ran = cmd.output().unwrap().into();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("store s3://artifacts/x is unreachable"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("after 3 retries"), "{}", ran.stderr);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn s3_going_down_loses_nothing_committed() {
    let mut server = S3Server::start();
    let p = small_project(&server.backend(), "down");
    p.run(&["run"]).ok();
    server.stop();
    p.write(
        "pipeline.yaml",
        &PIPELINE.replace("value: 1.0", "value: 5.0"),
    );
    let down = p.run(&["run"]);
    assert_eq!(down.code, 2, "{}", down.stderr);
    assert!(down.stderr.contains("unreachable"), "{}", down.stderr);
    server.restart();
    let back = p.run(&["run", "--json"]).ok();
    assert_eq!(
        back.nodes("ran"),
        set(&["shifted", "stats_x", "stats_x2", "stats_x3", "gathered"])
    );
    p.run(&["verify"]).ok();
}
