//! gc and runs sharing one store (issue 16, items 1-2): gc deletes nothing
//! while a run holds a lease, and a run waits while a gc holds one.

use std::process::Stdio;
use std::time::Duration;

use crate::fetch::FaultServer;
use crate::support::*;

/// One track served at once and one whose server waits 4 s: the run holds
/// its lease while the fast track's blob already sits unreferenced in the
/// store, which is what an unguarded gc deletes.
const SLOW_FETCH: &str = r#"
nodes:
  - name: tracks
    stage: load_table
    params: {path: tracks.csv}
  - name: audio
    stage: fetch
    params: {jobs: 2, timeout_s: 10, retries: 0}
    inputs: {tracks: tracks}
"#;

fn blob_count(p: &Project) -> usize {
    let Ok(shards) = std::fs::read_dir(p.store_dir().join("blobs")) else {
        return 0;
    };
    shards
        .flatten()
        .map(|s| std::fs::read_dir(s.path()).map_or(0, |f| f.count()))
        .sum()
}

/// `gc --grace 0` during a run deletes none of the run's blobs: it stops
/// with exit 1 naming the run, and the run commits a verifiable artifact.
pub fn gc_during_a_run_deletes_nothing(backend: &Backend) {
    let server = FaultServer::start(4.0);
    server.serve("fast.bin", &vec![1u8; 30_000]);
    server.serve("late.bin", &vec![2u8; 30_000]);
    let p = Project::new(backend, "gc-during-run");
    p.write("pipeline.yaml", SLOW_FETCH);
    p.write(
        "tracks.csv",
        &format!(
            "track_id,uri\nfast,{}\nlate,{}\n",
            server.url("ok", "fast.bin"),
            server.url("slow", "late.bin")
        ),
    );
    let run = p
        .command(&["run", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The tracks table and the fast track are stored, the late one not yet.
    assert!(
        wait_until(Duration::from_secs(20), || blob_count(&p) >= 2),
        "the run stored nothing"
    );
    let gc = p.run(&["gc", "--grace", "0"]);
    assert_eq!(gc.code, 1, "stdout:\n{}\nstderr:\n{}", gc.stdout, gc.stderr);
    assert!(
        gc.stderr.contains("gc stopped early: a run is using store"),
        "{}",
        gc.stderr
    );
    assert!(
        gc.stdout.starts_with("deleted 0 manifests and 0 blobs"),
        "{}",
        gc.stdout
    );
    let ran: Ran = run.wait_with_output().unwrap().into();
    let ran = ran.ok();
    assert_eq!(ran.nodes("ran"), set(&["tracks", "audio"]));
    p.run(&["verify"]).ok();
    // With the run gone, gc may delete again (here: nothing is unneeded).
    let after = p.run(&["gc", "--grace", "0"]).ok();
    assert!(
        after.stdout.starts_with("deleted 0 manifests"),
        "{}",
        after.stdout
    );
}

#[test]
fn local_gc_during_a_run_deletes_nothing() {
    gc_during_a_run_deletes_nothing(&Backend::Local);
}

#[test]
fn s3_gc_during_a_run_deletes_nothing() {
    let server = S3Server::start();
    gc_during_a_run_deletes_nothing(&server.backend());
}

/// A run waits while a live gc lease is on the store and starts once it is
/// gone; a lease left by a gc that died a while ago is not waited for.
#[test]
fn a_run_waits_for_a_live_gc_and_not_for_a_dead_one() {
    let p = Project::new(&Backend::Local, "run-waits");
    p.write(
        "pipeline.yaml",
        SLOW_FETCH.split("  - name: audio").next().unwrap(),
    );
    p.write("tracks.csv", "track_id,uri\na,a.wav\n");
    let leases = p.store_dir().join("leases");
    std::fs::create_dir_all(&leases).unwrap();
    let dead = leases.join("gc-dead.json");
    std::fs::write(&dead, r#"{"kind":"gc","host":"h","pid":1}"#).unwrap();
    let two_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&dead)
        .unwrap()
        .set_modified(two_minutes_ago)
        .unwrap();
    let quick = p.run(&["run"]).ok();
    assert!(!quick.stderr.contains("waiting"), "{}", quick.stderr);

    let live = leases.join("gc-live.json");
    std::fs::write(&live, r#"{"kind":"gc","host":"h","pid":2}"#).unwrap();
    let mut run = p
        .command(&["run", "--json", "--force", "tracks"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    std::thread::sleep(Duration::from_secs(2));
    assert!(run.try_wait().unwrap().is_none(), "the run did not wait");
    std::fs::remove_file(&live).unwrap();
    let ran: Ran = run.wait_with_output().unwrap().into();
    let ran = ran.ok();
    assert!(
        ran.stderr.contains("waiting: gc is deleting in store"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.nodes("ran"), set(&["tracks"]));
}
