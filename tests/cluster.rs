//! The Slurm executor on a real one-host Slurm 22.05 cluster
//! (`scripts/slurm-cluster.sh`) over s3s-fs (issue 18): the same keys and
//! bytes as a local run, a second run submits nothing, a failing or
//! cancelled job is retried (then named with its log), a job over its
//! time limit is named TIMEOUT with the limit, a killed submitter loses
//! nothing (`status` shows its running job, the next run adopts it), a
//! failed job meant to replace a manifest is a failure, and bad input
//! fails before anything is submitted.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::fetch::{payload, FaultServer};
use crate::support::*;

/// A cluster of its own, stopped when dropped.
struct Slurm {
    dir: tempfile::TempDir,
    /// SLURM_CONF, LD_LIBRARY_PATH and PATH for its client commands.
    env: Vec<(String, String)>,
}

fn script() -> String {
    format!("{}/../scripts/slurm-cluster.sh", env!("CARGO_MANIFEST_DIR"))
}

impl Slurm {
    /// None, with the reason printed, where Slurm cannot be installed here.
    fn start() -> Option<Slurm> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            assert!(
                why.contains("cannot install") || why.contains("cannot download"),
                "the cluster did not start: {why}"
            );
            eprintln!("skipped: no Slurm here: {why}");
            return None;
        }
        let shown = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}/env.sh && printf '%s\\n%s\\n%s' \"$SLURM_CONF\" \"$LD_LIBRARY_PATH\" \"$PATH\"",
                dir.path().display()
            ))
            .output()
            .unwrap();
        let text = String::from_utf8(shown.stdout).unwrap();
        let values: Vec<&str> = text.lines().collect();
        let env = ["SLURM_CONF", "LD_LIBRARY_PATH", "PATH"]
            .iter()
            .zip(values)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Slurm { dir, env })
    }

    fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, p: &Project, args: &[&str]) -> Ran {
        self.apply(&mut p.command(args)).output().unwrap().into()
    }

    /// How many jobs the cluster has seen.
    fn jobs(&self) -> usize {
        let out = self
            .apply(&mut Command::new("squeue"))
            .args(["--states=all", "-h", "-o", "%i"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

const STUDY: &str = r#"
nodes:
  - name: corpus
    stage: synth_audio
    params: {preset: tiny, seed: 5}
  - name: audio
    stage: fetch
    inputs: {tracks: corpus, files: corpus}
  - name: mel
    stage: mel
    inputs: {audio: audio}
  - name: labels_{table}
    stage: synth_table
    foreach: {table: [tag, artist]}
    params: {preset: tiny, seed: 5, table: "{table}"}
  - name: scaler
    stage: scaler
    inputs: {mel: mel, tracks: labels_artist}
  - name: z_tag
    stage: factorize
    params: {source: tag, iterations: 10}
    inputs: {labels: labels_tag}
  - name: extra
    stage: read_csv
    params: {path: extra.csv}
"#;

/// Manifest key -> its files' digests, as the store holds them.
fn committed(p: &Project) -> BTreeMap<String, Value> {
    p.manifest_keys()
        .into_iter()
        .map(|key| {
            let text = std::fs::read_to_string(p.store_dir().join(format!("manifests/{key}.json")))
                .unwrap();
            let sealed: Value = serde_json::from_str(&text).unwrap();
            (key, sealed["manifest"]["files"].clone())
        })
        .collect()
}

fn blobs(store: &Path) -> Vec<String> {
    let mut out: Vec<String> = files_under(&store.join("blobs"))
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn slurm_leaves_the_store_a_local_run_leaves_and_resubmits_nothing() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let on_cluster = Project::new(&server.backend(), "on-slurm");
    let here = Project::new(&server.backend(), "here");
    for p in [&on_cluster, &here] {
        p.write("pipeline.yaml", STUDY);
        p.write("extra.csv", "a,b\n1,2\n");
    }
    let ran = slurm
        .run(&on_cluster, &["run", "--executor", "slurm", "--json"])
        .ok();
    assert_eq!(ran.nodes("ran").len(), 8, "{}", ran.stderr);
    assert!(ran.stderr.contains("queued mel (job "), "{}", ran.stderr);
    let submitted = slurm.jobs();
    assert_eq!(submitted, 8);
    here.run(&["run", "--json"]).ok();
    assert_eq!(committed(&on_cluster), committed(&here));
    assert_eq!(blobs(&on_cluster.store_dir()), blobs(&here.store_dir()));
    // The jobs' specs and files went with their checkpoints (s3s-fs may
    // keep the emptied directories).
    let left = files_under(&on_cluster.store_dir().join("checkpoints"));
    assert!(left.is_empty(), "checkpoints left: {left:?}");

    let again = slurm
        .run(&on_cluster, &["run", "--executor", "slurm", "--json"])
        .ok();
    assert!(again.nodes("ran").is_empty());
    assert_eq!(slurm.jobs(), submitted, "a cached run submitted jobs");
    on_cluster.run(&["verify"]).ok();
}

#[test]
fn a_failing_job_is_retried_then_named_with_its_log_and_the_rest_commits() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let p = Project::new(&server.backend(), "failing");
    p.write(
        "pipeline.yaml",
        r#"
cluster:
  retries: 1
nodes:
  - name: good
    stage: read_csv
    params: {path: good.csv}
  - name: bad
    stage: load_table
    params: {path: bad.csv}
"#,
    );
    p.write("good.csv", "a\n1\n");
    p.write("bad.csv", "track_id\nt1\n");
    let out = slurm.run(&p, &["run", "--executor", "slurm", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.nodes("ran"), set(&["good"]));
    assert_eq!(out.nodes("failed"), set(&["bad"]));
    let error = out.json()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "bad")
        .unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("2 attempt(s) failed"), "{error}");
    assert_eq!(
        error.matches("ended FAILED without committing").count(),
        2,
        "{error}"
    );
    // The log's tail carries the stage's own error.
    assert!(error.contains("column `uri`: missing"), "{error}");
    assert_eq!(slurm.jobs(), 3);
}

#[test]
fn a_failed_job_that_was_to_replace_a_manifest_is_a_failure_and_the_old_one_stays() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let p = Project::new(&server.backend(), "replace");
    let one = "nodes:\n  - {name: a, stage: read_csv, params: {path: a.csv}}\n";
    p.write("a.csv", "a\n1\n");
    p.write("pipeline.yaml", one);
    slurm
        .run(&p, &["run", "--executor", "slurm", "--json"])
        .ok();
    let before = committed(&p);
    // Jobs without the submitter's environment cannot reach the store.
    p.write(
        "pipeline.yaml",
        &format!("cluster: {{retries: 0, sbatch_args: [--export=NONE]}}\n{one}"),
    );
    let out = slurm.run(
        &p,
        &["run", "--executor", "slurm", "--force", "a", "--json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.nodes("failed"), set(&["a"]), "{}", out.stderr);
    assert_eq!(committed(&p), before);
    p.run(&["verify"]).ok();
}

#[test]
fn bad_cluster_input_fails_before_anything_is_submitted() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let p = Project::new(&server.backend(), "bad-input");
    let one = "nodes:\n  - {name: a, stage: read_csv, params: {path: a.csv}}\n";
    p.write("a.csv", "a\n1\n");
    let cases: [(&str, &str); 4] = [
        ("cluster: {partition: nowhere}\n", "no partition `nowhere`"),
        (
            "cluster: {resources: {read_csv: {mem: lots}}}\n",
            "cluster.resources.read_csv.mem: `lots` is not a memory size",
        ),
        (
            "cluster: {resources: {read_csv: {time: 1h}}}\n",
            "cluster.resources.read_csv.time: `1h`",
        ),
        (
            "cluster: {resources: {trian: {cpus: 2}}}\n",
            "cluster.resources.trian.stage: no node of this pipeline runs it",
        ),
    ];
    for (section, message) in cases {
        p.write("pipeline.yaml", &format!("{section}{one}"));
        let out = slurm.run(&p, &["run", "--executor", "slurm"]);
        assert_eq!(out.code, 2, "{section}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{section}: {}", out.stderr);
    }
    p.write("pipeline.yaml", one);
    // A store on this machine's disk: the jobs could not reach it.
    let local = Project::new(&Backend::Local, "bad-input-local");
    local.write("pipeline.yaml", one);
    local.write("a.csv", "a\n1\n");
    let out = slurm.run(&local, &["run", "--executor", "slurm"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("cluster's jobs cannot reach"),
        "{}",
        out.stderr
    );
    // No sbatch on PATH.
    let out: Ran = p
        .command(&["run", "--executor", "slurm"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("sbatch is not on PATH"),
        "{}",
        out.stderr
    );
    let out = slurm.run(&p, &["run", "--executor", "kubernetes"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown executor `kubernetes`"),
        "{}",
        out.stderr
    );
    assert_eq!(slurm.jobs(), 0, "bad input submitted jobs");
    assert!(p.manifest_keys().is_empty());
}

/// A fetch whose first request for the track hangs (the file server's
/// `slow` mode), so that its job is caught running.
const SLOW_FETCH: &str = r#"
nodes:
  - name: tracks
    stage: load_table
    params: {path: tracks.csv}
  - name: audio
    stage: fetch
    params: {timeout_s: 300, retries: 0}
    inputs: {tracks: tracks}
"#;

fn slow_project(server: &S3Server, files: &FaultServer, name: &str) -> Project {
    let p = Project::new(&server.backend(), name);
    files.serve("t1.wav", &payload("t1", 4096));
    p.write("pipeline.yaml", SLOW_FETCH);
    p.write(
        "tracks.csv",
        &format!("track_id,uri\nt1,{}\n", files.url("slow", "t1.wav")),
    );
    p
}

impl Slurm {
    /// Starts `pipeline run --executor slurm --json` and waits until the
    /// fetch job's request reaches the file server.
    fn start_run(&self, p: &Project, files: &FaultServer) -> std::process::Child {
        let child = self
            .apply(&mut p.command(&["run", "--executor", "slurm", "--json"]))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(120), || !files.requests().is_empty()),
            "the fetch job never asked for the track"
        );
        child
    }

    fn running(&self) -> Vec<String> {
        let out = self
            .apply(&mut Command::new("squeue"))
            .args(["-h", "-t", "RUNNING,PENDING", "-o", "%i"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }
}

#[test]
fn a_job_cancelled_mid_run_is_submitted_again_and_its_node_commits() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let files = FaultServer::start(600.0);
    let p = slow_project(&server, &files, "cancelled");
    let child = slurm.start_run(&p, &files);
    let running = slurm.running();
    assert_eq!(running.len(), 1, "{running:?}");
    slurm
        .apply(&mut Command::new("scancel"))
        .args(&running)
        .status()
        .unwrap();
    let out: Ran = child.wait_with_output().unwrap().into();
    let out = out.ok();
    assert!(out.nodes("ran").contains("audio"));
    assert!(
        out.stderr.contains("queued audio (job ") && out.stderr.contains("attempt 2 of 3"),
        "{}",
        out.stderr
    );
    // The second job asked again, and the server answered at once.
    assert_eq!(files.requests().len(), 2);
    p.run(&["verify"]).ok();
}

#[test]
fn a_killed_submitter_loses_nothing_and_the_next_run_submits_only_what_is_missing() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let files = FaultServer::start(5.0);
    let p = slow_project(&server, &files, "killed");
    let mut child = slurm.start_run(&p, &files);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The job outlives its submitter and commits the node.
    assert!(
        wait_until(Duration::from_secs(120), || slurm.running().is_empty()),
        "the orphaned job never ended"
    );
    let jobs = slurm.jobs();
    let again = slurm
        .run(&p, &["run", "--executor", "slurm", "--json"])
        .ok();
    assert!(again.nodes("ran").is_empty(), "{}", again.stderr);
    assert_eq!(slurm.jobs(), jobs, "a committed node was submitted again");
    p.run(&["verify"]).ok();
}

#[test]
fn status_shows_a_killed_submitters_running_job_and_the_next_run_adopts_it() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let files = FaultServer::start(15.0);
    let p = slow_project(&server, &files, "adopted");
    let mut child = slurm.start_run(&p, &files);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let running = slurm.running();
    assert_eq!(running.len(), 1, "{running:?}");

    // Any login node sharing the store sees the job.
    let status = slurm.run(&p, &["status", "--json"]).ok().json();
    let audio = status
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "audio")
        .unwrap()
        .clone();
    assert_eq!(audio["state"], "running", "{audio}");
    assert_eq!(audio["job"]["id"], running[0].as_str(), "{audio}");
    assert_eq!(audio["job"]["detail"], "localhost", "{audio}");
    let text = slurm.run(&p, &["status"]).ok().stdout;
    assert!(
        text.contains(&format!("(job {} on localhost)", running[0]))
            && text.contains("on the cluster: 1 running, 0 queued"),
        "{text}"
    );

    let jobs = slurm.jobs();
    let again = slurm
        .run(&p, &["run", "--executor", "slurm", "--json"])
        .ok();
    assert!(
        again
            .stderr
            .contains(&format!("adopted audio (job {}", running[0])),
        "{}",
        again.stderr
    );
    assert!(again.nodes("ran").contains("audio"), "{}", again.stderr);
    assert_eq!(slurm.jobs(), jobs, "the running job was submitted again");
    assert_eq!(files.requests().len(), 1, "the track was fetched twice");
    // Its record went with the job: status shows nothing running.
    let after = slurm.run(&p, &["status"]).ok().stdout;
    assert!(!after.contains("on the cluster"), "{after}");
    p.run(&["verify"]).ok();
}

