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
//! The row `stage path` is what the mel stage runs
//! ([`audio::analyse`]: decode, resample and mel streamed piece by piece,
//! then the MFCC, the table, Parquet and its hash), timed as one, against
//! the sum of the peer's parts.
//!
//! Two more modes: `AUDIO_BENCH_MEMORY=FILE` runs the stage path once on
//! FILE and exits (for `/usr/bin/time -v`); `AUDIO_BENCH_TRACKS=N` runs it
//! over N 30-second tracks (the `tracks/` of `librosa_peer.py prepare`,
//! cycled), all at once over rayon's threads as the mel stage does, then
//! the peer over the same tracks with `AUDIO_BENCH_WORKERS` processes, and
//! prints tracks per second. `AUDIO_BENCH_STORE=DIR` writes the mel of
//! `wav44` as Parquet under several zstd levels, page sizes and encodings
//! (into DIR, for other readers to try) and prints size, write and read
//! time of each.
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

use rayon::prelude::*;

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
    if let Ok(file) = std::env::var("AUDIO_BENCH_MEMORY") {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let frames = stage_path(bytes, None);
        println!("{file}: {frames} frames through the stage path");
        return;
    }
    if let Ok(out) = std::env::var("AUDIO_BENCH_STORE") {
        store_settings(&find(&dir, "wav44"), Path::new(&out), rounds);
        return;
    }
    if let Ok(n) = std::env::var("AUDIO_BENCH_TRACKS") {
        tracks(&dir, n.parse().expect("track count"), workers, &python);
        return;
    }
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
            peer.as_ref().map(|_| per_hour(totals.1)),
        );
        row(
            name,
            "**stage path**",
            per_hour(streamed(&bytes, rounds, workers)),
            peer.map(|_| per_hour(totals.1)),
        );
    }
}

/// What the mel stage does with one track's bytes: the streamed front end,
/// the mel table, Parquet and its hash. Returns the frame count.
fn stage_path(bytes: impl AsRef<[u8]>, max_seconds: Option<f64>) -> usize {
    let track = audio::analyse(bytes, max_seconds).expect("analyses");
    let frames = track.mel.frames;
    std::hint::black_box(track.mfcc);
    let table = mel_table::to_table(track.mel).expect("table");
    let parquet = storage::table::to_parquet("mel", &table).expect("parquet");
    std::hint::black_box(blake3::hash(&parquet));
    frames
}

