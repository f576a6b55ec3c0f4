//! Hostile and careless inputs to the stages, end to end through the real
//! binary (issue 16, items 4, 6 and 11): an outage while fetching, local
//! uris that name what is not the pipeline's to read, spreadsheet CSVs, ids
//! that would leave a directory, and audio headers that lie.

use std::path::Path;
use std::process::Command;

use crate::fetch::{manifest_of, output_table, run_in, strings, FaultServer};
use crate::support::*;

/// `args` in `p`, with no download cache setting from the caller's
/// environment.
fn run(p: &Project, args: &[&str]) -> Ran {
    run_in(p, args, None)
}

fn has_manifest(p: &Project, ran: &Ran, node: &str) -> bool {
    p.manifest_keys().contains(&key_of(&ran.json(), node))
}

/// Whether any file under `dir` contains `needle`.
fn any_file_contains(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            any_file_contains(&path, needle)
        } else {
            std::fs::read(&path)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        }
    })
}

/// `load_table` of tracks.csv, then `fetch` with quick retries.
const FETCH: &str = r#"
nodes:
  - name: tracks
    stage: load_table
    params: {path: tracks.csv}
  - name: audio
    stage: fetch
    params: {timeout_s: 2, retries: 1, backoff_ms: 10}
    inputs: {tracks: tracks}
"#;

