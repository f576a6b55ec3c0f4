//! Input contracts end to end: user files through load_table/load_labels.

use crate::support::*;

const PIPELINE: &str = r#"
nodes:
  - name: tracks
    stage: load_table
    params: {path: tracks.csv}
  - name: tags
    stage: load_labels
    params: {path: tags.csv, contract: label_counts}
    inputs: {tracks: tracks}
"#;

fn project(tags: &str) -> Project {
    let p = Project::new(&Backend::Local, "contracts");
    p.write("pipeline.yaml", PIPELINE);
    p.write(
        "tracks.csv",
        "track_id,uri\nt1,audio/t1.wav\nt2,audio/t2.wav\n",
    );
    p.write("tags.csv", tags);
    p
}

#[test]
fn rows_for_unknown_tracks_are_reported_and_kept_aside() {
    let p = project("track_id,item,count\nt1,rock,3\nghost,pop,1\nt2,jazz,2\n");
    let ran = p.run(&["run"]).ok();
    assert!(
        ran.stderr.contains("warning: node `tags`: tags.csv: 1 rows are about tracks the manifest does not have and were set aside in `rejected`: row 2 (ghost)"),
        "{}",
        ran.stderr
    );
    let shown = p.run(&["show", "tags"]).ok().stdout;
    assert!(shown.contains("\"rejected_rows\": 1"), "{shown}");
    assert!(
        shown.contains("table: 2 rows") && shown.contains("rejected: 1 rows"),
        "{shown}"
    );
    assert!(
        shown.contains("| 2   | ghost    | unknown track |"),
        "{shown}"
    );
}

#[test]
fn a_contract_violation_fails_the_node_with_file_row_and_column() {
    let p = project("track_id,item,count\nt1,rock,3\nt2,pop,-1\n");
    let ran = p.run(&["run"]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains(
            "failed  tags: stage `load_labels`: tags.csv, row 2, column `count`: negative count -1"
        ),
        "{}",
        ran.stderr
    );
    // The manifest was fine and stays committed; fixing the file runs only `tags`.
    p.write("tags.csv", "track_id,item,count\nt1,rock,3\nt2,pop,1\n");
    let fixed = p.run(&["run", "--json"]).ok();
    assert_eq!(fixed.nodes("ran"), set(&["tags"]));
}
