//! `fetch`: a track manifest in, each track's bytes out (SPEC 2).
//!
//! Input `tracks`: a table with `track_id` and `uri` (Utf8) and optionally
//! `blake3` / `sha256` (hex, nullable): a validated track manifest or target
//! dataset (`load_table`). URIs: `http(s)://`, `s3://bucket/key` (S3 settings
//! from the usual `AWS_*` variables, plain-http endpoints allowed), `file://`
//! or a path relative to pipeline.yaml's directory.
//!
//! Optional input `files`: a node whose output files hold the audio (the
//! bundled corpus's `synth_audio`, which may not write outside the store).
//! When it is connected, a relative path (plain or after `file://`) is the
//! name of one of that node's files instead of a path on disk, read through
//! the engine and checked against the manifest's checksums like any other
//! source; a name the node does not have is a failure of that track. As the
//! store is content-addressed, the copy under `audio/<track_id>` takes no
//! extra space.
//!
//! Whatever table arrives (`load_table`'s, or a plain `read_csv`), every
//! track id is checked as the contracts check it, as it becomes a file name:
//! an empty id, `..`, `/`, `\`, control or bidirectional characters, or
//! spaces at its ends fail the node, naming the row.
//!
//! Local paths are read only under pipeline.yaml's directory or an
//! `allow_paths:` entry, never under /proc, /sys or /dev, after resolving
//! symlinks ([`crate::local_files`]): a manifest naming any other path fails
//! the node before anything is fetched (the configuration must change, and a
//! per-track failure would stay cached once it did, as `allow_paths` is not
//! part of the key). Only regular files are read (a directory, FIFO, socket
//! or device is a failure of that track), and no source of more than
//! `max_track_mib` (a failure of that track too).
//!
//! Outputs:
//! - `audio/<track_id>`: the bytes of each track fetched, emitted as soon as
//!   they arrive;
//! - `fetched` (track_id Utf8, uri Utf8, blake3 Utf8, size UInt64): the
//!   tracks fetched, in manifest order; what downstream stages iterate over;
//! - `failures` (track_id Utf8, uri Utf8, error Utf8): every track that could
//!   not be fetched, with why, in manifest order;
//! - metadata: counts (`tracks`, `fetched`, `failed`, `downloaded`,
//!   `reused`, `resumed`, `bytes`), `warnings` naming the failures, and,
//!   only when some track failed for a reason that may pass (still a 5xx,
//!   timeout, reset or cut body after the retries; never a 404, 403 or a
//!   checksum mismatch), `retry_next_run`: how many, naming up to three. The
//!   engine does not take such a node as a lasting cache hit and runs it
//!   again on the next run, which reuses what was fetched (the items below)
//!   and asks again only for the tracks whose failure may pass.
//!
//! A run with failures commits what it fetched (downstream stages run on
//! those tracks) unless more than `max_failure_fraction` of the tracks
//! failed (by default: when nothing or almost nothing was fetched): then the
//! node fails, keeping what it fetched for the next attempt.
//!
//! Retries, backoff and timeouts: see [`super::retry`] and [`super::source`].
//! A manifest checksum (blake3 and/or sha256) is verified on the bytes; a
//! mismatch is a failure of that track and is not retried.
//!
//! Re-running does only what is missing, at two levels: an interrupted
//! attempt at the same node key resumes from what it emitted (the sink and
//! the journal), and a node whose key changed (a track added to the
//! manifest) reuses each track any fetch node with the same parameters
//! fetched before ([`Sink::reuse_item`]: keyed by the track's id and its
//! checksum, or the `files` node's file, or its remote URI; a local path
//! without a checksum is read again) and fetches only the rest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::journal::Journal;
use super::retry::Policy;
use super::source::{Base, Fetcher, Source};
use crate::api::*;
use crate::contracts::track_id_is_safe;
use crate::local_files::LocalRoots;
use crate::table::{optional_text_column, summarise, text_column};

pub struct Fetch;

/// One row of the manifest.
struct Track {
    /// 1-based, as errors name it.
    row: usize,
    id: String,
    uri: String,
    blake3: Option<String>,
    sha256: Option<String>,
}

