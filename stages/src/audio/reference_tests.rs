//! Agreement with librosa 0.11 on the files `make_reference.py` wrote, and a
//! smoke test on real music from a Debian package.

use super::test_util::{reference_bytes, reference_f32, reference_meta};
use super::*;

/// Max |a - b| over two equally long slices.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .fold(0.0, f64::max)
}

/// Max over dimensions of |ours - theirs| / max(|theirs|, 1e-3): relative
/// error, with an absolute floor for dimensions that are ~0 (delta means).
fn max_rel_diff(ours: &[f32], theirs: &[f32]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs() / f64::from(b.abs()).max(1e-3))
        .fold(0.0, f64::max)
}

fn reference_mel(name: &str, frames: usize) -> Vec<f32> {
    let mel = reference_f32(name);
    assert_eq!(mel.len(), CHANNELS * frames * N_MELS, "{name} shape");
    mel
}

fn frames_of(meta: &serde_json::Value, input: &str) -> usize {
    meta[input]["frames"].as_u64().expect("frames in meta.json") as usize
}

#[test]
fn audio_mel_and_mfcc_match_librosa_at_22050() {
    let meta = reference_meta();
    let decoded = decode(&reference_bytes("in_22050.wav")).unwrap();
    assert_eq!(
        (decoded.sample_rate, decoded.channels.len()),
        (SAMPLE_RATE, 2)
    );
    assert_eq!(
        decoded.len() as u64,
        meta["in_22050"]["samples"].as_u64().unwrap()
    );
    assert_eq!(decoded.end, StreamEnd::Complete);
    // Already at 22,050 Hz: no resampling between the file and the mel.
    let stereo = stereo_from_bytes(&reference_bytes("in_22050.wav"), None).unwrap();
    assert_eq!(stereo.channels[0], decoded.channels[0]);

    let power = mel_power(&stereo);
    let mel = power_to_db(&power);
    let frames = frames_of(&meta, "in_22050");
    assert_eq!((mel.channels, mel.frames, mel.bands), (2, frames, 128));
    let diff = max_abs_diff(&mel.data, &reference_mel("mel_22050.f32", frames));
    eprintln!("mel dB at 22,050 Hz: max abs diff vs librosa {diff:.3e} dB");
    assert!(diff < 1e-3, "mel dB differs from librosa by {diff} dB");

    let ours = mfcc_baseline(&power).unwrap();
    let rel = max_rel_diff(&ours, &reference_f32("mfcc_22050.f32"));
    eprintln!("MFCC-120 at 22,050 Hz: max rel diff vs librosa {rel:.3e}");
    assert!(rel < 1e-3, "MFCC differs from librosa by {rel} (relative)");
}

#[test]
fn audio_mel_of_soxr_resampled_input_matches_librosa() {
    // The same resampled input on both sides: only the mel code differs.
    let meta = reference_meta();
    let soxr = reference_f32("resampled_44100.f32");
    let n = meta["in_44100"]["resampled"].as_u64().unwrap() as usize;
    assert_eq!(soxr.len(), 2 * n);
    let stereo = Stereo {
        channels: [soxr[..n].to_vec(), soxr[n..].to_vec()],
        sample_rate: SAMPLE_RATE,
    };
    let power = mel_power(&stereo);
    let frames = frames_of(&meta, "in_44100");
    let diff = max_abs_diff(
        &power_to_db(&power).data,
        &reference_mel("mel_44100.f32", frames),
    );
    eprintln!("mel dB of soxr-resampled 44,100 Hz input: max abs diff {diff:.3e} dB");
    assert!(diff < 1e-3, "mel dB differs from librosa by {diff} dB");
    let rel = max_rel_diff(
        &mfcc_baseline(&power).unwrap(),
        &reference_f32("mfcc_44100.f32"),
    );
    assert!(rel < 1e-3, "MFCC differs from librosa by {rel} (relative)");
}

#[test]
fn audio_resampler_is_soxr_hq() {
    let meta = reference_meta();
    let decoded = decode(&reference_bytes("in_44100.flac")).unwrap();
    assert_eq!((decoded.sample_rate, decoded.channels.len()), (44_100, 2));
    let soxr = reference_f32("resampled_44100.f32");
    let n = meta["in_44100"]["resampled"].as_u64().unwrap() as usize;
    let mut worst = 0.0f64;
    for (c, channel) in decoded.channels.iter().enumerate() {
        let ours = resample(channel, 44_100, SAMPLE_RATE).unwrap();
        assert_eq!(ours.len(), n);
        worst = worst.max(max_abs_diff(&ours, &soxr[c * n..(c + 1) * n]));
    }
    // The same library and recipe as librosa's: equal up to the SIMD
    // rounding of another build of libsoxr.
    eprintln!("resampler vs librosa's soxr_hq: max abs diff {worst:.3e}");
    assert!(
        worst < 1e-5,
        "resampler differs from soxr_hq by up to {worst}"
    );

    // The whole chain (decode, resample, mel) against librosa.load + mel.
    let mel = mel_from_bytes(&reference_bytes("in_44100.flac"), None).unwrap();
    let reference = reference_mel("mel_44100.f32", frames_of(&meta, "in_44100"));
    let diff = max_abs_diff(&mel.data, &reference);
    eprintln!("mel dB of the whole chain at 44,100 Hz vs librosa: max abs diff {diff:.3e} dB");
    assert!(diff < 1e-3, "mel dB differs from librosa by {diff} dB");
}

