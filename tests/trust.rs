//! End-to-end: what a shared store may be trusted with (issue 16, items 2,
//! 7 and 8). Credentials in an endpoint URL never reach a message; with a
//! team key set, a manifest that is unsigned or was edited and resealed by
//! someone without the key is reported by `verify` and recomputed by `run`;
//! and a blob that vanishes while its node runs is never committed as if it
//! were there.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fetch::{run_in, FaultServer};
use crate::support::*;

const TEAM_KEY: &str = "team-key-of-the-lab-0123456789";

/// A design node and a table read from a CSV: two nodes with blobs.
const TWO_NODES: &str = "nodes:\n  - name: design\n    stage: design\n    \
    params: {ssr_repeats: 1, multi_repeats: 1, greedy_runs: 1, seed: 5}\n  \
    - name: table\n    stage: read_csv\n    params: {path: data.csv}\n";

fn signed(p: &Project, args: &[&str]) -> Ran {
    p.command(args)
        .env("PIPELINE_MANIFEST_KEY", TEAM_KEY)
        .output()
        .expect("the binary starts")
        .into()
}

#[test]
fn credentials_in_an_endpoint_url_are_never_printed() {
    let secret = "Sup3rS3cretValue";
    let p = Project::new(&Backend::Local, "redact");
    p.write("pipeline.yaml", TWO_NODES);
    p.write("data.csv", "g,x\na,1\n");
    // Nothing listens on port 9 of the loopback: every request fails, and
    // the error names the endpoint.
    let endpoint = format!("http://AKIAEXAMPLE:{secret}@127.0.0.1:9");
    for args in [
        &["--store", "s3://bucket/study", "status"][..],
        &["--store", "s3://bucket/study", "run"],
        &["--remote", "s3://bucket/team", "status"],
        &["--store", "s3://bucket/study", "verify"],
    ] {
        let ran: Ran = std::process::Command::new(BIN)
            .current_dir(p.dir.path())
            .args(["--file", "pipeline.yaml"])
            .args(args)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_REGION", "us-east-1")
            .env("PIPELINE_LOG", "debug")
            .output()
            .unwrap()
            .into();
        let all = format!("{}{}", ran.stdout, ran.stderr);
        assert!(!all.contains(secret), "{args:?} printed the secret:\n{all}");
        assert!(!all.contains("AKIAEXAMPLE:"), "{args:?}:\n{all}");
        // An unreachable remote cache is only a warning.
        if args[0] == "--store" {
            assert_ne!(ran.code, 0, "{args:?}:\n{all}");
            assert!(all.contains("***@127.0.0.1:9"), "{args:?}:\n{all}");
        }
    }
}

/// The sealed manifest of `key` on disk, and where it lies.
fn sealed(p: &Project, key: &str) -> (std::path::PathBuf, Value) {
    let path = p.store_dir().join("manifests").join(format!("{key}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    (path, serde_json::from_str(&text).unwrap())
}

#[test]
fn with_a_team_key_unsigned_and_resealed_manifests_are_refused() {
    let p = Project::new(&Backend::Local, "signed");
    p.write("pipeline.yaml", TWO_NODES);
    p.write("data.csv", "g,x\na,1\nb,2\n");

    // Written without the key: unsigned, so with the key nothing counts.
    let unsigned = p.run(&["run", "--json"]).ok();
    let first = signed(&p, &["verify"]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("not signed with the team key (PIPELINE_MANIFEST_KEY): it is unsigned"),
        "{}",
        first.stdout
    );
    let ran = signed(&p, &["run", "--json"]).ok();
    assert_eq!(ran.nodes("ran"), set(&["design", "table"]));
    assert_eq!(
        key_of(&ran.json(), "design"),
        key_of(&unsigned.json(), "design")
    );
    signed(&p, &["verify"]).ok();
    assert_eq!(
        signed(&p, &["run", "--json"]).ok().nodes("cached"),
        set(&["design", "table"])
    );

    // Someone who can write the store but has no key points design's
    // `runs` at the table's valid blob and reseals the checksum.
    let report = ran.json();
    let (design_path, mut design) = sealed(&p, &key_of(&report, "design"));
    let (_, table) = sealed(&p, &key_of(&report, "table"));
    design["manifest"]["files"]["runs"] = table["manifest"]["files"]["table"].clone();
    let body = serde_json::to_vec(&design["manifest"]).unwrap();
    design["blake3"] = blake3::hash(&body).to_hex().to_string().into();
    std::fs::write(&design_path, serde_json::to_vec_pretty(&design).unwrap()).unwrap();

    // Without the key the forgery passes (the trust model: who can write
    // the bucket can write results); with it, it is caught.
    p.run(&["verify"]).ok();
    let caught = signed(&p, &["verify"]);
    assert_eq!(caught.code, 1, "{}", caught.stdout);
    assert!(
        caught.stdout.contains("its signature does not match"),
        "{}",
        caught.stdout
    );
    let mended = signed(&p, &["run", "--json"]).ok();
    assert_eq!(mended.nodes("ran"), set(&["design"]));
    assert_eq!(mended.nodes("cached"), set(&["table"]));
    signed(&p, &["verify"]).ok();
    let (_, design) = sealed(&p, &key_of(&report, "design"));
    assert_ne!(
        design["manifest"]["files"]["runs"],
        table["manifest"]["files"]["table"]
    );
}

#[test]
fn a_blob_that_vanishes_while_its_node_runs_is_not_committed() {
    let server = FaultServer::start(3.0);
    server.serve("a.bin", b"track a, fetched at once");
    server.serve("b.bin", b"track b, answered after three seconds");
    let p = Project::new(&Backend::Local, "vanish");
    p.write(
        "pipeline.yaml",
        "nodes:\n  - {name: tracks, stage: load_table, params: {path: tracks.csv}}\n  \
         - {name: audio, stage: fetch, params: {jobs: 2, timeout_s: 10}, \
         inputs: {tracks: tracks}}\n",
    );
    p.write(
        "tracks.csv",
        &format!(
            "track_id,uri\na,{}\nb,{}\n",
            server.url("ok", "a.bin"),
            server.url("slow", "b.bin")
        ),
    );
    let hash = blake3::hash(b"track a, fetched at once")
        .to_hex()
        .to_string();
    let blob = p.store_dir().join("blobs").join(&hash[..2]).join(&hash);
    let child = p
        .command(&["run", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While b is still on its way, a's emitted blob goes (a disk error, an
    // operator, a gc of another tool).
    let started = Instant::now();
    while !blob.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a never emitted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_file(&blob).unwrap();
    let ran: Ran = child.wait_with_output().unwrap().into();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("vanished from store") && ran.stderr.contains(&hash),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.nodes("failed"), set(&["audio"]));
    assert!(!p.manifest_keys().contains(&key_of(&ran.json(), "audio")));

    // The next run fetches again what is gone and commits a whole node.
    let again = run_in(&p, &["run", "--json"], None).ok();
    assert_eq!(again.nodes("ran"), set(&["audio"]));
    assert!(blob.exists());
    p.run(&["verify"]).ok();
}
