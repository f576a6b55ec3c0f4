//! `fetch` end to end: the real binary against a misbehaving HTTP server
//! (tests/fault_server.py), a real S3 server (s3s-fs) and local paths.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use arrow::array::{Array, RecordBatch, StringArray, UInt64Array};
use serde_json::Value;

use crate::support::*;

/// Runs the binary in `p`, with S3 settings for `s3` when given.
pub fn run_in(p: &Project, args: &[&str], s3: Option<&str>) -> Ran {
    let mut cmd = p.command(args);
    if let Some(endpoint) = s3 {
        s3_env(&mut cmd, endpoint);
    }
    cmd.output().expect("the binary starts").into()
}

/// The sealed manifest of `node` as of the `run --json` report `ran`.
pub fn manifest_of(p: &Project, ran: &Ran, node: &str) -> Value {
    let key = key_of(&ran.json(), node);
    let text = std::fs::read_to_string(p.store_dir().join(format!("manifests/{key}.json")))
        .unwrap_or_else(|e| panic!("no manifest for {node}: {e}"));
    serde_json::from_str::<Value>(&text).unwrap()["manifest"].clone()
}

/// The stored bytes of output `file` of `node`.
pub fn output_bytes(p: &Project, ran: &Ran, node: &str, file: &str) -> Vec<u8> {
    let key = key_of(&ran.json(), node);
    std::fs::read(p.blob_of(&key, file)).unwrap_or_else(|e| panic!("{node}/{file}: {e}"))
}

/// Output `file` of `node`, read as Parquet without the engine.
pub fn output_table(p: &Project, ran: &Ran, node: &str, file: &str) -> RecordBatch {
    let bytes = output_bytes(p, ran, node, file);
    storage::table::from_parquet(file, bytes.into()).unwrap()
}

pub fn strings(table: &RecordBatch, column: &str) -> Vec<String> {
    let c = table
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap_or_else(|| panic!("{column} is not Utf8"));
    (0..c.len()).map(|i| c.value(i).to_string()).collect()
}

