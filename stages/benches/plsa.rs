//! pLSA EM throughput: our implementation against a numpy/scipy peer
//! (benches/reference/plsa_peer.py) on the identical matrix and start.
//!
//! Run: `cargo bench -p stages --bench plsa` (about 30 s on 2 cores, after
//! the release build).
//!
//! The bench generates a matrix shaped like the paper's tag source scaled
//! to one machine (46,490 tracks x 20,000 tags, ~1.5 M non-zeros, k = 50),
//! writes it and the random start as .npy files, then runs three rounds,
//! each timing our EM on one thread and on all threads and the peer on the
//! same files (alternating, so a busy moment on a shared machine hurts both
//! sides alike), checks that both report the same log-likelihoods (same
//! algorithm, same start), and prints the medians per iteration.
//!
//! Environment: `PLSA_BENCH_ITERS` (default 10), `PLSA_BENCH_DIR` (default
//! a folder under the system temp dir), `PLSA_PEER_PYTHON` (default
//! `$HOME/.cache/mdr/venv-labels/bin/python`; empty skips the peer).
//!
//! Matrix recipe (SplitMix64, seed 2018): each track draws 1 + ⌊E⌋ tags,
//! E exponential with mean 33; each draw picks tag ⌊10·2001^U⌋ − 10 (U
//! uniform, a Zipf-like law P(w) ∝ 1/(w + 10)); repeated draws add up to
//! counts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use stages::labels::csr::Csr;
use stages::labels::plsa::{fit_from, init, PlsaConfig};
use stages::rng::Rng;

const TRACKS: usize = 46_490;
const ITEMS: usize = 20_000;
const K: usize = 50;
const MEAN_DRAWS: f64 = 33.0;
const SEED: u64 = 2018;
/// Alternating rounds of each contender.
const ROUNDS: usize = 3;

fn main() {
    let iterations: usize = std::env::var("PLSA_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = std::env::var_os("PLSA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mdr-plsa-bench"));
    std::fs::create_dir_all(&dir).expect("bench folder");

    let x = generate();
    let (theta0, phi0) = init(x.n_rows, x.n_cols, K, 1);
    write_inputs(&dir, &x, &theta0, &phi0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "matrix: {} x {}, {} non-zeros ({:.2}% dense), k = {K}, {iterations} iterations, {cores} cores",
        x.n_rows,
        x.n_cols,
        x.nnz(),
        100.0 * x.nnz() as f64 / (x.n_rows * x.n_cols) as f64
    );

    let config = PlsaConfig {
        k: K,
        iterations,
        seed: 0,
        tolerance: 0.0,
    };
    let python = std::env::var("PLSA_PEER_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/mdr/venv-labels/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../benches/reference/plsa_peer.py"
    );
    let with_peer = !python.is_empty() && Path::new(&python).exists();
    if !with_peer {
        println!(
            "peer skipped (no python at `{python}`); run: python {script} {} {iterations}",
            dir.display()
        );
    }

    // Rounds alternate the contenders so that a busy moment on a shared
    // machine hurts both sides alike.
    let thread_counts = if cores > 1 { vec![1, cores] } else { vec![1] };
    let mut rust_seconds = vec![Vec::new(); thread_counts.len()];
    let mut peer_seconds = Vec::new();
    let mut peer_versions = String::new();
    for round in 1..=ROUNDS {
        let mut rust_ll = Vec::new();
        for (i, &threads) in thread_counts.iter().enumerate() {
            let (seconds, ll) = run_rust(&x, &theta0, &phi0, &config, threads);
            println!(
                "round {round}: rust, {threads} thread(s): {:.4} s/iteration (median)",
                median(&seconds)
            );
            rust_seconds[i].extend(seconds);
            rust_ll = ll;
        }
        if with_peer {
            let (seconds, ll, versions) = run_peer(&python, script, &dir, iterations);
            println!(
                "round {round}: peer ({versions}): {:.4} s/iteration (median)",
                median(&seconds)
            );
            let worst = rust_ll
                .iter()
                .zip(&ll)
                .map(|(a, b)| ((a - b) / b).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-9 && ll.len() == rust_ll.len(),
                "the peer does not compute the same EM (log-likelihoods differ by {worst:.2e})"
            );
            println!(
                "round {round}: log-likelihoods agree, largest relative difference {worst:.2e}"
            );
            peer_seconds.extend(seconds);
            peer_versions = versions;
        }
    }

    println!();
    println!(
        "| implementation | threads | s / iteration (median of {}) | iterations / s | vs peer |",
        ROUNDS * iterations
    );
    println!("|---|---|---|---|---|");
    let peer = (!peer_seconds.is_empty()).then(|| median(&peer_seconds));
    if let Some(peer) = peer {
        println!(
            "| numpy/scipy peer ({peer_versions}) | 1 | {peer:.4} | {:.2} | 1.0x |",
            1.0 / peer
        );
    }
    for (threads, seconds) in thread_counts.iter().zip(&rust_seconds) {
        let s = median(seconds);
        let ratio = peer.map_or("-".to_string(), |p| format!("{:.1}x", p / s));
        println!(
            "| rust (rayon) | {threads} | {s:.4} | {:.2} | {ratio} |",
            1.0 / s
        );
    }
}

/// Seconds per iteration and the log-likelihood each iteration started from.
fn run_rust(
    x: &Csr,
    theta0: &[f64],
    phi0: &[f64],
    config: &PlsaConfig,
    threads: usize,
) -> (Vec<f64>, Vec<f64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let mut last = Instant::now();
        let mut seconds = Vec::new();
        let mut ll = Vec::new();
        fit_from(x, theta0.to_vec(), phi0.to_vec(), config, &mut |_, l| {
            seconds.push(last.elapsed().as_secs_f64());
            ll.push(l);
            last = Instant::now();
        })
        .expect("fit");
        (seconds, ll)
    })
}

