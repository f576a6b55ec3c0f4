//! `mel`: fetched audio in, per-track dB mel spectrograms and the MFCC
//! baseline out (SPEC 3).
//!
//! Input `audio`: a `fetch` node; its `fetched` table says which
//! `audio/<track_id>` files exist. Every track is decoded, made stereo,
//! resampled to 22,050 Hz, and turned into a `[2, T, 128]` dB mel
//! (T = 1 + N / 256 for N samples) and the 120-d MFCC vector (computed from
//! the mel *power*, averaged over channels, as [`crate::audio::mfcc`] explains).
//!
//! Outputs:
//! - `mel/<track_id>`: the mel, in the layout of [`super::mel_table`],
//!   emitted as soon as it is ready;
//! - `index` (track_id Utf8, frames UInt32, duration_s Float64,
//!   source_sample_rate UInt32, source_channels UInt16, stream_end Utf8,
//!   skipped_packets UInt32): the tracks analysed, in the order of
//!   `fetched`. `stream_end` is `complete`, `limit_reached` (cut at
//!   `max_seconds`), `truncated` (the file ends early; what is there is
//!   used) or `changed` (the stream changed format; the first part is used);
//! - `mfcc` (track_id Utf8, mfcc FixedSizeList<Float32, 120>): the
//!   baseline, same tracks and order (vector layout in [`crate::audio::mfcc`]);
//! - `failures` (track_id Utf8, error Utf8): tracks that could not be
//!   analysed (undecodable, or under 9 frames: too short for the MFCC
//!   deltas). A failure never stops the stage; a failed track has no mel,
//!   so `index`, `mfcc` and the `mel/*` files always cover the same tracks.
//!
//! Tracks run in parallel (rayon), one track per thread at a time, each
//! streamed through the front end ([`crate::audio::track`]): memory is the
//! file's bytes and its mel per thread, not its decoded samples. An interrupted attempt resumes from
//! the mels it emitted, and a track whose audio (same id, same bytes) any
//! mel node with the same parameters analysed before is reused
//! ([`Sink::reuse_item`]); metadata counts `analysed` (all), `resumed` and
//! `reused`.

use std::sync::Arc;

use arrow::array::{
    FixedSizeListArray, Float32Array, Float64Array, RecordBatch, StringArray, UInt16Array,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::journal::Journal;
use super::mel_table;
use crate::api::*;
use crate::audio::{self, StreamEnd, MFCC_DIMS, SAMPLE_RATE};
use crate::table::{failures_table, summarise, track_ids};

pub struct MelSpectrograms;

/// What is known of an analysed track besides its mel.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Analysed {
    frames: u32,
    duration_s: f64,
    sample_rate: u32,
    channels: u16,
    stream_end: String,
    skipped_packets: u32,
    mfcc: Vec<f32>,
}

enum Outcome {
    Done(Analysed, How),
    Failed(String),
}

/// How an analysed track's mel came to be in the node.
#[derive(Clone, Copy, PartialEq)]
enum How {
    Computed,
    /// From an earlier, interrupted attempt at this node.
    Resumed,
    /// From another mel node with the same parameters, of the same audio.
    Reused,
}

fn stream_end(end: StreamEnd) -> &'static str {
    match end {
        StreamEnd::Complete => "complete",
        StreamEnd::LimitReached => "limit_reached",
        StreamEnd::Truncated => "truncated",
        StreamEnd::Changed => "changed",
    }
}

/// One track's bytes to its mel and record (the bytes are freed once
/// decoded); `Err` is the reason for the failures table.
fn analyse(bytes: Vec<u8>, max_seconds: Option<f64>) -> Result<(audio::MelDb, Analysed), String> {
    let track = audio::analyse(bytes, max_seconds).map_err(|e| e.to_string())?;
    let record = Analysed {
        frames: track.mel.frames as u32,
        duration_s: track.samples as f64 / f64::from(SAMPLE_RATE),
        sample_rate: track.source_sample_rate,
        channels: track.source_channels as u16,
        stream_end: stream_end(track.ending.end).to_string(),
        skipped_packets: track.ending.skipped_packets as u32,
        mfcc: track.mfcc.to_vec(),
    };
    Ok((track.mel, record))
}

