//! The audio front end end to end: manifest -> fetch -> mel -> scaler through
//! the real binary, on WAV files the test writes.

use arrow::array::{
    Array, FixedSizeListArray, Float32Array, Float64Array, RecordBatch, UInt32Array, UInt8Array,
};
use arrow::datatypes::DataType;

use crate::fetch::{manifest_of, output_table, run_in, strings};
use crate::support::*;

/// 16-bit PCM WAV bytes of `channels` (equal lengths) at `rate`.
fn wav(channels: &[Vec<f32>], rate: u32) -> Vec<u8> {
    let n = channels[0].len();
    let c = channels.len() as u16;
    let data_len = (n * channels.len() * 2) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(c) * 2).to_le_bytes());
    out.extend_from_slice(&(c * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        for ch in channels {
            let s = (ch[i].clamp(-1.0, 1.0) * 32767.0).round() as i16;
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out
}

fn sine(freq: f64, rate: u32, n: usize, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32
        })
        .collect()
}

fn chirp(rate: u32, n: usize, amp: f32) -> Vec<f32> {
    let (f0, f1) = (200.0, 5000.0);
    let length = n as f64 / f64::from(rate);
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let phase = 2.0 * std::f64::consts::PI * (f0 * t + (f1 - f0) * t * t / (2.0 * length));
            amp * phase.sin() as f32
        })
        .collect()
}

fn noise(n: usize, amp: f32) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            amp * ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
        })
        .collect()
}

const PIPELINE: &str = r#"
nodes:
  - name: tracks
    stage: load_table
    params: {path: tracks.csv}
  - name: audio
    stage: fetch
    inputs: {tracks: tracks}
  - name: mels
    stage: mel
    inputs: {audio: audio}
  - name: splits
    stage: read_csv
    params: {path: splits.csv}
  - name: scaler
    stage: scaler
    inputs: {mel: mels, tracks: splits}
"#;

/// A stored mel table as `[2, T, 128]` values, checking the documented
/// layout on the way.
fn mel_values(table: &RecordBatch) -> (usize, Vec<f32>) {
    let schema = table.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["channel", "frame", "mel"]);
    assert_eq!(schema.field(0).data_type(), &DataType::UInt8);
    assert_eq!(schema.field(1).data_type(), &DataType::UInt32);
    match schema.field(2).data_type() {
        DataType::FixedSizeList(item, 128) => assert_eq!(item.data_type(), &DataType::Float32),
        other => panic!("mel column is {other}"),
    }
    let rows = table.num_rows();
    assert_eq!(rows % 2, 0);
    let frames = rows / 2;
    let channel = table
        .column(0)
        .as_any()
        .downcast_ref::<UInt8Array>()
        .unwrap();
    let frame = table
        .column(1)
        .as_any()
        .downcast_ref::<UInt32Array>()
        .unwrap();
    for r in 0..rows {
        assert_eq!(
            (usize::from(channel.value(r)), frame.value(r) as usize),
            (r / frames, r % frames)
        );
    }
    let list = table
        .column(2)
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap();
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap();
    assert_eq!(values.len(), rows * 128);
    (frames, values.values().to_vec())
}