impl Track {
    /// The manifest's checksums as one text (`blake3:..;sha256:..`, lower
    /// case); empty when it gives none.
    fn checksum(&self) -> String {
        [("blake3", &self.blake3), ("sha256", &self.sha256)]
            .iter()
            .filter_map(|(kind, sum)| {
                sum.as_ref()
                    .map(|sum| format!("{kind}:{}", sum.to_ascii_lowercase()))
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Checks the bytes against the manifest's checksums.
    fn verify(&self, bytes: &[u8], blake3: &str) -> Result<(), String> {
        if let Some(want) = &self.blake3 {
            if !want.eq_ignore_ascii_case(blake3) {
                return Err(format!(
                    "blake3 mismatch: the manifest says {}, the {} bytes fetched hash to {blake3}",
                    want.to_ascii_lowercase(),
                    bytes.len()
                ));
            }
        }
        if let Some(want) = &self.sha256 {
            let got = hex(&sha2::Sha256::digest(bytes));
            if !want.eq_ignore_ascii_case(&got) {
                return Err(format!(
                    "sha256 mismatch: the manifest says {}, the {} bytes fetched hash to {got}",
                    want.to_ascii_lowercase(),
                    bytes.len()
                ));
            }
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the journal keeps per fetched track.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Fetched {
    uri: String,
    blake3: String,
    size: u64,
}

/// What the journal keeps per track that failed for good (a 404, a 403, a
/// checksum mismatch): a retry of the node does not ask for it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FailedForGood {
    uri: String,
    error: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Downloaded,
    /// Reused from another node's fetch of the same item.
    Reused,
    Resumed,
}

enum Outcome {
    Fetched(Fetched, How),
    /// Why, and whether a later run may succeed.
    Failed {
        error: String,
        may_pass: bool,
    },
}

impl Outcome {
    fn permanent(error: String) -> Outcome {
        Outcome::Failed {
            error,
            may_pass: false,
        }
    }
}

struct Settings {
    jobs: usize,
    policy: Policy,
    timeout: Duration,
    max_failure_fraction: f64,
    max_bytes: u64,
}

fn settings(params: &Params) -> Result<Settings, StageError> {
    let bad = |name: &str, reason: &str| StageError::Param {
        name: name.into(),
        reason: reason.into(),
    };
    let jobs = params.i64("jobs")?;
    if !(1..=256).contains(&jobs) {
        return Err(bad("jobs", "must be between 1 and 256"));
    }
    let timeout = params.f64("timeout_s")?;
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 86_400.0) {
        return Err(bad("timeout_s", "must be a positive number of seconds"));
    }
    let retries = params.i64("retries")?;
    if !(0..=100).contains(&retries) {
        return Err(bad("retries", "must be between 0 and 100"));
    }
    let backoff = params.i64("backoff_ms")?;
    if !(0..=600_000).contains(&backoff) {
        return Err(bad("backoff_ms", "must be between 0 and 600000"));
    }
    let max_failure_fraction = params.f64("max_failure_fraction")?;
    if !(0.0..=1.0).contains(&max_failure_fraction) {
        return Err(bad("max_failure_fraction", "must be between 0 and 1"));
    }
    let max_mib = params.i64("max_track_mib")?;
    if !(1..=1 << 20).contains(&max_mib) {
        return Err(bad("max_track_mib", "must be between 1 and 1048576"));
    }
    Ok(Settings {
        jobs: jobs as usize,
        policy: Policy {
            retries: retries as u32,
            backoff: Duration::from_millis(backoff as u64),
        },
        timeout: Duration::from_secs_f64(timeout),
        max_failure_fraction,
        max_bytes: (max_mib as u64) << 20,
    })
}

fn manifest(table: &RecordBatch) -> Result<Vec<Track>, StageError> {
    let slot = "tracks";
    let ids = text_column(table, "track_id", slot)?;
    let uris = text_column(table, "uri", slot)?;
    let blake3 = optional_text_column(table, "blake3", slot)?;
    let sha256 = optional_text_column(table, "sha256", slot)?;
    let cell = |c: &Option<StringArray>, i: usize| {
        c.as_ref()
            .filter(|c| c.is_valid(i) && !c.value(i).is_empty())
            .map(|c| c.value(i).to_string())
    };
    let mut seen = std::collections::HashSet::new();
    (0..table.num_rows())
        .map(|i| {
            let bad = |why: String| StageError::Input {
                slot: slot.into(),
                reason: format!("row {}: {why}", i + 1),
            };
            if ids.is_null(i) || uris.is_null(i) {
                return Err(bad("track_id and uri must not be empty".into()));
            }
            let id = ids.value(i);
            track_id_is_safe(id).map_err(|why| StageError::Input {
                slot: slot.into(),
                reason: format!("row {}, column `track_id`: track id {id:?} {why}", i + 1),
            })?;
            if !seen.insert(id) {
                return Err(bad(format!("duplicate track id {id:?}")));
            }
            Ok(Track {
                row: i + 1,
                id: id.to_string(),
                uri: uris.value(i).to_string(),
                blake3: cell(&blake3, i),
                sha256: cell(&sha256, i),
            })
        })
        .collect()
}

/// Each track's source, or why its uri cannot be parsed (a failure of that
/// track). Local paths are admitted by `roots` and resolved; a path refused
/// is an error of the node, naming up to three rows.
fn sources(
    tracks: &[Track],
    base: Base,
    roots: &LocalRoots,
) -> Result<Vec<Result<Source, String>>, StageError> {
    let mut refused = Vec::new();
    let sources = tracks
        .iter()
        .map(|track| match Source::parse(&track.uri, base)? {
            Source::File(path) => roots.admit(&path).map(Source::File).map_err(|why| {
                refused.push(format!(
                    "row {} (track {:?}, uri {:?}): {why}",
                    track.row, track.id, track.uri
                ));
                why
            }),
            other => Ok(other),
        })
        .collect();
    if refused.is_empty() {
        return Ok(sources);
    }
    const SHOWN: usize = 3;
    let more = match refused.len() {
        n if n > SHOWN => format!("; and {} more", n - SHOWN),
        _ => String::new(),
    };
    Err(StageError::Input {
        slot: "tracks".into(),
        reason: format!(
            "{} local files may not be read: {}{more}",
            refused.len(),
            refused[..refused.len().min(SHOWN)].join("; ")
        ),
    })
}

/// What the workers share.
struct Work<'a> {
    tracks: &'a [Track],
    sources: &'a [Result<Source, String>],
    sink: &'a dyn Sink,
    journal: &'a Journal<'a, Fetched>,
    failed_for_good: &'a Journal<'a, FailedForGood>,
    fetcher: &'a Fetcher,
    policy: Policy,
}

impl Work<'_> {
    /// Fetches one track: `Ok` with its outcome, `Err` only when the store
    /// cannot take the bytes (which stops the whole node).
    fn track(&self, i: usize) -> Result<Outcome, StageError> {
        let track = &self.tracks[i];
        let name = format!("audio/{}", track.id);
        if let Some(earlier) = self.journal.earlier(&track.id) {
            if earlier.uri == track.uri && self.sink.has(&name) {
                return Ok(Outcome::Fetched(earlier.clone(), How::Resumed));
            }
        }
        if let Some(earlier) = self.failed_for_good.earlier(&track.id) {
            if earlier.uri == track.uri {
                return Ok(Outcome::permanent(earlier.error.clone()));
            }
        }
        self.fetch(track, &name, i)
    }

    /// What alone determines the track's bytes, for reuse across nodes: its
    /// checksum when the manifest gives one; else the file of the `files`
    /// node it names, or its remote URI (trusted to serve the same bytes,
    /// as a download cache would). A local path without a checksum is read
    /// again every time: the file may have changed.
    fn item<'t>(
        track: &'t Track,
        source: &'t Source,
        checksum: &'t str,
    ) -> Option<Vec<ItemSource<'t>>> {
        let what = if !checksum.is_empty() {
            ItemSource::Text(checksum)
        } else {
            match source {
                Source::NodeFile(file) => ItemSource::File {
                    slot: "files",
                    file,
                },
                Source::File(_) => return None,
                Source::Http(_) | Source::S3 { .. } => ItemSource::Text(&track.uri),
            }
        };
        Some(vec![ItemSource::Text(&track.id), what])
    }

