//! Early cutoff (issue 17): a node's key is made of the bytes its upstream
//! nodes produced, so an upstream that re-runs into the same bytes re-runs
//! nothing below it; parameters that cannot change a result are not in any
//! key; `run --frozen` runs nothing and names what would have run; `run
//! --check` recomputes and names what gives other bytes.

use std::sync::Arc;

use stages::{InputSpec, Output, Outputs, ParamSpec, Stage, StageContext, StageError};

use crate::scenarios::{in_state, status_of};
use crate::support::*;
use crate::versions::{ran, run_opts, run_with};

/// read_csv -> aggregate -> derive: the sums of integers do not depend on
/// the order of the rows.
const CHAIN: &str = "nodes:
  - {name: source, stage: read_csv, params: {path: data.csv}}
  - {name: sums, stage: aggregate, params: {by: g, column: x}, inputs: {table: source}}
  - {name: scaled, stage: derive, params: {column: sum, op: scale, value: 2, output: y}, inputs: {table: sums}}
";

/// Reordering the CSV's rows changes read_csv's output and not the
/// aggregate's: read_csv and the aggregate run, the derive below does not.
pub fn reordered_rows_stop_at_the_aggregate(backend: &Backend) {
    let p = Project::new(backend, "cutoff-chain");
    p.write("pipeline.yaml", CHAIN);
    p.write("data.csv", "g,x\na,1\nb,2\na,3\nb,4\nc,5\n");
    let first = p.run(&["run", "--json"]).ok();
    assert_eq!(first.nodes("ran"), set(&["source", "sums", "scaled"]));

    p.write("data.csv", "g,x\nc,5\nb,4\na,3\nb,2\na,1\n");
    let before = status_of(&p);
    assert_eq!(in_state(&before, "run"), set(&["source"]));
    assert_eq!(in_state(&before, "waiting"), set(&["sums", "scaled"]));
    let text = p.run(&["status", "--explain"]).ok().stdout;
    assert!(
        text.contains(
            "waits on `source`, which must run first (cut off if it produces the same outputs)"
        ),
        "{text}"
    );
    assert!(text.contains("3 nodes, 1 to run, 2 waiting"), "{text}");

    let again = p.run(&["run", "--json"]).ok();
    assert_eq!(again.nodes("ran"), set(&["source", "sums"]));
    assert_eq!(again.nodes("cached"), set(&["scaled"]));
    assert_eq!(
        key_of(&again.json(), "scaled"),
        key_of(&first.json(), "scaled")
    );
    assert_ne!(key_of(&again.json(), "sums"), key_of(&first.json(), "sums"));
    assert_eq!(in_state(&status_of(&p), "cached").len(), 3);
    p.run(&["verify"]).ok();
    let noop = p.run(&["run", "--json"]).ok();
    assert_eq!(noop.nodes("cached").len(), 3);
    assert_eq!(noop.json()["blob_bytes_read"], 0, "{}", noop.stdout);
}

#[test]
fn local_reordered_rows_stop_at_the_aggregate() {
    reordered_rows_stop_at_the_aggregate(&Backend::Local);
}

#[test]
fn s3_reordered_rows_stop_at_the_aggregate() {
    let server = S3Server::start();
    reordered_rows_stop_at_the_aggregate(&server.backend());
}

#[test]
fn frozen_runs_nothing_and_names_what_would_run() {
    let p = Project::new(&Backend::Local, "frozen");
    p.write("pipeline.yaml", CHAIN);
    p.write("data.csv", "g,x\na,1\nb,2\n");
    let cold = p.run(&["run", "--frozen", "--json"]);
    assert_eq!(cold.code, 1, "{}", cold.stderr);
    assert_eq!(cold.nodes("failed"), set(&["source"]));
    assert_eq!(cold.nodes("skipped"), set(&["sums", "scaled"]));
    assert!(p.manifest_keys().is_empty());

    let first = p.run(&["run", "--json"]).ok();
    assert_eq!(
        p.run(&["run", "--frozen", "--json"]).ok().nodes("cached"),
        set(&["source", "sums", "scaled"])
    );
    let manifest = p
        .store_dir()
        .join("manifests")
        .join(format!("{}.json", key_of(&first.json(), "sums")));
    std::fs::remove_file(manifest).unwrap();
    let frozen = p.run(&["run", "--frozen", "--json"]);
    assert_eq!(frozen.code, 1, "{}", frozen.stderr);
    assert_eq!(frozen.nodes("failed"), set(&["sums"]));
    assert!(
        frozen
            .stderr
            .contains("error: node `sums` failed: --frozen, and it would run: artifact missing"),
        "{}",
        frozen.stderr
    );
    assert_eq!(p.manifest_keys().len(), 2);
}