/// Median wall seconds of the stage path, `workers` tracks at once.
fn streamed(bytes: &[u8], rounds: usize, workers: usize) -> f64 {
    let barrier = Barrier::new(workers);
    let runs: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    (0..=rounds)
                        .map(|_| {
                            barrier.wait();
                            let start = Instant::now();
                            stage_path(bytes, None);
                            barrier.wait();
                            start.elapsed().as_secs_f64()
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let mut times: Vec<f64> = (1..=rounds)
        .map(|r| runs.iter().map(|w| w[r]).fold(0.0, f64::max))
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// `n` 30-second tracks through the stage path over rayon's threads, then
/// through the peer with `workers` processes: tracks per second.
fn tracks(dir: &Path, n: usize, workers: usize, python: &str) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("tracks"))
        .expect("tracks/ (librosa_peer.py prepare)")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let list: Vec<&PathBuf> = files.iter().cycle().take(n).collect();
    let start = Instant::now();
    list.par_iter().for_each(|path| {
        let bytes = std::fs::read(path).expect("track");
        stage_path(bytes, Some(30.0));
    });
    let ours = n as f64 / start.elapsed().as_secs_f64();
    println!("| tracks | ours tracks/s | librosa tracks/s | ratio |");
    println!("|---|---:|---:|---:|");
    if python.is_empty() {
        println!("| {n} | {ours:.1} | - | - |");
        return;
    }
    let json = run_peer(
        python,
        &[
            "tracks".into(),
            dir.join("tracks").display().to_string(),
            "--count".into(),
            n.to_string(),
            "--workers".into(),
            workers.to_string(),
        ],
    );
    let theirs = n as f64 / json["seconds"].as_f64().expect("seconds");
    println!(
        "| {n} ({} files cycled) | {ours:.1} | {theirs:.1} | {:.2}x |",
        files.len(),
        ours / theirs
    );
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
    // Freed where the mel stage frees them, so the peak memory is its own.
    drop((decoded, stereo));

    let done = timed(2);
    let power = audio::mel_power(&resampled);
    let db = audio::power_to_db(&power);
    done(&mut times);
    drop(resampled);

    let done = timed(3);
    let mfcc = audio::mfcc_baseline(&power).expect("long enough");
    done(&mut times);
    std::hint::black_box(mfcc);
    drop(power);

    let done = timed(4);
    let table = mel_table::to_table(db).expect("table");
    let parquet = storage::table::to_parquet("mel", &table).expect("parquet");
    std::hint::black_box(blake3::hash(&parquet));
    done(&mut times);
    (times, seconds)
}

/// The mel of `file` written as Parquet with each setting: megabytes and
/// seconds to write and to read back, per hour of audio (medians of
/// `rounds`); the files go to `out`.
fn store_settings(file: &Path, out: &Path, rounds: usize) {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, Encoding, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;

    let track = audio::analyse(std::fs::read(file).expect("file"), None).expect("analyses");
    let hours = track.samples as f64 / f64::from(SAMPLE_RATE) / 3600.0;
    let raw = (track.mel.data.len() * 4) as f64;
    let table = mel_table::to_table(track.mel).expect("table");
    let values = ColumnPath::new(vec!["mel".into(), "list".into(), "item".into()]);
    let zstd = |level| Compression::ZSTD(ZstdLevel::try_new(level).expect("level"));
    let split = |level: i32| {
        WriterProperties::builder()
            .set_compression(zstd(level))
            .set_column_dictionary_enabled(values.clone(), false)
            .set_column_encoding(values.clone(), Encoding::BYTE_STREAM_SPLIT)
    };
    let settings: Vec<(String, WriterProperties)> = [1, 3, 6, 9]
        .map(|level| {
            let props = WriterProperties::builder().set_compression(zstd(level));
            (format!("zstd {level}"), props.build())
        })
        .into_iter()
        .chain([1, 3, 6].map(|l| (format!("zstd {l}, byte_stream_split"), split(l).build())))
        .chain([64 << 10, 8 << 20].map(|page| {
            let props = split(3).set_data_page_size_limit(page);
            (
                format!("zstd 3, byte_stream_split, {} KiB pages", page >> 10),
                props.build(),
            )
        }))
        .chain([(
            "uncompressed".to_string(),
            WriterProperties::builder()
                .set_compression(Compression::UNCOMPRESSED)
                .build(),
        )])
        .collect();
    std::fs::create_dir_all(out).expect("output dir");
    println!(
        "mel of {} ({hours:.3} h): {:.1} MB as f32",
        file.display(),
        raw / 1e6
    );
    println!("| setting | MB per hour | of f32 | write s/h | read s/h |");
    println!("|---|---:|---:|---:|---:|");
    for (i, (name, props)) in settings.into_iter().enumerate() {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let mut bytes = Vec::new();
        let write = median(
            (0..rounds)
                .map(|_| {
                    let start = Instant::now();
                    bytes.clear();
                    let mut writer =
                        ArrowWriter::try_new(&mut bytes, table.schema(), Some(props.clone()))
                            .expect("writer");
                    writer.write(&table).expect("write");
                    writer.close().expect("close");
                    start.elapsed().as_secs_f64()
                })
                .collect(),
        );
        let bytes = bytes::Bytes::from(bytes);
        let read = median(
            (0..rounds)
                .map(|_| {
                    let start = Instant::now();
                    let back = storage::table::from_parquet("mel", bytes.clone()).expect("reads");
                    assert_eq!(back.num_rows(), table.num_rows());
                    start.elapsed().as_secs_f64()
                })
                .collect(),
        );
        std::fs::write(out.join(format!("{i}.parquet")), &bytes).expect("writes");
        println!(
            "| {i}: {name} | {:.1} | {:.0} % | {:.3} | {:.3} |",
            bytes.len() as f64 / 1e6 / hours,
            100.0 * bytes.len() as f64 / raw,
            write / hours,
            read / hours
        );
    }
}

/// The peer's median wall seconds of each part.
fn peer(python: &str, file: &Path, rounds: usize, workers: usize) -> [f64; 5] {
    let json = run_peer(
        python,
        &[
            "run".into(),
            file.display().to_string(),
            "--rounds".into(),
            rounds.to_string(),
            "--workers".into(),
            workers.to_string(),
        ],
    );
    PARTS.map(|p| json[p].as_f64().expect("part time"))
}

/// Runs the peer script with its libraries on one thread each; its JSON.
fn run_peer(python: &str, args: &[String]) -> serde_json::Value {
    let out = Command::new(python)
        .arg(PEER)
        .args(args)
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
    serde_json::from_slice(&out.stdout).expect("peer prints JSON")
}