    /// Reuses what an earlier node fetched of the same item, or asks the
    /// track's source for its bytes.
    fn fetch(&self, track: &Track, name: &str, i: usize) -> Result<Outcome, StageError> {
        let source = match &self.sources[i] {
            Ok(source) => source,
            Err(e) => return Ok(Outcome::permanent(e.clone())),
        };
        let store_error = |e: String| StageError::Data(format!("cannot store {name}: {e}"));
        let checksum = track.checksum();
        let item = Self::item(track, source, &checksum);
        if let Some(item) = &item {
            let reused = self.sink.reuse_item(item).map_err(store_error)?;
            if let Some(record) = reused.and_then(|r| serde_json::from_value::<Fetched>(r).ok()) {
                self.journal.add(&track.id, record.clone())?;
                return Ok(Outcome::Fetched(record, How::Reused));
            }
        }
        let bytes = match self
            .policy
            .run(|| self.fetcher.attempt(source), std::thread::sleep)
        {
            Ok(bytes) => bytes,
            Err(failure) => {
                return Ok(Outcome::Failed {
                    error: failure.message,
                    may_pass: failure.retry,
                })
            }
        };
        let hash = blake3::hash(&bytes).to_hex().to_string();
        if let Err(e) = track.verify(&bytes, &hash) {
            return Ok(Outcome::permanent(e));
        }
        let record = Fetched {
            uri: track.uri.clone(),
            blake3: hash,
            size: bytes.len() as u64,
        };
        let files = vec![(name.to_string(), Output::Bytes(bytes))];
        match &item {
            Some(item) => {
                let kept = serde_json::to_value(&record).expect("records serialise");
                self.sink.emit_item(item, files, &kept)
            }
            None => files
                .into_iter()
                .try_for_each(|(name, output)| self.sink.emit(&name, output)),
        }
        .map_err(store_error)?;
        self.journal.add(&track.id, record.clone())?;
        Ok(Outcome::Fetched(record, How::Downloaded))
    }
}

