//! End-to-end: pipeline files and stores written by someone hostile or
//! careless. Hostile names, expansion bombs, oversized and endless inputs
//! are refused as bad input (exit 2) before anything is written; a
//! corrupt artifact read by `show` or `export` is a failed check (exit 1)
//! and leaves no partial export; a reader that stops reading ends nothing
//! with a panic.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// A project whose only node is `template` (a YAML mapping, one line).
fn one_node(name: &str, template: &str) -> Project {
    let p = Project::new(&Backend::Local, name);
    p.write("pipeline.yaml", &format!("nodes:\n  - {template}\n"));
    p.write("data.csv", "g,x\na,1\nb,2\n");
    p
}

fn refused(ran: &Ran, needle: &str) {
    assert_eq!(
        ran.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        ran.stdout, ran.stderr
    );
    assert!(
        ran.stderr.contains(needle),
        "{needle} missing from:\n{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
}

#[test]
fn traversal_names_are_refused_and_nothing_lands_outside() {
    let outside = tempfile::tempdir().unwrap();
    let absolute = format!("{}/victim", outside.path().display());
    // From .pipeline/refs, three levels up is the project's parent.
    let relative = "../../../victim";
    for name in [absolute.as_str(), relative] {
        let p = one_node(
            "traversal",
            &format!("{{name: '{name}', stage: read_csv, params: {{path: data.csv}}}}"),
        );
        for command in [&["run"][..], &["status"]] {
            refused(
                &p.run(command),
                &format!("pipeline.yaml: nodes[0] `{name}`: node name `{name}` contains"),
            );
        }
        assert!(!p.path(".pipeline").exists(), "no state was written");
        let escaped = p.dir.path().parent().unwrap().join("victim.json");
        assert!(!escaped.exists(), "{} written", escaped.display());
    }
    assert!(files_under(outside.path()).is_empty());
}

#[test]
fn a_foreach_value_cannot_make_a_bad_name() {
    let p = Project::new(&Backend::Local, "foreach_name");
    p.write(
        "pipeline.yaml",
        "nodes:\n  - name: source\n    stage: read_csv\n    params: {path: data.csv}\n  \
         - name: out_{v}\n    stage: derive\n    foreach: {v: [fine, 'x/../../../y']}\n    \
         params: {column: x, output: y}\n    inputs: {table: source}\n",
    );
    p.write("data.csv", "g,x\na,1\n");
    refused(
        &p.run(&["run"]),
        "pipeline.yaml: nodes[1] `out_{v}`: node name `out_x/../../../y` contains `..`",
    );
}

#[test]
fn empty_and_bidi_names_are_refused_visibly() {
    let empty = one_node(
        "empty",
        "{name: '', stage: read_csv, params: {path: data.csv}}",
    );
    refused(&empty.run(&["status"]), "node name `` is empty");
    // U+202E turns `txt.exe` into what reads as `exe.txt`.
    let bidi = one_node(
        "bidi",
        r#"{name: "report\u202Etxt.exe", stage: read_csv, params: {path: data.csv}}"#,
    );
    refused(
        &bidi.run(&["status"]),
        "node name `report\\u{202e}txt.exe` contains the invisible formatting character U+202E",
    );
}

/// The quoted strings of one dot statement, unescaped; panics on an
/// unterminated one.
fn dot_strings(line: &str) -> (Vec<String>, String) {
    let (mut strings, mut outside) = (Vec::new(), String::new());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            outside.push(c);
            continue;
        }
        let mut s = String::new();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => s.push(chars.next().expect("an escape ends the line")),
                Some(c) => s.push(c),
                None => panic!("unterminated string in {line}"),
            }
        }
        strings.push(s);
    }
    (strings, outside)
}

#[test]
fn dag_stays_graphviz_for_names_with_quotes() {
    let p = Project::new(&Backend::Local, "dag_quotes");
    p.write(
        "pipeline.yaml",
        "nodes:\n  - name: 'say \"hi\"'\n    stage: read_csv\n    params: {path: data.csv}\n  \
         - name: next\n    stage: derive\n    \
         params: {column: x, output: y}\n    inputs: {table: 'say \"hi\"'}\n",
    );
    p.write("data.csv", "g,x\na,1\n");
    let dot = p.run(&["dag"]).ok().stdout;
    let edges: Vec<_> = dot.lines().filter(|l| l.contains("->")).collect();
    assert_eq!(edges.len(), 1, "{dot}");
    let (names, rest) = dot_strings(edges[0]);
    assert_eq!(names, ["say \"hi\"", "next"], "{dot}");
    assert_eq!(rest.trim(), "-> ;", "{dot}");
    let declared: Vec<String> = dot
        .lines()
        .filter(|l| l.contains("[label="))
        .map(|l| dot_strings(l).0.remove(0))
        .collect();
    assert_eq!(declared, ["say \"hi\"", "next"], "{dot}");
}

/// The design node has two outputs, `alias` and `runs` (in that order).
const DESIGN: &str = "nodes:\n  - name: design\n    stage: design\n    \
                      params: {ssr_repeats: 1, multi_repeats: 1, greedy_runs: 1, seed: 5}\n";

/// A project whose design node ran, with its `runs` blob corrupted.
fn corrupt_design(name: &str) -> (Project, String) {
    let p = Project::new(&Backend::Local, name);
    p.write("pipeline.yaml", DESIGN);
    let report = p.run(&["run", "--json"]).ok().json();
    let blob = p.blob_of(&key_of(&report, "design"), "runs");
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&blob, &bytes).unwrap();
    let hash = blob.file_name().unwrap().to_str().unwrap().to_string();
    (p, hash)
}