/// Deterministic, incompressible test content.
pub fn payload(name: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(name.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// tests/fault_server.py on a free loopback port; killed on drop.
pub struct FaultServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl FaultServer {
    pub fn start(slow_s: f64) -> FaultServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fault_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path().join("root"))
            .arg(dir.path().join("requests.log"))
            .args(["--slow", &slow_s.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts the fault server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("fault server said {line:?}"));
        FaultServer { child, port, dir }
    }

    /// Puts a file where the server serves it.
    pub fn serve(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join("root").join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn url(&self, mode: &str, name: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}/{name}", self.port)
    }

    /// Paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// How many times each path was requested.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self.requests() {
            *counts.entry(r).or_insert(0) += 1;
        }
        counts
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const FETCH_ONLY: &str = r#"
nodes:
  - name: tracks
    stage: load_table
    params: {path: tracks.csv}
  - name: audio
    stage: fetch
    params: {jobs: 4, timeout_s: 1, retries: 3, backoff_ms: 20}
    inputs: {tracks: tracks}
"#;

#[test]
fn http_faults_are_retried_or_reported() {
    let server = FaultServer::start(3.0);
    let p = Project::new(&Backend::Local, "fetch-http");
    p.write("pipeline.yaml", FETCH_ONLY);
    // (track, mode, requests expected)
    let tracks = [
        ("ok", "ok", 1),
        ("flaky", "flaky", 3),
        ("slow", "slow", 2),
        ("dropped", "drop", 2),
        ("truncated", "truncate", 2),
        ("missing", "missing", 1),
        ("forbidden", "forbidden", 1),
        ("mismatch", "ok", 1),
        ("down", "down", 4),
        ("sha", "ok", 1),
        ("shabad", "ok", 1),
    ];
    let mut served = BTreeMap::new();
    let mut csv = String::from("track_id,uri,blake3,sha256\n");
    for (id, mode, _) in tracks {
        let bytes = payload(id, 40_000);
        let path = server.serve(&format!("{id}.bin"), &bytes);
        let (blake3, sha256) = match id {
            "ok" => (blake3_hex(&bytes), String::new()),
            "mismatch" => (blake3_hex(b"something else"), String::new()),
            "sha" => (String::new(), sha256_hex(&path)),
            "shabad" => (String::new(), "0".repeat(64)),
            _ => (String::new(), String::new()),
        };
        csv.push_str(&format!(
            "{id},{},{blake3},{sha256}\n",
            server.url(mode, &format!("{id}.bin"))
        ));
        served.insert(id, (bytes, path));
    }
    p.write("tracks.csv", &csv);

    let started = std::time::Instant::now();
    let ran = run_in(&p, &["run", "--json"], None).ok();
    assert!(
        started.elapsed().as_secs_f64() < 20.0,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(ran.nodes("ran"), set(&["tracks", "audio"]));
    assert!(
        ran.stderr.contains(
            "warning: node `audio`: 5 of 11 tracks could not be fetched and are listed in \
             `failures`; downstream stages go on with the 6 fetched: missing (HTTP 404 Not Found), \
             forbidden (HTTP 403 Forbidden), mismatch (blake3 mismatch"
        ),
        "{}",
        ran.stderr
    );

    // Exactly the tracks that could be fetched, with the bytes served.
    let fetched = output_table(&p, &ran, "audio", "fetched");
    assert_eq!(
        strings(&fetched, "track_id"),
        ["ok", "flaky", "slow", "dropped", "truncated", "sha"]
    );
    let sizes = fetched
        .column_by_name("size")
        .unwrap()
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap();
    assert!(sizes.values().iter().all(|&s| s == 40_000));
    for (id, hash) in strings(&fetched, "track_id")
        .iter()
        .zip(strings(&fetched, "blake3"))
    {
        let stored = output_bytes(&p, &ran, "audio", &format!("audio/{id}"));
        assert!(stored == served[id.as_str()].0, "{id}: stored bytes differ");
        assert_eq!(hash, blake3_hex(&stored));
    }

    // Exactly the failures, each with why.
    let failures = output_table(&p, &ran, "audio", "failures");
    let rows: Vec<(String, String, String)> = strings(&failures, "track_id")
        .into_iter()
        .zip(strings(&failures, "uri"))
        .zip(strings(&failures, "error"))
        .map(|((a, b), c)| (a, b, c))
        .collect();
    let sha_of_shabad = sha256_hex(&served["shabad"].1);
    let expected = vec![
        ("missing", "missing", "HTTP 404 Not Found".to_string()),
        ("forbidden", "forbidden", "HTTP 403 Forbidden".to_string()),
        (
            "mismatch",
            "ok",
            format!(
                "blake3 mismatch: the manifest says {}, the 40000 bytes fetched hash to {}",
                blake3_hex(b"something else"),
                blake3_hex(&served["mismatch"].0)
            ),
        ),
        (
            "down",
            "down",
            "HTTP 503 Service Unavailable (after 4 attempts)".to_string(),
        ),
        (
            "shabad",
            "ok",
            format!(
                "sha256 mismatch: the manifest says {}, the 40000 bytes fetched hash to {sha_of_shabad}",
                "0".repeat(64)
            ),
        ),
    ];
    let expected: Vec<(String, String, String)> = expected
        .into_iter()
        .map(|(id, mode, e)| (id.to_string(), server.url(mode, &format!("{id}.bin")), e))
        .collect();
    assert_eq!(rows, expected);

    // Retried exactly as the policy says: 5xx, a timeout, a reset and a cut
    // body again; 404, 403 and a checksum mismatch never.
    let counts = server.counts();
    for (id, mode, n) in tracks {
        let path = format!("/{mode}/{id}.bin");
        assert_eq!(
            counts.get(&path),
            Some(&n),
            "requests of {path}: {counts:?}"
        );
    }

    let meta = &manifest_of(&p, &ran, "audio")["metadata"];
    assert_eq!(meta["tracks"], 11);
    assert_eq!(meta["fetched"], 6);
    assert_eq!(meta["failed"], 5);
    assert_eq!(meta["bytes"], 6 * 40_000);

    // A second run retries the track that failed for a reason that may
    // pass (the server was down), and asks for no track already fetched.
    let before = server.requests().len();
    let again = run_in(&p, &["run", "--json"], None).ok();
    assert_eq!(again.nodes("cached"), set(&["tracks"]));
    assert_eq!(again.nodes("ran"), set(&["audio"]));
    let asked: Vec<String> = server.requests()[before..].to_vec();
    let down = asked.iter().filter(|r| *r == "/down/down.bin").count();
    assert_eq!(down, 4, "{asked:?}");
    for fetched in ["ok", "flaky", "slow", "dropped", "truncated", "sha"] {
        assert!(
            !asked
                .iter()
                .any(|r| r.ends_with(&format!("/{fetched}.bin"))),
            "{fetched} asked again: {asked:?}"
        );
    }
}

#[test]
fn a_new_manifest_fetches_only_the_new_tracks() {
    let server = FaultServer::start(3.0);
    let p = Project::new(&Backend::Local, "fetch-resume");
    p.write("pipeline.yaml", FETCH_ONLY);
    let mut csv = String::from("track_id,uri\n");
    for id in ["a", "b", "c", "d", "e"] {
        server.serve(&format!("{id}.bin"), &payload(id, 10_000));
    }
    for id in ["a", "b", "c"] {
        csv.push_str(&format!(
            "{id},{}\n",
            server.url("ok", &format!("{id}.bin"))
        ));
    }
    p.write("tracks.csv", &csv);
    run_in(&p, &["run"], None).ok();
    assert_eq!(server.requests().len(), 3);

    // One track more: the manifest and so the fetch node's key change, but
    // only the new track goes over the network: the others are items that
    // the engine keeps for any fetch node with the same parameters.
    csv.push_str(&format!("d,{}\n", server.url("ok", "d.bin")));
    p.write("tracks.csv", &csv);
    let ran = run_in(&p, &["run", "--json"], None).ok();
    assert_eq!(ran.nodes("ran"), set(&["tracks", "audio"]));
    assert_eq!(server.requests()[3..], ["/ok/d.bin".to_string()]);
    let meta = &manifest_of(&p, &ran, "audio")["metadata"];
    assert_eq!(
        (&meta["downloaded"], &meta["reused"]),
        (&1.into(), &3.into())
    );
    let fetched = output_table(&p, &ran, "audio", "fetched");
    assert_eq!(strings(&fetched, "track_id"), ["a", "b", "c", "d"]);
    for id in ["a", "b", "c", "d"] {
        assert_eq!(
            output_bytes(&p, &ran, "audio", &format!("audio/{id}")),
            payload(id, 10_000)
        );
    }

    // A parameter in the key is in every item's key: another track size
    // limit fetches everything again.
    p.write(
        "pipeline.yaml",
        &FETCH_ONLY.replace("params: {jobs: 4,", "params: {max_track_mib: 64, jobs: 4,"),
    );
    let other = run_in(&p, &["run"], None).ok();
    assert_eq!(server.requests().len(), 4 + 4, "{}", other.stderr);
}

#[test]
fn s3_and_path_sources() {
    let s3 = S3Server::start();
    let media = s3.root.path().join("media/previews");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("s3.bin"), payload("s3", 20_000)).unwrap();
    let p = Project::new(&Backend::Local, "fetch-sources");
    p.write("pipeline.yaml", FETCH_ONLY);
    std::fs::create_dir_all(p.path("audio")).unwrap();
    std::fs::create_dir_all(p.path("elsewhere dir")).unwrap();
    std::fs::write(p.path("audio/rel.bin"), payload("rel", 3_000)).unwrap();
    std::fs::write(p.path("elsewhere dir/abs.bin"), payload("abs", 4_000)).unwrap();
    let abs = format!(
        "file://{}",
        p.path("elsewhere dir/abs.bin")
            .display()
            .to_string()
            .replace(' ', "%20")
    );
    p.write(
        "tracks.csv",
        &format!(
            "track_id,uri,blake3\n\
             s3,s3://media/previews/s3.bin,{}\n\
             s3missing,s3://media/previews/nope.bin,\n\
             rel,audio/rel.bin,\n\
             abs,{abs},\n\
             gone,audio/gone.bin,\n",
            blake3_hex(&payload("s3", 20_000))
        ),
    );
    let ran = run_in(&p, &["run", "--json"], Some(&s3.endpoint())).ok();
    let fetched = output_table(&p, &ran, "audio", "fetched");
    assert_eq!(
        strings(&fetched, "track_id"),
        ["s3", "rel", "abs"],
        "{}",
        ran.stderr
    );
    for (id, len) in [("s3", 20_000), ("rel", 3_000), ("abs", 4_000)] {
        assert_eq!(
            output_bytes(&p, &ran, "audio", &format!("audio/{id}")),
            payload(id, len),
            "{id}"
        );
    }
    let failures = output_table(&p, &ran, "audio", "failures");
    assert_eq!(strings(&failures, "track_id"), ["s3missing", "gone"]);
    assert_eq!(
        strings(&failures, "error"),
        ["no such S3 object", "no such file"]
    );
}

#[test]
fn too_many_failures_fail_the_node_and_a_rerun_resumes() {
    let p = Project::new(&Backend::Local, "fetch-fraction");
    p.write(
        "pipeline.yaml",
        &FETCH_ONLY.replace(
            "backoff_ms: 20}",
            "backoff_ms: 20, max_failure_fraction: 0.4}",
        ),
    );
    std::fs::create_dir_all(p.path("audio")).unwrap();
    std::fs::write(p.path("audio/a.bin"), payload("a", 1_000)).unwrap();
    p.write("tracks.csv", "track_id,uri\na,audio/a.bin\nb,audio/b.bin\n");
    let failed = run_in(&p, &["run", "--json"], None);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.nodes("failed"), set(&["audio"]));
    assert!(
        failed.stderr.contains(
            "1 of 2 tracks could not be fetched, more than max_failure_fraction = 0.4: \
             b (no such file); the 1 fetched are kept and the next run fetches only the rest"
        ),
        "{}",
        failed.stderr
    );

    // The missing file appears; `a` is not read again (it is gone from disk
    // now, so reading it would fail): the node resumes from what it kept.
    std::fs::write(p.path("audio/b.bin"), payload("b", 1_000)).unwrap();
    std::fs::remove_file(p.path("audio/a.bin")).unwrap();
    let ran = run_in(&p, &["run", "--json"], None).ok();
    assert_eq!(ran.nodes("ran"), set(&["audio"]));
    let meta = &manifest_of(&p, &ran, "audio")["metadata"];
    assert_eq!(
        (&meta["resumed"], &meta["downloaded"]),
        (&1.into(), &1.into())
    );
    assert_eq!(
        output_bytes(&p, &ran, "audio", "audio/a"),
        payload("a", 1_000)
    );
    p.run(&["verify"]).ok();
}