impl Stage for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
    }
    fn version(&self) -> u32 {
        // 2: local paths confined to the pipeline's roots, only regular
        // files, a size limit, track ids checked, `retry_next_run`, and a
        // node that fetched nothing fails by default.
        2
    }
    fn doc(&self) -> &'static str {
        "Fetches every track of a manifest (http(s)://, s3://, file://, a path, or a file of the \
         optional `files` input): retries with backoff, timeouts, checksums; outputs \
         audio/<track_id>, `fetched` and `failures`."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "jobs",
                ty: ParamType::Int,
                default: Some("8"),
                doc: "tracks fetched at once", in_key: false,
            },
            ParamSpec {
                name: "timeout_s",
                ty: ParamType::Float,
                default: Some("30"),
                doc: "seconds to wait for a connection, a response, or more data", in_key: false,
            },
            ParamSpec {
                name: "retries",
                ty: ParamType::Int,
                default: Some("4"),
                doc: "attempts after the first for transient failures (5xx, timeouts, resets, cut bodies)", in_key: false,
            },
            ParamSpec {
                name: "backoff_ms",
                ty: ParamType::Int,
                default: Some("200"),
                doc: "wait before the first retry; doubles each retry, with jitter", in_key: false,
            },
            ParamSpec {
                name: "max_failure_fraction",
                ty: ParamType::Float,
                default: Some("0.99"),
                doc: "fail the node if more than this fraction of the tracks failed: by default \
                      when nothing (or almost nothing) was fetched; 1 commits even an empty result", in_key: true,
            },
            ParamSpec {
                name: "max_track_mib",
                ty: ParamType::Int,
                default: Some("2048"),
                doc: "the largest track, in MiB: a bigger file, body or object is a failure \
                      of that track, and is never read whole", in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[
            InputSpec {
                name: "tracks",
                many: false,
                doc: "a track manifest: track_id, uri, optional blake3 / sha256",
            },
            InputSpec {
                name: "files",
                many: false,
                doc: "optional: a node whose output files relative-path URIs name",
            },
        ]
    }
    fn optional_inputs(&self) -> &'static [&'static str] {
        &["files"]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "audio/<track_id>",
                kind: FileKind::Bytes(""),
                doc: "each fetched track's bytes, as fetched",
            },
            OutputSpec {
                name: "fetched",
                kind: FileKind::Table,
                doc: "the tracks fetched: track_id, uri, blake3, size",
            },
            OutputSpec {
                name: "failures",
                kind: FileKind::Table,
                doc: "the tracks that were not: track_id, uri, error",
            },
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let settings = settings(ctx.params)?;
        let tracks = manifest(&ctx.input_table("tracks", "table")?)?;
        let mut fetcher = Fetcher::new(settings.timeout, settings.jobs, settings.max_bytes)
            .map_err(StageError::Data)?;
        let mut base = Base::Dir(ctx.base_dir);
        if ctx.inputs.contains_key("files") {
            fetcher = fetcher.with_node_files(ctx.input("files")?.clone());
            base = Base::NodeFiles;
        }
        let roots = LocalRoots::new(ctx.base_dir, ctx.local_roots);
        let sources = sources(&tracks, base, &roots)?;
        let journal = Journal::<Fetched>::resume(ctx.sink, "fetched")?;
        let failed_for_good = Journal::<FailedForGood>::resume(ctx.sink, "failed")?;
        let work = Work {
            tracks: &tracks,
            sources: &sources,
            sink: ctx.sink,
            journal: &journal,
            failed_for_good: &failed_for_good,
            fetcher: &fetcher,
            policy: settings.policy,
        };
        ctx.progress.set_total(tracks.len() as u64);
        let outcomes = run_workers(&work, settings.jobs, ctx.progress);
        journal.flush()?;
        let outcomes = outcomes?;
        let for_good: Vec<(String, FailedForGood)> = tracks
            .iter()
            .zip(&outcomes)
            .filter_map(|(track, outcome)| match outcome {
                Outcome::Failed {
                    error,
                    may_pass: false,
                } => Some((
                    track.id.clone(),
                    FailedForGood {
                        uri: track.uri.clone(),
                        error: error.clone(),
                    },
                )),
                _ => None,
            })
            .collect();
        let outputs = report(&tracks, outcomes, settings.max_failure_fraction)?;
        // Only a committed attempt that the engine will retry keeps its
        // failures for good: after a failed node the user may have fixed
        // them, and all are asked again.
        if outputs.metadata.contains_key("retry_next_run") {
            for (id, record) in for_good {
                failed_for_good.add(&id, record)?;
            }
            failed_for_good.flush()?;
        }
        Ok(outputs)
    }
}