#[test]
fn a_job_over_its_time_limit_is_reported_as_timeout_with_the_limit() {
    let Some(slurm) = Slurm::start() else { return };
    let server = S3Server::start();
    let files = FaultServer::start(600.0);
    let p = slow_project(&server, &files, "timeout");
    p.write(
        "pipeline.yaml",
        &format!("cluster: {{retries: 0, resources: {{fetch: {{time: '1'}}}}}}\n{SLOW_FETCH}"),
    );
    let out = slurm.run(&p, &["run", "--executor", "slurm", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.nodes("failed"), set(&["audio"]));
    assert!(
        out.stderr
            .contains("ended TIMEOUT without committing (time limit 1)"),
        "{}",
        out.stderr
    );
    assert!(
        p.manifest_keys().len() == 1,
        "the tracks node stays committed"
    );
}

/// What a cluster job runs, given what it cannot work with: a clear error,
/// and nothing written.
#[test]
fn exec_node_names_a_missing_store_or_spec() {
    let server = S3Server::start();
    let p = Project::new(&server.backend(), "exec-node");
    let no_store: Ran = Command::new(BIN)
        .args(["exec-node", "abc"])
        .output()
        .unwrap()
        .into();
    assert_eq!(no_store.code, 2, "{}", no_store.stderr);
    assert!(
        no_store.stderr.contains("exec-node needs --store"),
        "{}",
        no_store.stderr
    );
    let key = "0".repeat(64);
    let missing = p.run(&["exec-node", &key]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains(&format!("no node spec for key {key}")),
        "{}",
        missing.stderr
    );
    assert!(p.manifest_keys().is_empty());
}