#[test]
fn how_many_fetch_workers_is_not_in_the_key() {
    let p = Project::new(&Backend::Local, "unkeyed");
    p.write("audio/a.bin", "track a");
    p.write("tracks.csv", "track_id,uri\na,audio/a.bin\n");
    let pipeline = |jobs: u32| {
        format!(
            "nodes:\n  - {{name: tracks, stage: load_table, params: {{path: tracks.csv}}}}\n  \
             - {{name: audio, stage: fetch, params: {{jobs: {jobs}, timeout_s: 5}}, \
             inputs: {{tracks: tracks}}}}\n"
        )
    };
    p.write("pipeline.yaml", &pipeline(2));
    let first = p.run(&["run", "--json"]).ok();
    p.write(
        "pipeline.yaml",
        &pipeline(7).replace("timeout_s: 5", "timeout_s: 9"),
    );
    let again = p.run(&["run", "--json"]).ok();
    assert_eq!(again.nodes("cached"), set(&["tracks", "audio"]));
    assert_eq!(
        key_of(&again.json(), "audio"),
        key_of(&first.json(), "audio")
    );
}

/// The real `synth_table`, one version later, whose `lyrics` table lost
/// its last row: every other table keeps its bytes.
struct LyricsChanged(Arc<dyn Stage>);

impl Stage for LyricsChanged {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn version(&self) -> u32 {
        self.0.version() + 1
    }
    fn doc(&self) -> &'static str {
        self.0.doc()
    }
    fn params(&self) -> &'static [ParamSpec] {
        self.0.params()
    }
    fn inputs(&self) -> &'static [InputSpec] {
        self.0.inputs()
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let mut out = self.0.run(ctx)?;
        if ctx.params.str("table")? == "lyrics" {
            if let Some(Output::Table(t)) = out.files.get_mut("table") {
                *t = t.slice(0, t.num_rows() - 1);
            }
        }
        Ok(out)
    }
}

const LABELS: &str = "nodes:
  - name: labels_{table}
    stage: synth_table
    foreach: {table: [tag, lyrics, artist]}
    params: {preset: tiny, seed: 1, table: '{table}'}
  - name: z_{source}
    stage: factorize
    foreach: {source: [tag, lyrics]}
    params: {source: '{source}'}
    inputs: {labels: 'labels_{source}'}
  - name: z_artist
    stage: factorize_artist
    inputs: {artist_map: labels_artist, tags: labels_tag}
";

/// Driven through the library with a changed registry (a local store: the
/// in-process run reads its S3 settings from the process environment).
#[test]
fn only_what_reads_lyrics_reruns() {
    let p = Project::new(&Backend::Local, "cutoff-lyrics");
    p.write("pipeline.yaml", LABELS);
    let standard = torch_stages::registry();
    let all = set(&[
        "labels_tag",
        "labels_lyrics",
        "labels_artist",
        "z_tag",
        "z_lyrics",
        "z_artist",
    ]);
    assert_eq!(ran(&run_with(&standard, &p)), all);
    let mut changed = standard.clone();
    changed.insert(Arc::new(LyricsChanged(
        standard.find("synth_table").unwrap(),
    )));
    let report = run_with(&changed, &p);
    assert!(report.failed().is_empty(), "{:?}", report.nodes);
    assert_eq!(
        ran(&report),
        set(&["labels_tag", "labels_lyrics", "labels_artist", "z_lyrics"])
    );
    assert!(ran(&run_with(&changed, &p)).is_empty());
}

/// A test-only stage whose output is the clock: never the same bytes twice.
struct Clock;

impl Stage for Clock {
    fn name(&self) -> &'static str {
        "clock"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "the time, in nanoseconds"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn run(&self, _ctx: &StageContext) -> Result<Outputs, StageError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let mut outputs = Outputs::default();
        outputs
            .files
            .insert("now".into(), Output::Bytes(now.to_string().into_bytes()));
        Ok(outputs)
    }
}

#[test]
fn check_names_the_node_whose_bytes_are_not_reproducible() {
    let p = Project::new(&Backend::Local, "check-clock");
    p.write(
        "pipeline.yaml",
        "nodes:\n  - {name: source, stage: read_csv, params: {path: data.csv}}\n  - {name: stamp, stage: clock}\n",
    );
    p.write("data.csv", "g,x\na,1\n");
    let mut registry = torch_stages::registry();
    registry.insert(Arc::new(Clock));
    let first = run_with(&registry, &p);
    assert_eq!(ran(&first), set(&["source", "stamp"]));
    let check = pipeline::RunOptions {
        jobs: 2,
        check: true,
        ..Default::default()
    };
    let report = run_opts(&registry, &p, &check);
    let differing: Vec<&str> = report.differing().iter().map(|n| n.node.as_str()).collect();
    assert_eq!(differing, ["stamp"], "{:?}", report.nodes);
    let source = report.nodes.iter().find(|n| n.node == "source").unwrap();
    assert!(
        matches!(&source.outcome, pipeline::Outcome::Checked { differences, .. } if differences.is_empty()),
        "{:?}",
        source.outcome
    );
    // --only checks only the nodes it names; nothing committed changed.
    let only = pipeline::RunOptions {
        only: vec!["source".into()],
        ..check
    };
    assert!(run_opts(&registry, &p, &only).differing().is_empty());
    let after = run_with(&registry, &p);
    assert!(ran(&after).is_empty());
    assert_eq!(
        after.nodes.iter().map(|n| &n.key).collect::<Vec<_>>(),
        first.nodes.iter().map(|n| &n.key).collect::<Vec<_>>()
    );
}