#[test]
fn a_corrupt_blob_fails_show_and_export_with_exit_1() {
    let (p, hash) = corrupt_design("corrupt_show");
    let out = p.path("exported");
    for command in [
        &["show", "design"][..],
        &["export", "design", out.to_str().unwrap()],
    ] {
        let ran = p.run(command);
        assert_eq!(ran.code, 1, "{command:?}: {}", ran.stderr);
        let expected = format!("node `design`, output `runs`: blob {hash} in store");
        assert!(
            ran.stderr.contains(&expected),
            "{command:?}: {}",
            ran.stderr
        );
        assert!(ran.stderr.contains("is corrupt"), "{}", ran.stderr);
    }
}

#[test]
fn export_is_all_or_nothing() {
    let (p, _) = corrupt_design("export_atomic");
    // `alias` sorts before the corrupt `runs`: it must not be left behind,
    // nor the directory the export made, nor an existing one emptied.
    let fresh = p.path("new/exported");
    assert_eq!(
        p.run(&["export", "design", fresh.to_str().unwrap()]).code,
        1
    );
    assert!(!p.path("new").exists(), "a partial export was left");
    let existing = p.path("existing");
    p.write("existing/keep.txt", "mine");
    assert_eq!(
        p.run(&["export", "design", existing.to_str().unwrap()])
            .code,
        1
    );
    assert_eq!(files_under(&existing), [existing.join("keep.txt")]);

    // Once repaired (a run re-puts the corrupt blob), both files arrive.
    p.run(&["run"]).ok();
    let listed = p
        .run(&["export", "design", existing.to_str().unwrap()])
        .ok()
        .stdout;
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(existing.join("alias.parquet").is_file() && existing.join("runs.parquet").is_file());
    assert_eq!(files_under(&existing).len(), 3, "no staging left behind");
}

#[test]
fn a_foreach_bomb_is_refused_fast_with_its_count() {
    let values = format!(
        "[{}]",
        (0..20)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let p = one_node(
        "bomb",
        &format!(
            "{{name: 'n_{{a}}_{{b}}_{{c}}_{{d}}_{{e}}', stage: read_csv, params: {{path: data.csv}}, \
             foreach: {{a: {values}, b: {values}, c: {values}, d: {values}, e: {values}}}}}"
        ),
    );
    let started = Instant::now();
    let ran = p.run(&["status"]);
    refused(
        &ran,
        "nodes[0] `n_{a}_{b}_{c}_{d}_{e}`: expands to 3200000 nodes",
    );
    assert!(
        ran.stderr.contains("above the limit of 100000"),
        "{}",
        ran.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The limit is the file's to raise or lower.
    let lowered = Project::new(&Backend::Local, "bomb_lowered");
    lowered.write(
        "pipeline.yaml",
        "max_nodes: 2\nnodes:\n  - {name: 'n_{a}', stage: read_csv, params: {path: data.csv}, \
         foreach: {a: [1, 2, 3]}}\n",
    );
    refused(
        &lowered.run(&["status"]),
        "expands to 3 nodes (a: 3), above the limit of 2",
    );
}

#[test]
fn an_oversized_pipeline_file_is_refused() {
    let p = Project::new(&Backend::Local, "oversized");
    let mut text = String::from("nodes: []\n");
    text.push_str(&format!("# {}\n", "x".repeat(1 << 20)).repeat(17));
    p.write("pipeline.yaml", &text);
    let started = Instant::now();
    refused(
        &p.run(&["status"]),
        "pipeline.yaml: the file is larger than 16 MiB, the most a pipeline file may be",
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn file_parameters_read_only_regular_files_under_the_allowed_roots() {
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("outside.csv");
    std::fs::write(&outside, "g,x\na,1\n").unwrap();
    let outside = outside.display().to_string();
    for (case, path, why) in [
        (
            "dev_zero",
            "/dev/zero",
            "is under /dev, a kernel pseudo-file system",
        ),
        (
            "environ",
            "/proc/self/environ",
            "is under /proc, a kernel pseudo-file system",
        ),
        (
            "outside",
            outside.as_str(),
            "is outside the pipeline's directory",
        ),
    ] {
        let p = one_node(
            case,
            &format!("{{name: source, stage: read_csv, params: {{path: '{path}'}}}}"),
        );
        let started = Instant::now();
        let ran = p.run(&["status"]);
        refused(&ran, "node `source`: parameter `path`: ");
        refused(&ran, why);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{case}: {:?}",
            started.elapsed()
        );
    }
    // A directory the pipeline allows is read; a directory is still not a
    // file.
    let allowed = format!("allow_paths: ['{}']\n", elsewhere.path().display());
    let p = one_node(
        "allowed",
        &format!("{{name: source, stage: read_csv, params: {{path: '{outside}'}}}}"),
    );
    let text = std::fs::read_to_string(p.path("pipeline.yaml")).unwrap();
    p.write("pipeline.yaml", &format!("{allowed}{text}"));
    p.run(&["run"]).ok();
    p.write(
        "pipeline.yaml",
        "nodes:\n  - {name: source, stage: read_csv, params: {path: .}}\n",
    );
    refused(&p.run(&["status"]), "is not a regular file");
}

#[test]
fn a_reader_that_goes_away_ends_no_command_with_a_panic() {
    let p = Project::new(&Backend::Local, "broken_pipe");
    p.write("pipeline.yaml", DESIGN);
    p.run(&["run"]).ok();
    for command in [
        &["verify"][..],
        &["verify", "--json"],
        &["status", "--explain"],
        &["status", "--json"],
        &["dag"],
        &["show", "design"],
    ] {
        // The reading end is closed before the command starts: its first
        // write meets a broken pipe, every time.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = p
            .command(command)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{command:?}: {stderr}");
    }
}