#[test]
fn an_outage_fails_the_node_or_is_noted_for_the_next_run() {
    let server = FaultServer::start(3.0);
    server.serve("a.bin", b"track a");
    server.serve("b.bin", b"track b");
    let p = Project::new(&Backend::Local, "outage");
    p.write("pipeline.yaml", FETCH);

    // Every uri down: the node fails (nothing is committed to be cached).
    p.write(
        "tracks.csv",
        &format!(
            "track_id,uri\na,{}\nb,{}\n",
            server.url("down", "a.bin"),
            server.url("down", "b.bin")
        ),
    );
    let ran = run(&p, &["run", "--json"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.nodes("failed"), set(&["audio"]));
    assert!(
        ran.stderr.contains(
            "none of the 2 tracks could be fetched (max_failure_fraction = 0.99): \
             a (HTTP 503 Service Unavailable (after 2 attempts)), \
             b (HTTP 503 Service Unavailable (after 2 attempts))"
        ),
        "{}",
        ran.stderr
    );
    assert!(!has_manifest(&p, &ran, "audio"));

    // One track down (503 twice: both attempts), one gone for good (404),
    // one up: committed, with the failure that may pass noted for the
    // engine, and `status` says the node runs again.
    p.write(
        "tracks.csv",
        &format!(
            "track_id,uri\na,{}\nb,{}\nc,{}\n",
            server.url("ok", "a.bin"),
            server.url("flaky", "b.bin"),
            server.url("missing", "c.bin")
        ),
    );
    let ran = run(&p, &["run", "--json"]).ok();
    let meta = &manifest_of(&p, &ran, "audio")["metadata"];
    assert_eq!(
        meta["retry_next_run"],
        "1 track failed for reasons that may pass \
         (b: HTTP 503 Service Unavailable (after 2 attempts))"
    );
    assert_eq!(
        strings(&output_table(&p, &ran, "audio", "fetched"), "track_id"),
        ["a"]
    );
    let status = run(&p, &["status", "--json"]).ok();
    let audio = status
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "audio")
        .cloned()
        .unwrap();
    assert_eq!(audio["state"], "run", "{audio}");
    assert!(
        audio["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("retrying what failed last time: 1 track failed"),
        "{audio}"
    );

    // A plain run again (the server answers now) asks only for `b`: `a` is
    // taken from the attempt's journal, `c` stays failed without being
    // asked again, and nothing is left to retry.
    let again = run(&p, &["run", "--json"]).ok();
    assert_eq!(again.nodes("ran"), set(&["audio"]));
    let meta = &manifest_of(&p, &again, "audio")["metadata"];
    assert_eq!(
        (&meta["downloaded"], &meta["resumed"], &meta["failed"]),
        (&1.into(), &1.into(), &1.into()),
        "{meta}"
    );
    assert!(meta.get("retry_next_run").is_none(), "{meta}");
    assert_eq!(
        strings(&output_table(&p, &again, "audio", "fetched"), "track_id"),
        ["a", "b"]
    );
    let failures = output_table(&p, &again, "audio", "failures");
    assert_eq!(strings(&failures, "track_id"), ["c"]);
    assert!(
        strings(&failures, "error")[0].contains("404"),
        "{failures:?}"
    );
    let counts = server.counts();
    assert_eq!(counts["/ok/a.bin"], 1, "{counts:?}");
    assert_eq!(counts["/flaky/b.bin"], 3, "{counts:?}");
    assert_eq!(counts["/missing/c.bin"], 1, "{counts:?}");
    let third = run(&p, &["run", "--json"]).ok();
    assert_eq!(third.nodes("cached"), set(&["tracks", "audio"]));
}

#[test]
fn local_uris_outside_the_project_are_refused_and_nothing_of_them_is_stored() {
    let p = Project::new(&Backend::Local, "outside");
    let elsewhere = tempfile::tempdir().unwrap();
    let marker = format!("hostile-marker-{}", std::process::id());
    std::fs::write(elsewhere.path().join("secret.bin"), &marker).unwrap();
    let secret = elsewhere.path().join("secret.bin").display().to_string();
    p.write("audio/a.bin", "track a");
    p.write("pipeline.yaml", FETCH);
    p.write(
        "tracks.csv",
        &format!(
            "track_id,uri\na,audio/a.bin\nenv,/proc/self/environ\nzero,file:///dev/zero\n\
             secret,{secret}\nup,../{}/secret.bin\n",
            elsewhere.path().file_name().unwrap().to_str().unwrap()
        ),
    );
    let started = std::time::Instant::now();
    let mut cmd = p.command(&["run", "--json"]);
    cmd.env("HOSTILE_MARKER", &marker);
    let ran: Ran = cmd.output().unwrap().into();
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.nodes("failed"), set(&["audio"]));
    for expected in [
        "4 local files may not be read: ",
        "row 2 (track \"env\", uri \"/proc/self/environ\"): /proc/self/environ (which resolves \
         to /proc/",
        "is under /proc, a kernel pseudo-file system, and is never read",
        "row 3 (track \"zero\", uri \"file:///dev/zero\"): /dev/zero is under /dev",
        &format!("row 4 (track \"secret\", uri \"{secret}\"): "),
        "is outside the pipeline's directory (",
        "to read it, add a directory that holds it to `allow_paths:` in pipeline.yaml",
        "; and 1 more",
    ] {
        assert!(ran.stderr.contains(expected), "{expected}\n{}", ran.stderr);
    }
    assert!(!has_manifest(&p, &ran, "audio"));
    assert!(!any_file_contains(&p.store_dir(), marker.as_bytes()));

    // Allowed by pipeline.yaml: read.
    p.write(
        "pipeline.yaml",
        &format!(
            "allow_paths: [{:?}]\n{FETCH}",
            elsewhere.path().display().to_string()
        ),
    );
    p.write(
        "tracks.csv",
        &format!("track_id,uri\na,audio/a.bin\nsecret,{secret}\n"),
    );
    let ran = run(&p, &["run", "--json"]).ok();
    assert_eq!(
        strings(&output_table(&p, &ran, "audio", "fetched"), "track_id"),
        ["a", "secret"]
    );
}

#[test]
fn a_fifo_is_a_failure_of_its_track_at_once() {
    let p = Project::new(&Backend::Local, "fifo");
    p.write("audio/a.bin", "track a");
    assert!(Command::new("mkfifo")
        .arg(p.path("audio/f.bin"))
        .status()
        .unwrap()
        .success());
    p.write("pipeline.yaml", FETCH);
    p.write("tracks.csv", "track_id,uri\na,audio/a.bin\nf,audio/f.bin\n");
    let ran = run(&p, &["run", "--json"]).ok();
    let failures = output_table(&p, &ran, "audio", "failures");
    assert_eq!(strings(&failures, "track_id"), ["f"]);
    assert_eq!(strings(&failures, "error"), ["a FIFO, not a regular file"]);
}