impl Stage for MelSpectrograms {
    fn name(&self) -> &'static str {
        "mel"
    }
    fn version(&self) -> u32 {
        // 2: a file stating an implausible sample rate is a failure.
        // 3: resampled by libsoxr itself (librosa's samples; mels move by
        // up to 0.23 dB in the top bands); mel power and MFCC in f32 after
        // the FFT, as librosa (values move by about 1e-5 dB).
        // 4: Ogg Opus decodes (it was a failure); other formats' bytes are
        // unchanged.
        4
    }
    fn doc(&self) -> &'static str {
        "Per fetched track: stereo 22,050 Hz dB mel spectrogram [2, T, 128] (mel/<track_id>), \
         the 120-d MFCC baseline (`mfcc`), `index` and `failures`."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec {
            name: "max_seconds",
            ty: ParamType::Float,
            default: Some("0"),
            doc: "analyse only the first this many seconds of each track (0: all of it)",
            in_key: true,
        }]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[InputSpec {
            name: "audio",
            many: false,
            doc: "a fetch node",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let max_seconds = ctx.params.f64("max_seconds")?;
        if !(max_seconds.is_finite() && max_seconds >= 0.0) {
            return Err(StageError::Param {
                name: "max_seconds".into(),
                reason: "must be 0 (all) or a positive number of seconds".into(),
            });
        }
        let max_seconds = (max_seconds > 0.0).then_some(max_seconds);
        let upstream = ctx.input("audio")?;
        let fetched = upstream
            .files
            .table("fetched")
            .map_err(|e| StageError::Input {
                slot: "audio".into(),
                reason: format!("node {} (expected a fetch node): {e}", upstream.node),
            })?;
        let ids = track_ids(&fetched, "audio")?;
        let journal = Journal::<Analysed>::resume(ctx.sink, "mel")?;
        ctx.progress.set_total(ids.len() as u64);

        let one = |id: &String| -> Result<Outcome, StageError> {
            let name = format!("mel/{id}");
            if let Some(earlier) = journal.earlier(id) {
                if ctx.sink.has(&name) {
                    return Ok(Outcome::Done(earlier.clone(), How::Resumed));
                }
            }
            let audio = format!("audio/{id}");
            let item = [
                ItemSource::Text(id),
                ItemSource::File {
                    slot: "audio",
                    file: &audio,
                },
            ];
            let store_error = |e: String| StageError::Data(format!("cannot store {name}: {e}"));
            let reused = ctx.sink.reuse_item(&item).map_err(store_error)?;
            if let Some(record) = reused.and_then(|r| serde_json::from_value::<Analysed>(r).ok()) {
                journal.add(id, record.clone())?;
                return Ok(Outcome::Done(record, How::Reused));
            }
            let bytes = upstream
                .files
                .bytes(&audio)
                .map_err(|e| StageError::Input {
                    slot: "audio".into(),
                    reason: format!("node {}: {e}", upstream.node),
                })?;
            let (mel, record) = match analyse(bytes, max_seconds) {
                Ok(done) => done,
                Err(why) => return Ok(Outcome::Failed(why)),
            };
            let table = mel_table::to_table(mel)?;
            let kept = serde_json::to_value(&record).expect("records serialise");
            ctx.sink
                .emit_item(&item, vec![(name.clone(), Output::Table(table))], &kept)
                .map_err(store_error)?;
            journal.add(id, record.clone())?;
            Ok(Outcome::Done(record, How::Computed))
        };
        let outcomes: Result<Vec<Outcome>, StageError> = ids
            .par_iter()
            .map(|id| {
                let outcome = one(id);
                ctx.progress.advance(1);
                outcome
            })
            .collect();
        journal.flush()?;
        report(&ids, outcomes?)
    }
}