/// The same for the peer, plus its library versions.
fn run_peer(
    python: &str,
    script: &str,
    dir: &Path,
    iterations: usize,
) -> (Vec<f64>, Vec<f64>, String) {
    let out = Command::new(python)
        .arg(script)
        .arg(dir)
        .arg(iterations.to_string())
        .output()
        .expect("run the peer");
    if !out.status.success() {
        panic!("peer failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("peer prints one JSON object");
    let numbers = |key: &str| -> Vec<f64> {
        report[key]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect()
    };
    let versions = report["versions"].as_str().unwrap_or("?").to_string();
    (numbers("seconds"), numbers("log_likelihood"), versions)
}

/// The matrix recipe in the module doc.
fn generate() -> Csr {
    let mut rng = Rng::new(SEED);
    let mut triplets = Vec::with_capacity((TRACKS as f64 * (MEAN_DRAWS + 1.0)) as usize);
    let span = (ITEMS as f64 + 10.0) / 10.0;
    for d in 0..TRACKS {
        let draws = 1 + (-rng.uniform_open().ln() * MEAN_DRAWS) as usize;
        for _ in 0..draws.min(ITEMS) {
            let w = (10.0 * span.powf(rng.uniform_open()) - 10.0) as usize;
            triplets.push((d as u32, w.min(ITEMS - 1) as u32, 1.0));
        }
    }
    Csr::from_triplets(TRACKS, ITEMS, &triplets)
}

fn write_inputs(dir: &Path, x: &Csr, theta0: &[f64], phi0: &[f64]) {
    let indptr: Vec<i64> = x.indptr.iter().map(|&p| p as i64).collect();
    let indices: Vec<i32> = x.indices.iter().map(|&c| c as i32).collect();
    write_npy(
        &dir.join("indptr.npy"),
        "<i8",
        &[indptr.len()],
        &bytes_of(&indptr),
    );
    write_npy(
        &dir.join("indices.npy"),
        "<i4",
        &[indices.len()],
        &bytes_of(&indices),
    );
    write_npy(
        &dir.join("data.npy"),
        "<f8",
        &[x.nnz()],
        &bytes_of(&x.values),
    );
    write_npy(
        &dir.join("theta0.npy"),
        "<f8",
        &[x.n_rows, K],
        &bytes_of(theta0),
    );
    write_npy(
        &dir.join("phi0.npy"),
        "<f8",
        &[x.n_cols, K],
        &bytes_of(phi0),
    );
    std::fs::write(
        dir.join("shape.txt"),
        format!("{} {} {K}\n", x.n_rows, x.n_cols),
    )
    .expect("write shape");
}

/// Little-endian bytes of plain numbers.
fn bytes_of<T: Copy + ToLe>(values: &[T]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le()).collect()
}

trait ToLe {
    fn to_le(self) -> Vec<u8>;
}
impl ToLe for f64 {
    fn to_le(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}
impl ToLe for i64 {
    fn to_le(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}
impl ToLe for i32 {
    fn to_le(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

/// An .npy file (format 1.0), C order.
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut file = std::fs::File::create(path).expect("create npy");
    file.write_all(b"\x93NUMPY\x01\x00").expect("write npy");
    file.write_all(&(header.len() as u16).to_le_bytes())
        .expect("write npy");
    file.write_all(header.as_bytes()).expect("write npy");
    file.write_all(data).expect("write npy");
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}