/// Runs the tracks on `jobs` threads; stops early only on a store error.
fn run_workers(
    work: &Work,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Outcome>, StageError> {
    let n = work.tracks.len();
    let next = AtomicUsize::new(0);
    let fatal: Mutex<Option<StageError>> = Mutex::new(None);
    let slots: Vec<Mutex<Option<Outcome>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(n) {
            scope.spawn(|| loop {
                if fatal.lock().expect("fatal lock").is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                match work.track(i) {
                    Ok(outcome) => *slots[i].lock().expect("slot lock") = Some(outcome),
                    Err(e) => {
                        fatal.lock().expect("fatal lock").get_or_insert(e);
                        return;
                    }
                }
                progress.advance(1);
            });
        }
    });
    if let Some(e) = fatal.into_inner().expect("fatal lock") {
        return Err(e);
    }
    Ok(slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .expect("slot lock")
                .expect("every track has an outcome")
        })
        .collect())
}

fn report(
    tracks: &[Track],
    outcomes: Vec<Outcome>,
    max_failure_fraction: f64,
) -> Result<Outputs, StageError> {
    let mut fetched: Vec<(&Track, Fetched)> = Vec::new();
    let mut failed: Vec<(&Track, String, bool)> = Vec::new();
    let (mut downloaded, mut reused, mut resumed) = (0usize, 0usize, 0usize);
    for (track, outcome) in tracks.iter().zip(outcomes) {
        match outcome {
            Outcome::Fetched(record, how) => {
                match how {
                    How::Downloaded => downloaded += 1,
                    How::Reused => reused += 1,
                    How::Resumed => resumed += 1,
                }
                fetched.push((track, record));
            }
            Outcome::Failed { error, may_pass } => failed.push((track, error, may_pass)),
        }
    }
    let n = tracks.len();
    let listed: Vec<(&str, &str)> = failed
        .iter()
        .map(|(t, e, _)| (t.id.as_str(), e.as_str()))
        .collect();
    if n > 0 && failed.len() as f64 / n as f64 > max_failure_fraction {
        return Err(StageError::Data(if fetched.is_empty() {
            format!(
                "none of the {n} tracks could be fetched (max_failure_fraction = \
                 {max_failure_fraction}): {}",
                summarise(&listed)
            )
        } else {
            format!(
                "{} of {n} tracks could not be fetched, more than max_failure_fraction = \
                 {max_failure_fraction}: {}; the {} fetched are kept and the next run fetches \
                 only the rest",
                failed.len(),
                summarise(&listed),
                fetched.len()
            )
        }));
    }
    let bytes: u64 = fetched.iter().map(|(_, r)| r.size).sum();
    let fetched_table = fetched_table(
        fetched
            .iter()
            .map(|(t, r)| (t.id.as_str(), t.uri.as_str(), r.blake3.as_str(), r.size)),
    )?;
    let failures_table = failures_table(
        failed
            .iter()
            .map(|(t, e, _)| (t.id.as_str(), t.uri.as_str(), e.as_str())),
    )?;
    let mut outputs = Outputs::default()
        .meta("tracks", n)
        .meta("fetched", fetched.len())
        .meta("failed", failed.len())
        .meta("downloaded", downloaded)
        .meta("reused", reused)
        .meta("resumed", resumed)
        .meta("bytes", bytes);
    if !failed.is_empty() {
        outputs = outputs.meta(
            "warnings",
            vec![format!(
                "{} of {n} tracks could not be fetched and are listed in `failures`; \
                 downstream stages go on with the {} fetched: {}",
                failed.len(),
                fetched.len(),
                summarise(&listed)
            )],
        );
    }
    let may_pass: Vec<(&str, &str)> = failed
        .iter()
        .filter(|(_, _, may_pass)| *may_pass)
        .map(|(t, e, _)| (t.id.as_str(), e.as_str()))
        .collect();
    if !may_pass.is_empty() {
        outputs = outputs.meta("retry_next_run", retry_note(&may_pass));
    }
    Ok(outputs
        .table("fetched", fetched_table)
        .table("failures", failures_table))
}

/// The `retry_next_run` note: how many tracks failed for reasons that may
/// pass, naming the first three (id: why).
fn retry_note(items: &[(&str, &str)]) -> String {
    const SHOWN: usize = 3;
    let named: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|(id, why)| format!("{id}: {why}"))
        .collect();
    let more = match items.len() {
        n if n > SHOWN => format!(", and {} more", n - SHOWN),
        _ => String::new(),
    };
    let tracks = if items.len() == 1 { "track" } else { "tracks" };
    format!(
        "{} {tracks} failed for reasons that may pass ({}{more})",
        items.len(),
        named.join(", ")
    )
}

/// The `fetched` table that `mel` reads: (track_id, uri, blake3, size) per
/// stored `audio/<track_id>` file.
fn fetched_table<'a>(
    rows: impl Iterator<Item = (&'a str, &'a str, &'a str, u64)>,
) -> Result<RecordBatch, StageError> {
    let rows: Vec<_> = rows.collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("uri", DataType::Utf8, false),
            Field::new("blake3", DataType::Utf8, false),
            Field::new("size", DataType::UInt64, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.3))),
        ],
    )?)
}