fn report(ids: &[String], outcomes: Vec<Outcome>) -> Result<Outputs, StageError> {
    let mut done: Vec<(&str, Analysed)> = Vec::new();
    let mut failed: Vec<(&str, String)> = Vec::new();
    let (mut resumed, mut reused) = (0usize, 0usize);
    for (id, outcome) in ids.iter().zip(outcomes) {
        match outcome {
            Outcome::Done(record, how) => {
                resumed += usize::from(how == How::Resumed);
                reused += usize::from(how == How::Reused);
                done.push((id, record));
            }
            Outcome::Failed(why) => failed.push((id, why)),
        }
    }
    let index = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("frames", DataType::UInt32, false),
            Field::new("duration_s", DataType::Float64, false),
            Field::new("source_sample_rate", DataType::UInt32, false),
            Field::new("source_channels", DataType::UInt16, false),
            Field::new("stream_end", DataType::Utf8, false),
            Field::new("skipped_packets", DataType::UInt32, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(
                done.iter().map(|(id, _)| *id),
            )),
            Arc::new(UInt32Array::from_iter_values(
                done.iter().map(|(_, r)| r.frames),
            )),
            Arc::new(Float64Array::from_iter_values(
                done.iter().map(|(_, r)| r.duration_s),
            )),
            Arc::new(UInt32Array::from_iter_values(
                done.iter().map(|(_, r)| r.sample_rate),
            )),
            Arc::new(UInt16Array::from_iter_values(
                done.iter().map(|(_, r)| r.channels),
            )),
            Arc::new(StringArray::from_iter_values(
                done.iter().map(|(_, r)| r.stream_end.as_str()),
            )),
            Arc::new(UInt32Array::from_iter_values(
                done.iter().map(|(_, r)| r.skipped_packets),
            )),
        ],
    )?;
    let values: Vec<f32> = done
        .iter()
        .flat_map(|(_, r)| r.mfcc.iter().copied())
        .collect();
    if values.len() != done.len() * MFCC_DIMS {
        return Err(StageError::Data(
            "an MFCC vector has the wrong length (a corrupt checkpoint?)".into(),
        ));
    }
    let mfcc = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new(
                "mfcc",
                DataType::FixedSizeList(
                    Arc::new(Field::new("item", DataType::Float32, false)),
                    MFCC_DIMS as i32,
                ),
                false,
            ),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(
                done.iter().map(|(id, _)| *id),
            )),
            Arc::new(FixedSizeListArray::try_new(
                Arc::new(Field::new("item", DataType::Float32, false)),
                MFCC_DIMS as i32,
                Arc::new(Float32Array::from(values)),
                None,
            )?),
        ],
    )?;
    let (failures, failed_warning) = failures_table(&failed, ids.len())?;
    let frames: u64 = done.iter().map(|(_, r)| u64::from(r.frames)).sum();
    let mut warnings: Vec<String> = failed_warning.into_iter().collect();
    let partial: Vec<(&str, String)> = done
        .iter()
        .filter(|(_, r)| {
            matches!(r.stream_end.as_str(), "truncated" | "changed") || r.skipped_packets > 0
        })
        .map(|(id, r)| {
            let why = if r.skipped_packets > 0 {
                format!("{}, {} packets skipped", r.stream_end, r.skipped_packets)
            } else {
                r.stream_end.clone()
            };
            (*id, why)
        })
        .collect();
    if !partial.is_empty() {
        let listed: Vec<(&str, &str)> = partial.iter().map(|(id, w)| (*id, w.as_str())).collect();
        warnings.push(format!(
            "{} tracks were decoded only in part (see `index`: stream_end, skipped_packets): {}",
            partial.len(),
            summarise(&listed)
        ));
    }
    let mut outputs = Outputs::default()
        .meta("tracks", ids.len())
        .meta("analysed", done.len())
        .meta("failed", failed.len())
        .meta("resumed", resumed)
        .meta("reused", reused)
        .meta("frames", frames);
    if !warnings.is_empty() {
        outputs = outputs.meta("warnings", warnings);
    }
    Ok(outputs
        .table("index", index)
        .table("mfcc", mfcc)
        .table("failures", failures))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::frontend::test_sink::{MemoryFiles, MemorySink, NoProgress};

    /// Mono 16-bit PCM WAV bytes.
    fn wav(samples: &[f32], rate: u32) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        for v in [16u32, 1 | (1 << 16), rate, rate * 2, 2 | (16 << 16)] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for s in samples {
            out.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes());
        }
        out
    }

    fn run(upstream: Vec<Upstream>, sink: &MemorySink, max_seconds: f64) -> Outputs {
        let inputs = BTreeMap::from([("audio".to_string(), upstream)]);
        let mut map = serde_json::Map::new();
        map.insert("max_seconds".into(), max_seconds.into());
        let params = Params(map);
        let files = BTreeMap::new();
        let ctx = StageContext {
            node: "mel",
            params: &params,
            inputs: &inputs,
            files: &files,
            progress: &NoProgress,
            sink,
            base_dir: std::path::Path::new("."),
            local_roots: &[],
        };
        match MelSpectrograms.run(&ctx) {
            Ok(outputs) => outputs,
            Err(e) => panic!("{e}"),
        }
    }

    fn table(outputs: &Outputs, name: &str) -> RecordBatch {
        match &outputs.files[name] {
            Output::Table(t) => t.clone(),
            _ => panic!("{name} is not a table"),
        }
    }

    fn upstream() -> Vec<Upstream> {
        let tone: Vec<f32> = (0..44_100).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
        let mut files = MemoryFiles::default();
        files.tables.insert(
            "fetched".into(),
            RecordBatch::try_new(
                Arc::new(Schema::new(vec![Field::new(
                    "track_id",
                    DataType::Utf8,
                    false,
                )])),
                vec![Arc::new(StringArray::from(vec!["tone", "junk"]))],
            )
            .unwrap(),
        );
        files.bytes.insert("audio/tone".into(), wav(&tone, 22_050));
        files.bytes.insert("audio/junk".into(), b"junk".to_vec());
        files.upstream("audio")
    }

    #[test]
    fn analyses_tracks_lists_failures_and_resumes() {
        let sink = MemorySink::default();
        let out = run(upstream(), &sink, 0.0);
        let index = table(&out, "index");
        assert_eq!(index.num_rows(), 1);
        let frames = index
            .column_by_name("frames")
            .unwrap()
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap()
            .value(0);
        assert_eq!(frames as usize, 1 + 44_100 / 256);
        let mel = mel_table::from_table(&sink.table("mel/tone")).unwrap();
        assert_eq!((mel.channels, mel.frames), (2, frames as usize));
        assert_eq!(table(&out, "failures").num_rows(), 1);
        assert_eq!(table(&out, "mfcc").num_rows(), 1);
        assert_eq!(out.metadata["resumed"], 0);

        // A second attempt at the same node takes what the first emitted.
        let again = run(upstream(), &sink, 0.0);
        assert_eq!(again.metadata["resumed"], 1);
        assert_eq!(table(&again, "mfcc"), table(&out, "mfcc"));
        assert_eq!(table(&again, "index"), table(&out, "index"));
    }

    #[test]
    fn max_seconds_cuts_the_decoding() {
        let sink = MemorySink::default();
        let out = run(upstream(), &sink, 1.0);
        let index = table(&out, "index");
        let frames = index
            .column_by_name("frames")
            .unwrap()
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap()
            .value(0);
        assert_eq!(frames as usize, 1 + 22_050 / 256);
        assert_eq!(
            index
                .column_by_name("stream_end")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(0),
            "limit_reached"
        );
    }
}