#[test]
fn manifest_to_mels_and_scaler() {
    let p = Project::new(&Backend::Local, "frontend");
    p.write("pipeline.yaml", PIPELINE);
    let dir = p.path("wav");
    std::fs::create_dir_all(&dir).unwrap();
    let tone = sine(440.0, 22_050, 22_050, 0.5);
    std::fs::write(dir.join("sine.wav"), wav(&[tone.clone(), tone], 22_050)).unwrap();
    std::fs::write(dir.join("noise.wav"), wav(&[noise(8_000, 0.3)], 16_000)).unwrap();
    std::fs::write(
        dir.join("chirp.wav"),
        wav(
            &[chirp(44_100, 35_280, 0.5), chirp(44_100, 35_280, 0.25)],
            44_100,
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("short.wav"),
        wav(&[sine(440.0, 22_050, 1_000, 0.5)], 22_050),
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.wav"),
        b"RIFF\x10\0\0\0WAVEnot really audio",
    )
    .unwrap();
    p.write(
        "tracks.csv",
        "track_id,uri\nsine,wav/sine.wav\nnoise,wav/noise.wav\nchirp,wav/chirp.wav\n\
         broken,wav/broken.wav\nshort,wav/short.wav\n",
    );
    p.write(
        "splits.csv",
        "track_id,split\nsine,train\nnoise,train\nchirp,test\nbroken,train\nshort,test\n",
    );

    let ran = run_in(&p, &["run", "--json"], None).ok();
    assert_eq!(
        ran.nodes("ran"),
        set(&["tracks", "audio", "mels", "splits", "scaler"])
    );
    assert!(
        ran.stderr
            .contains("warning: node `mels`: 2 of 5 tracks could not be analysed and are listed in `failures`: broken ("),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(
            "warning: node `scaler`: 1 of the 3 selected tracks have no mel and are left out of the scaler: broken (no mel)"
        ),
        "{}",
        ran.stderr
    );

    // The corrupt and the too-short file are failures; the others are mels.
    let failures = output_table(&p, &ran, "mels", "failures");
    assert_eq!(strings(&failures, "track_id"), ["broken", "short"]);
    let errors = strings(&failures, "error");
    assert!(errors[0].contains("malformed"), "{errors:?}");
    assert!(
        errors[1].contains("the clip has 4 frames; at least 9 are needed"),
        "{errors:?}"
    );

    // T = 1 + N / 256 for N samples at 22,050 Hz.
    let index = output_table(&p, &ran, "mels", "index");
    assert_eq!(strings(&index, "track_id"), ["sine", "noise", "chirp"]);
    let frames = index.column_by_name("frames").unwrap();
    let frames = frames.as_any().downcast_ref::<UInt32Array>().unwrap();
    let duration = index.column_by_name("duration_s").unwrap();
    let duration = duration.as_any().downcast_ref::<Float64Array>().unwrap();
    let expected_samples = [22_050usize, 11_025, 17_640];
    for (i, n) in expected_samples.into_iter().enumerate() {
        assert_eq!(frames.value(i) as usize, 1 + n / 256, "track {i}");
        assert!((duration.value(i) * 22_050.0 - n as f64).abs() < 1e-6);
    }
    assert_eq!(strings(&index, "stream_end"), ["complete"; 3]);

    // The mels: documented layout, 80 dB range, channels as the files have them.
    let mut mels = std::collections::BTreeMap::new();
    for (i, id) in ["sine", "noise", "chirp"].into_iter().enumerate() {
        let (t, values) = mel_values(&output_table(&p, &ran, "mels", &format!("mel/{id}")));
        assert_eq!(t, frames.value(i) as usize);
        assert!(values.iter().all(|v| v.is_finite()));
        let max = values.iter().copied().fold(f32::MIN, f32::max);
        let min = values.iter().copied().fold(f32::MAX, f32::min);
        assert!(max - min <= 80.0 + 1e-3, "{id}: {max} {min}");
        mels.insert(id, (t, values));
    }
    for id in ["sine", "noise"] {
        // Identical channels (the sine) and mono duplicated (the noise).
        let (t, v) = &mels[id];
        assert_eq!(v[..t * 128], v[t * 128..], "{id}");
    }
    // The chirp's right channel is half the amplitude: 6 dB down at the peak.
    let (t, v) = &mels["chirp"];
    let peak = (0..t * 128).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
    let drop = v[peak] - v[t * 128 + peak];
    assert!((drop - 6.02).abs() < 0.05, "{drop}");

    // The MFCC baseline: one 120-d vector per analysed track.
    let mfcc = output_table(&p, &ran, "mels", "mfcc");
    assert_eq!(strings(&mfcc, "track_id"), ["sine", "noise", "chirp"]);
    let list = mfcc
        .column(1)
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap();
    assert_eq!(list.value_length(), 120);
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap();
    assert_eq!(values.len(), 3 * 120);
    assert!(values.values().iter().all(|v| v.is_finite()));

    // The scaler: 128 bands fitted on the training tracks that have a mel
    // (sine and noise; chirp is a test track, broken has no mel).
    let scaler = output_table(&p, &ran, "scaler", "scaler");
    assert_eq!(scaler.num_rows(), 128);
    let band = scaler.column_by_name("band").unwrap();
    let band = band.as_any().downcast_ref::<UInt32Array>().unwrap();
    assert_eq!(band.values().to_vec(), (0..128).collect::<Vec<u32>>());
    let column = |name: &str| {
        scaler
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .values()
            .to_vec()
    };
    let (mean, std) = (column("mean"), column("std"));
    assert!(std.iter().all(|s| s.is_finite() && *s > 0.0), "{std:?}");
    let train: Vec<f32> = ["sine", "noise"]
        .iter()
        .flat_map(|id| mels[id].1.iter().copied())
        .collect();
    let count = (train.len() / 128) as f64;
    for b in 0..128 {
        let m = train
            .iter()
            .skip(b)
            .step_by(128)
            .map(|&x| f64::from(x))
            .sum::<f64>()
            / count;
        let var = train
            .iter()
            .skip(b)
            .step_by(128)
            .map(|&x| (f64::from(x) - m).powi(2))
            .sum::<f64>()
            / count;
        assert!((mean[b] - m).abs() < 1e-6, "band {b}: {} vs {m}", mean[b]);
        assert!((std[b] - var.sqrt()).abs() < 1e-6, "band {b}");
    }
    let meta = &manifest_of(&p, &ran, "scaler")["metadata"];
    assert_eq!((&meta["tracks"], &meta["missing"]), (&2.into(), &1.into()));
    assert_eq!(meta["frames"], 2 * (87 + 44));

    // Nothing changed: nothing runs.
    let again = run_in(&p, &["run", "--json"], None).ok();
    assert!(again.nodes("ran").is_empty(), "{}", again.stdout);
    assert_eq!(
        again.nodes("cached"),
        set(&["tracks", "audio", "mels", "splits", "scaler"])
    );
}

/// symphonia's own log lines (here its probe skipping junk before the RIFF
/// header) go through our subscriber: hidden by default, since a user cannot
/// act on them, shown plain (no colour codes off a terminal) when asked for.
#[test]
fn third_party_audio_logs_go_through_our_subscriber() {
    let project = |name: &str| {
        let p = Project::new(&Backend::Local, name);
        p.write(
            "pipeline.yaml",
            "nodes:\n  - {name: tracks, stage: load_table, params: {path: tracks.csv}}\n  \
             - {name: audio, stage: fetch, inputs: {tracks: tracks}}\n  \
             - {name: mels, stage: mel, inputs: {audio: audio}}\n",
        );
        let mut junk = vec![0u8; 45];
        junk.extend(wav(&[sine(440.0, 22_050, 22_050, 0.5)], 22_050));
        std::fs::write(p.path("junk.wav"), junk).unwrap();
        p.write("tracks.csv", "track_id,uri\njunk,junk.wav\n");
        p
    };

    let p = project("frontend_logs_default");
    let quiet = p.run(&["run", "--json"]).ok();
    assert!(
        !quiet.stderr.contains("junk at"),
        "hidden by default: {}",
        quiet.stderr
    );
    let table = output_table(&p, &quiet, "mels", "mel/junk");
    assert!(table.num_rows() > 0, "the track past the junk is analysed");

    let asked = project("frontend_logs_asked")
        .command(&["run", "--json"])
        .env("PIPELINE_LOG", "warn")
        .output()
        .expect("the binary starts");
    let stderr = String::from_utf8_lossy(&asked.stderr);
    assert!(asked.status.success(), "{stderr}");
    assert!(
        stderr.contains("skipped 45 bytes of junk at 0"),
        "shown when asked for: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no colour codes: {stderr:?}");
}