#[test]
fn audio_lossy_reference_files_decode_like_libsndfile() {
    let meta = reference_meta();
    for name in ["tone_vorbis.ogg", "tone_mp3.mp3"] {
        let want = &meta[name];
        let decoded = decode(&reference_bytes(name)).unwrap();
        assert_eq!(
            u64::from(decoded.sample_rate),
            want["sample_rate"].as_u64().unwrap()
        );
        assert_eq!(
            decoded.channels.len() as u64,
            want["channels"].as_u64().unwrap()
        );
        // Encoder delay and padding are trimmed (gapless) as libsndfile
        // trims them, so both see the same number of samples.
        let frames = want["frames"].as_u64().unwrap() as usize;
        assert_eq!(decoded.len(), frames, "{name} length");
        for (channel, rms) in decoded.channels.iter().zip(want["rms"].as_array().unwrap()) {
            let ours = (channel.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>()
                / channel.len() as f64)
                .sqrt();
            let theirs = rms.as_f64().unwrap();
            assert!(
                (ours - theirs).abs() < 0.02 * theirs,
                "{name} rms {ours} vs {theirs}"
            );
        }
        // Mono MP3 becomes two equal channels.
        let stereo = to_stereo(&decoded).unwrap();
        if decoded.channels.len() == 1 {
            assert_eq!(stereo.channels[0], stereo.channels[1]);
        }
    }
}

const WESNOTH_MUSIC: &str = "/usr/share/games/wesnoth/1.16/data/core/music";

#[test]
fn audio_real_music_from_wesnoth_gives_sane_mels() {
    let dir = std::path::Path::new(WESNOTH_MUSIC);
    if !dir.is_dir() {
        eprintln!("skipped: {WESNOTH_MUSIC} not found (apt-get install wesnoth-1.16-music)");
        return;
    }
    // The three shortest tracks, and a longer one cut at 10 s.
    for (name, limit, seconds) in [
        ("victory.ogg", None, 5.5),
        ("defeat.ogg", None, 8.5),
        ("silence.ogg", None, 10.0),
        ("elf-land.ogg", Some(10.0), 10.0),
    ] {
        let path = dir.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("skipped {name}: cannot read {}", path.display());
            continue;
        };
        let decoded = match limit {
            Some(s) => decode_prefix(&bytes, s).unwrap(),
            None => decode(&bytes).unwrap(),
        };
        assert_eq!(
            (decoded.sample_rate, decoded.channels.len()),
            (44_100, 2),
            "{name}"
        );
        assert!(
            (decoded.duration_s() - seconds).abs() < 0.1,
            "{name}: {} s",
            decoded.duration_s()
        );
        let want_end = if limit.is_some() {
            StreamEnd::LimitReached
        } else {
            StreamEnd::Complete
        };
        assert_eq!(
            (decoded.end, decoded.skipped_packets),
            (want_end, 0),
            "{name}"
        );

        let mel = mel_from_bytes(&bytes, limit).unwrap();
        let samples = (decoded.len() as u64 * 22_050).div_ceil(44_100) as usize;
        assert_eq!(mel.frames, frame_count(samples), "{name}");
        let max = mel.data.iter().copied().fold(f32::MIN, f32::max);
        let min = mel.data.iter().copied().fold(f32::MAX, f32::min);
        eprintln!(
            "{name}: {:.2} s, {} frames, dB {min:.1} .. {max:.1}",
            decoded.duration_s(),
            mel.frames
        );
        assert!(
            mel.data.iter().all(|d| d.is_finite()),
            "{name}: non-finite dB"
        );
        assert!(max - min <= 80.0 + 1e-3, "{name}: range {min} .. {max}");
        if name == "silence.ogg" {
            // Near-silent track: all at or near the floor, still finite.
            assert!(max < 0.0, "{name}: max {max}");
        } else {
            // Real music: loud somewhere, with the floor reached somewhere.
            assert!(max > 0.0 && max < 80.0, "{name}: max {max} dB");
            assert!(max - min > 60.0, "{name}: range only {}", max - min);
            let mfcc =
                mfcc_baseline(&mel_power(&stereo_from_bytes(&bytes, limit).unwrap())).unwrap();
            assert!(mfcc.iter().all(|x| x.is_finite()));
        }
    }
}