#[test]
fn a_spreadsheet_csv_loads_and_spaces_around_ids_are_named() {
    let p = Project::new(&Backend::Local, "bom");
    p.write("audio/a.bin", "track a");
    p.write("pipeline.yaml", FETCH);
    p.write(
        "tracks.csv",
        "\u{feff}\"track_id\",\"uri\"\r\na,audio/a.bin\r\n",
    );
    let ran = run(&p, &["run", "--json"]).ok();
    assert_eq!(
        strings(&output_table(&p, &ran, "audio", "fetched"), "track_id"),
        ["a"]
    );

    p.write(
        "tracks.csv",
        "\u{feff}track_id,uri\na,audio/a.bin\n b,audio/a.bin\n",
    );
    let ran = run(&p, &["run"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "tracks.csv, row 2, column `track_id`: track id \" b\" has leading or trailing spaces"
        ),
        "{}",
        ran.stderr
    );
}

#[test]
fn fetch_checks_the_ids_of_a_plain_read_csv_table() {
    let p = Project::new(&Backend::Local, "read-csv-ids");
    p.write("audio/a.bin", "track a");
    p.write(
        "pipeline.yaml",
        &FETCH.replace("stage: load_table", "stage: read_csv"),
    );
    p.write(
        "tracks.csv",
        "track_id,uri\na,audio/a.bin\n../../escaped,audio/a.bin\n",
    );
    let ran = run(&p, &["run", "--json"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.nodes("failed"), set(&["audio"]));
    assert!(
        ran.stderr.contains(
            "input `tracks`: row 2, column `track_id`: track id \"../../escaped\" contains `..`"
        ),
        "{}",
        ran.stderr
    );
    assert!(!has_manifest(&p, &ran, "audio"));
    assert!(!p.path("escaped").exists() && !p.path("store/escaped").exists());
}

/// A mono 16-bit PCM WAV whose header states `rate`.
fn wav(rate: u32, samples: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..samples)
        .flat_map(|i| (((i % 50) as i16 - 25) * 800).to_le_bytes())
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.wrapping_mul(2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

#[test]
fn audio_with_an_implausible_sample_rate_is_a_failure_of_its_track() {
    let p = Project::new(&Backend::Local, "rates");
    std::fs::create_dir_all(p.path("audio")).unwrap();
    for (name, rate) in [("good", 22_050), ("one_hz", 1), ("four_ghz", 4_000_000_000)] {
        std::fs::write(p.path(&format!("audio/{name}.wav")), wav(rate, 22_050)).unwrap();
    }
    p.write(
        "pipeline.yaml",
        &format!("{FETCH}  - name: mels\n    stage: mel\n    inputs: {{audio: audio}}\n"),
    );
    p.write(
        "tracks.csv",
        "track_id,uri\ngood,audio/good.wav\none_hz,audio/one_hz.wav\nfour_ghz,audio/four_ghz.wav\n",
    );
    let ran = run(&p, &["run", "--json"]).ok();
    let failures = output_table(&p, &ran, "mels", "failures");
    assert_eq!(strings(&failures, "track_id"), ["one_hz", "four_ghz"]);
    assert_eq!(
        strings(&failures, "error"),
        [
            "the file says its sample rate is 1 Hz, outside the 1000..=768000 Hz of real audio",
            "the file says its sample rate is 4000000000 Hz, outside the 1000..=768000 Hz of \
             real audio",
        ]
    );
    let index = output_table(&p, &ran, "mels", "index");
    assert_eq!(strings(&index, "track_id"), ["good"]);
    assert!(
        ran.stderr
            .contains("one_hz (the file says its sample rate is 1 Hz"),
        "{}",
        ran.stderr
    );
}
