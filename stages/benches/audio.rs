//! The audio front end, part by part, against librosa 0.11 + soundfile +
//! soxr (benches/audio/librosa_peer.py) on the same files in the same run.
//!
//! Run: `bash benches/audio/compare_librosa.sh` (prepares the files and the
//! peer's venv, then runs this on one core and on two).
//!
//! For each file, `AUDIO_BENCH_WORKERS` threads each run the whole front end
//! on it at once, part by part with a barrier between parts (so a part's
//! time is its slowest worker's), `AUDIO_BENCH_ROUNDS` times after a
//! warm-up; then the peer does the same with as many processes. Printed:
//! the median wall seconds of each part per hour of audio processed, and
//! the peer's time over ours (above 1: we are faster).
//!
//! Environment: `AUDIO_BENCH_DIR` (default `$HOME/.cache/mdr/bench-audio`,
//! written by `librosa_peer.py prepare`), `AUDIO_BENCH_FILES` (default
//! `wav22,wav44,mp3,ogg`), `AUDIO_BENCH_ROUNDS` (3), `AUDIO_BENCH_WORKERS`
//! (1), `AUDIO_PEER_PYTHON` (default `$HOME/.cache/mdr/venv-librosa/bin/python`;
//! empty skips the peer).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Barrier;
use std::time::Instant;

use stages::audio::{self, Stereo, SAMPLE_RATE};
use stages::frontend::mel_table;

const PARTS: [&str; 5] = ["decode", "resample", "mel", "mfcc", "store"];
const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/audio/librosa_peer.py"
);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let home = env_or("HOME", "/root");
    let dir = PathBuf::from(env_or(
        "AUDIO_BENCH_DIR",
        &format!("{home}/.cache/mdr/bench-audio"),
    ));
    let rounds: usize = env_or("AUDIO_BENCH_ROUNDS", "3").parse().expect("rounds");
    let workers: usize = env_or("AUDIO_BENCH_WORKERS", "1").parse().expect("workers");
    let python = env_or(
        "AUDIO_PEER_PYTHON",
        &format!("{home}/.cache/mdr/venv-librosa/bin/python"),
    );
    let files = env_or("AUDIO_BENCH_FILES", "wav22,wav44,mp3,ogg");
    println!(
        "{workers} worker(s), {rounds} rounds; seconds of wall time per hour of audio; \
         ratio = librosa / ours"
    );
    println!("| input | part | ours s/h | librosa s/h | ratio |");
    println!("|---|---|---:|---:|---:|");
    for name in files.split(',') {
        let path = find(&dir, name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (ours, hours) = ours(&bytes, rounds, workers);
        let peer = (!python.is_empty()).then(|| peer(&python, &path, rounds, workers));
        let per_hour = |s: f64| s / (hours * workers as f64);
        let mut totals = (0.0, 0.0);
        for (i, part) in PARTS.iter().enumerate() {
            let theirs = peer.as_ref().map(|p| p[i]);
            totals.0 += ours[i];
            totals.1 += theirs.unwrap_or(f64::NAN);
            row(name, part, per_hour(ours[i]), theirs.map(per_hour));
        }
        row(
            name,
            "**all**",
            per_hour(totals.0),
            peer.map(|_| per_hour(totals.1)),
        );
    }
}

fn row(input: &str, part: &str, ours: f64, theirs: Option<f64>) {
    match theirs {
        Some(t) => println!(
            "| {input} | {part} | {ours:.2} | {t:.2} | {:.2}x |",
            t / ours
        ),
        None => println!("| {input} | {part} | {ours:.2} | - | - |"),
    }
}

/// The file of a name (`wav22` -> `wav22.wav`).
fn find(dir: &Path, name: &str) -> PathBuf {
    let ext = match name {
        n if n.starts_with("wav") => "wav",
        "mp3" => "mp3",
        "ogg" => "ogg",
        other => panic!("unknown input {other}"),
    };
    dir.join(format!("{name}.{ext}"))
}

/// Median wall seconds of each part, and the file's length in hours.
fn ours(bytes: &[u8], rounds: usize, workers: usize) -> ([f64; 5], f64) {
    let barrier = Barrier::new(workers);
    let runs: Vec<Vec<([f64; 5], f64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| s.spawn(|| (0..=rounds).map(|_| front_end(bytes, &barrier)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let hours = runs[0][0].1 / 3600.0;
    let mut medians = [0.0; 5];
    for (p, median) in medians.iter_mut().enumerate() {
        // Per round, the slowest worker; then the median over rounds.
        let mut times: Vec<f64> = (1..=rounds)
            .map(|r| runs.iter().map(|w| w[r].0[p]).fold(0.0, f64::max))
            .collect();
        times.sort_by(f64::total_cmp);
        *median = times[times.len() / 2];
    }
    (medians, hours)
}

/// One pass of the mel stage's work on one track, timed part by part;
/// returns the times and the track's length in seconds.
fn front_end(bytes: &[u8], barrier: &Barrier) -> ([f64; 5], f64) {
    let mut times = [0.0; 5];
    let timed = |part: usize| {
        barrier.wait();
        let start = Instant::now();
        move |times: &mut [f64; 5]| {
            barrier.wait();
            times[part] = start.elapsed().as_secs_f64();
        }
    };
    let done = timed(0);
    let decoded = audio::decode(bytes).expect("decodes");
    done(&mut times);
    let seconds = decoded.duration_s();

    let done = timed(1);
    let stereo = audio::to_stereo(&decoded).expect("stereo");
    let resampled = Stereo {
        channels: stereo
            .channels
            .each_ref()
            .map(|c| audio::resample(c, stereo.sample_rate, SAMPLE_RATE).expect("resamples")),
        sample_rate: SAMPLE_RATE,
    };
    done(&mut times);

    let done = timed(2);
    let power = audio::mel_power(&resampled);
    let db = audio::power_to_db(&power);
    done(&mut times);

    let done = timed(3);
    let mfcc = audio::mfcc_baseline(&power).expect("long enough");
    done(&mut times);
    std::hint::black_box(mfcc);

    let done = timed(4);
    let table = mel_table::to_table(&db).expect("table");
    let parquet = storage::table::to_parquet("mel", &table).expect("parquet");
    std::hint::black_box(blake3::hash(&parquet));
    done(&mut times);
    (times, seconds)
}

/// The peer's median wall seconds of each part.
fn peer(python: &str, file: &Path, rounds: usize, workers: usize) -> [f64; 5] {
    let out = Command::new(python)
        .arg(PEER)
        .arg("run")
        .arg(file)
        .args([
            "--rounds",
            &rounds.to_string(),
            "--workers",
            &workers.to_string(),
        ])
        .envs(
            [
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS",
            ]
            .map(|v| (v, "1")),
        )
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    PARTS.map(|p| json[p].as_f64().expect("part time"))
}