/// The `failures` table: (track_id, uri, error) per track not stored.
fn failures_table<'a>(
    rows: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> Result<RecordBatch, StageError> {
    let rows: Vec<_> = rows.collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("uri", DataType::Utf8, false),
            Field::new("error", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::frontend::test_sink::{MemoryFiles, MemorySink, NoProgress};

    fn manifest_table(rows: &[(&str, &str, Option<&str>)]) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("track_id", DataType::Utf8, false),
                Field::new("uri", DataType::Utf8, false),
                Field::new("blake3", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    fn params(max_failure_fraction: f64) -> Params {
        let mut map = serde_json::Map::new();
        map.insert("jobs".into(), 3.into());
        map.insert("timeout_s".into(), 1.0.into());
        map.insert("retries".into(), 1.into());
        map.insert("backoff_ms".into(), 1.into());
        map.insert("max_failure_fraction".into(), max_failure_fraction.into());
        map.insert("max_track_mib".into(), 1.into());
        Params(map)
    }

    fn run(
        dir: &std::path::Path,
        table: RecordBatch,
        sink: &MemorySink,
        max_failure_fraction: f64,
    ) -> Result<Outputs, StageError> {
        run_with_files(dir, table, None, sink, max_failure_fraction)
    }

    /// As [`run`], with `files` on the `files` input when given.
    fn run_with_files(
        dir: &std::path::Path,
        table: RecordBatch,
        files: Option<MemoryFiles>,
        sink: &MemorySink,
        max_failure_fraction: f64,
    ) -> Result<Outputs, StageError> {
        run_with_roots(dir, &[], table, files, sink, max_failure_fraction)
    }

    /// As [`run_with_files`], with `allow_paths` roots.
    fn run_with_roots(
        dir: &std::path::Path,
        roots: &[std::path::PathBuf],
        table: RecordBatch,
        files: Option<MemoryFiles>,
        sink: &MemorySink,
        max_failure_fraction: f64,
    ) -> Result<Outputs, StageError> {
        let mut upstream = MemoryFiles::default();
        upstream.tables.insert("table".into(), table);
        let mut inputs = BTreeMap::from([("tracks".to_string(), upstream.upstream("manifest"))]);
        if let Some(files) = files {
            inputs.insert("files".to_string(), files.upstream("corpus"));
        }
        let params = params(max_failure_fraction);
        let files = BTreeMap::new();
        let ctx = StageContext {
            node: "fetch",
            params: &params,
            inputs: &inputs,
            files: &files,
            progress: &NoProgress,
            sink,
            base_dir: dir,
            local_roots: roots,
        };
        Fetch.run(&ctx)
    }

    fn table(outputs: &Outputs, name: &str) -> RecordBatch {
        match &outputs.files[name] {
            Output::Table(t) => t.clone(),
            _ => panic!("{name} is not a table"),
        }
    }

    fn column(t: &RecordBatch, name: &str) -> Vec<String> {
        let c = t
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        c.iter().map(|v| v.unwrap().to_string()).collect()
    }

    #[test]
    fn local_files_checksums_and_failures() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/one.wav"), b"one").unwrap();
        std::fs::write(dir.path().join("two.wav"), b"two").unwrap();
        let two = blake3::hash(b"two").to_hex().to_string();
        let wrong = blake3::hash(b"other").to_hex().to_string();
        let abs = format!("file://{}", dir.path().join("two.wav").display());
        let t = manifest_table(&[
            ("t1", "a/one.wav", None),
            ("t2", &abs, Some(&two)),
            ("t3", "missing.wav", None),
            ("t4", "two.wav", Some(&wrong)),
        ]);
        let sink = MemorySink::default();
        let out = run(dir.path(), t.clone(), &sink, 1.0).unwrap();
        let fetched = table(&out, "fetched");
        assert_eq!(column(&fetched, "track_id"), ["t1", "t2"]);
        assert_eq!(column(&fetched, "blake3")[1], two);
        let failures = table(&out, "failures");
        assert_eq!(column(&failures, "track_id"), ["t3", "t4"]);
        let errors = column(&failures, "error");
        assert_eq!(errors[0], "no such file");
        assert!(errors[1].starts_with("blake3 mismatch"), "{}", errors[1]);
        assert_eq!(sink.bytes("audio/t1"), b"one");
        assert_eq!(sink.bytes("audio/t2"), b"two");
        assert!(!sink.has("audio/t3"));
        assert_eq!(out.metadata["failed"], 2);
        let warning = out.metadata["warnings"][0].as_str().unwrap();
        assert!(
            warning.starts_with(
                "2 of 4 tracks could not be fetched and are listed in `failures`; \
                 downstream stages go on with the 2 fetched: t3 (no such file), \
                 t4 (blake3 mismatch"
            ),
            "{warning}"
        );

        // Too many failures: the node fails, but what it fetched is on
        // record, and a new attempt resumes it instead of reading again.
        let sink = MemorySink::default();
        let Err(err) = run(dir.path(), t.clone(), &sink, 0.25) else {
            panic!("expected the node to fail")
        };
        assert!(err.to_string().contains("2 of 4 tracks"), "{err}");
        std::fs::remove_file(dir.path().join("a/one.wav")).unwrap();
        let again = run(dir.path(), t, &sink, 1.0).unwrap();
        assert_eq!(again.metadata["resumed"], 2);
        assert_eq!(column(&table(&again, "fetched"), "track_id"), ["t1", "t2"]);
    }

    #[test]
    fn relative_uris_name_the_files_of_the_files_input() {
        // A file on disk with a stored file's name: with a `files` input,
        // the node's file is read, never the disk's.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("audio")).unwrap();
        std::fs::write(dir.path().join("audio/t1.wav"), b"disk").unwrap();
        std::fs::write(dir.path().join("abs.wav"), b"abs").unwrap();
        let mut files = MemoryFiles::default();
        files.bytes.insert("audio/t1.wav".into(), b"one".to_vec());
        files.bytes.insert("audio/t3.wav".into(), b"three".to_vec());
        let one = blake3::hash(b"one").to_hex().to_string();
        let wrong = blake3::hash(b"other").to_hex().to_string();
        let abs = dir.path().join("abs.wav").display().to_string();
        let t = manifest_table(&[
            ("t1", "audio/t1.wav", Some(&one)),
            ("t2", "audio/t2.wav", None),
            ("t3", "audio/t3.wav", Some(&wrong)),
            ("t4", &abs, None),
        ]);
        let sink = MemorySink::default();
        let out = run_with_files(dir.path(), t.clone(), Some(files), &sink, 1.0).unwrap();
        let fetched = table(&out, "fetched");
        assert_eq!(column(&fetched, "track_id"), ["t1", "t4"]);
        assert_eq!(column(&fetched, "blake3")[0], one);
        assert_eq!(sink.bytes("audio/t1"), b"one");
        assert_eq!(sink.bytes("audio/t4"), b"abs");
        let failures = table(&out, "failures");
        assert_eq!(column(&failures, "track_id"), ["t2", "t3"]);
        let errors = column(&failures, "error");
        assert_eq!(errors[0], "node `corpus` has no file `audio/t2.wav`");
        assert!(errors[1].starts_with("blake3 mismatch"), "{}", errors[1]);
        assert!(!sink.has("audio/t2") && !sink.has("audio/t3"));

        // Without a `files` input the same manifest reads the disk.
        let sink = MemorySink::default();
        let out = run(dir.path(), t, &sink, 1.0).unwrap();
        assert_eq!(column(&table(&out, "fetched"), "track_id"), ["t4"]);
        let failures = table(&out, "failures");
        assert_eq!(column(&failures, "track_id"), ["t1", "t2", "t3"]);
        let errors = column(&failures, "error");
        let disk = blake3::hash(b"disk").to_hex().to_string();
        assert!(errors[0].ends_with(&format!("4 bytes fetched hash to {disk}")));
        assert_eq!(errors[1], "no such file");
    }

    fn error_of(result: Result<Outputs, StageError>) -> String {
        match result {
            Ok(_) => panic!("expected the node to fail"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn failures_that_may_pass_are_noted_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wav"), b"a").unwrap();
        // A port nobody listens on: refused, a failure that may pass.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let down = format!("http://127.0.0.1:{port}/b.wav");
        let t = manifest_table(&[
            ("a", "a.wav", None),
            ("b", &down, None),
            ("c", "missing.wav", None),
        ]);
        let out = run(dir.path(), t, &MemorySink::default(), 1.0).unwrap();
        let note = out.metadata["retry_next_run"].as_str().unwrap();
        assert!(
            note.starts_with("1 track failed for reasons that may pass (b: ")
                && note.ends_with(" (after 2 attempts))"),
            "{note}"
        );
        // Only failures for good: nothing to retry.
        let t = manifest_table(&[("a", "a.wav", None), ("c", "missing.wav", None)]);
        let out = run(dir.path(), t, &MemorySink::default(), 1.0).unwrap();
        assert_eq!(out.metadata["failed"], 1);
        assert!(!out.metadata.contains_key("retry_next_run"));

        let many = [("t1", "x"), ("t2", "y"), ("t3", "z"), ("t4", "w")];
        assert_eq!(
            retry_note(&many),
            "4 tracks failed for reasons that may pass (t1: x, t2: y, t3: z, and 1 more)"
        );
    }

    #[test]
    fn by_default_a_node_that_fetched_nothing_fails() {
        let default: f64 = Fetch
            .params()
            .iter()
            .find(|p| p.name == "max_failure_fraction")
            .and_then(|p| p.default)
            .unwrap()
            .parse()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wav"), b"a").unwrap();
        let none = manifest_table(&[("a", "gone.wav", None), ("b", "nope.wav", None)]);
        let err = error_of(run(
            dir.path(),
            none.clone(),
            &MemorySink::default(),
            default,
        ));
        assert_eq!(
            err,
            "none of the 2 tracks could be fetched (max_failure_fraction = 0.99): \
             a (no such file), b (no such file)"
        );
        // Partial failure passes; 1 commits even an empty result.
        let some = manifest_table(&[("a", "a.wav", None), ("b", "nope.wav", None)]);
        assert!(run(dir.path(), some, &MemorySink::default(), default).is_ok());
        let out = run(dir.path(), none, &MemorySink::default(), 1.0).unwrap();
        assert_eq!(out.metadata["fetched"], 0);
    }

    #[test]
    fn unsafe_track_ids_fail_the_node_with_their_row() {
        let dir = tempfile::tempdir().unwrap();
        for (id, why) in [
            ("../x", "contains `..`"),
            ("a/b", "contains a path separator"),
            ("", "is empty"),
            (
                "x\u{202E}y",
                "contains the bidirectional control character U+202E",
            ),
            ("t1 ", "has leading or trailing spaces"),
        ] {
            let t = manifest_table(&[("ok", "a.wav", None), (id, "b.wav", None)]);
            let err = error_of(run(dir.path(), t, &MemorySink::default(), 1.0));
            assert_eq!(
                err,
                format!("input `tracks`: row 2, column `track_id`: track id {id:?} {why}")
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn local_paths_outside_the_roots_fail_the_node_before_any_read() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(project.join("a.wav"), b"a").unwrap();
        std::fs::write(data.join("b.wav"), b"b").unwrap();
        let t = manifest_table(&[
            ("a", "a.wav", None),
            ("b", "../data/b.wav", None),
            ("env", "/proc/self/environ", None),
            ("zero", "file:///dev/zero", None),
        ]);
        let sink = MemorySink::default();
        let err = error_of(run(&project, t, &sink, 1.0));
        assert!(
            err.starts_with(
                "input `tracks`: 3 local files may not be read: row 2 (track \"b\", uri \
                 \"../data/b.wav\"): "
            ) && err.contains("add a directory that holds it to `allow_paths:` in pipeline.yaml")
                && err.contains(
                    "row 3 (track \"env\", uri \"/proc/self/environ\"): /proc/self/environ \
                     (which resolves to /proc/"
                )
                && err.contains("is under /proc, a kernel pseudo-file system")
                && err.contains("row 4 (track \"zero\""),
            "{err}"
        );
        assert!(sink.outputs.lock().unwrap().is_empty());

        // Allowed: read. A FIFO inside the roots: that track fails, at once.
        let fifo = project.join("fifo.wav");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let t = manifest_table(&[
            ("a", "a.wav", None),
            ("b", "../data/b.wav", None),
            ("f", "fifo.wav", None),
        ]);
        let sink = MemorySink::default();
        let out = run_with_roots(&project, &[data], t, None, &sink, 1.0).unwrap();
        assert_eq!(column(&table(&out, "fetched"), "track_id"), ["a", "b"]);
        assert_eq!(sink.bytes("audio/b"), b"b");
        let failures = table(&out, "failures");
        assert_eq!(column(&failures, "error"), ["a FIFO, not a regular file"]);
        assert!(!out.metadata.contains_key("retry_next_run"));
    }

    #[test]
    fn a_track_over_the_size_limit_fails() {
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("big.wav")).unwrap();
        big.set_len((1 << 20) + 1).unwrap();
        let t = manifest_table(&[("big", "big.wav", None)]);
        let out = run(dir.path(), t, &MemorySink::default(), 1.0).unwrap();
        assert_eq!(
            column(&table(&out, "failures"), "error"),
            ["larger than the limit of 1 MiB (max_track_mib)"]
        );
    }

    #[test]
    fn sha256_is_verified() {
        let track = Track {
            row: 1,
            id: "t".into(),
            uri: "x".into(),
            blake3: None,
            sha256: Some("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD".into()),
        };
        let hash = blake3::hash(b"abc").to_hex().to_string();
        assert_eq!(track.verify(b"abc", &hash), Ok(()));
        let err = track.verify(b"abd", &hash).unwrap_err();
        assert!(
            err.starts_with("sha256 mismatch: the manifest says ba7816bf"),
            "{err}"
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let sink = MemorySink::default();
        let Err(err) = run(dir.path(), manifest_table(&[]), &sink, 1.5) else {
            panic!("expected a parameter error")
        };
        assert!(err.to_string().contains("max_failure_fraction"), "{err}");
        let out = run(dir.path(), manifest_table(&[]), &sink, 0.0).unwrap();
        assert_eq!(out.metadata["tracks"], 0);
    }
}
