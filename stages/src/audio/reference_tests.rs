//! Agreement with librosa 0.11 on the files `make_reference.py` wrote, a
//! smoke test on real music from a Debian package, and agreement with
//! opusdec (libopusfile) on the Opus files `make_opus_reference.py` decoded.

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

/// Largest |ours - opusdec| per sample allowed against the Opus references
/// (`make_opus_reference.py`). libopus decodes in float; the same library
/// gives the same samples (0 measured with Debian's libopus 1.3.1 on both
/// sides), another build or release of it may round differently.
const OPUS_TOLERANCE: f64 = 1e-4;

fn opus_meta() -> serde_json::Value {
    serde_json::from_slice(&reference_bytes("opus_reference.json")).expect("JSON")
}

/// `[channel][sample]` of a planar reference file.
fn planes(name: &str, channels: usize) -> Vec<Vec<f32>> {
    let all = reference_f32(name);
    assert_eq!(all.len() % channels, 0, "{name}");
    all.chunks_exact(all.len() / channels)
        .map(<[f32]>::to_vec)
        .collect()
}

#[test]
fn audio_opus_decodes_like_libopusfile() {
    let want = &opus_meta()["tone_opus.opus"];
    let bytes = reference_bytes("tone_opus.opus");
    let decoded = decode(&bytes).unwrap();
    assert_eq!((decoded.sample_rate, decoded.channels.len()), (48_000, 1));
    assert_eq!(
        (decoded.end, decoded.skipped_packets),
        (StreamEnd::Complete, 0)
    );
    // Pre-skip (312) dropped, the end cut to the last granule position: as
    // many samples as opusdec gives (0.5 s).
    assert_eq!(decoded.len() as u64, want["frames"].as_u64().unwrap());
    let reference = planes("opus_tone.f32", 1);
    let diff = max_abs_diff(&decoded.channels[0], &reference[0]);
    eprintln!("tone_opus.opus vs opusdec: max abs diff {diff:.3e}");
    assert!(diff <= OPUS_TOLERANCE, "differs from opusdec by {diff}");
    // The streamed path reads it too: mono to stereo, 48 kHz to 22,050 Hz.
    let track = track::analyse(&bytes, None).unwrap();
    assert_eq!(
        (track.source_sample_rate, track.source_channels),
        (48_000, 1)
    );
    assert_eq!(track.samples, 11_025);
    assert_eq!(track.mel.data, mel_from_bytes(&bytes, None).unwrap().data);
}

/// Real Opus music (Warzone 2100's menu theme, Debian's
/// warzone2100-music), against opusdec's decode of the same file: the first
/// and last 0.5 s sample by sample, every 0.1 s block by RMS and peak, and
/// the length; with `OPUS_FULL_REFERENCE` set to opusdec's whole raw
/// decode (`opusdec --float --rate 48000 menu.opus menu.f32`), every
/// sample. Skipped where the package is missing, except under CI.
#[test]
fn audio_real_opus_music_decodes_like_libopusfile() {
    let meta = opus_meta();
    let want = &meta["menu"];
    let path = want["path"].as_str().unwrap();
    let Ok(bytes) = std::fs::read(path) else {
        let reason = format!("{path} not found (apt-get install warzone2100-music)");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{reason}; under CI, scripts/setup.sh --test installs it"
        );
        eprintln!("skipped: {reason}");
        return;
    };
    use sha2::Digest;
    let sha = format!("{:x}", sha2::Sha256::digest(&bytes));
    assert_eq!(
        sha,
        want["sha256"].as_str().unwrap(),
        "{path} is not the file the reference was made from: run \
         tests/reference/audio/make_opus_reference.py again"
    );
    let decoded = decode(&bytes).unwrap();
    let channels = want["channels"].as_u64().unwrap() as usize;
    assert_eq!(
        (decoded.sample_rate, decoded.channels.len()),
        (48_000, channels)
    );
    assert_eq!(
        (decoded.end, decoded.skipped_packets),
        (StreamEnd::Complete, 0)
    );
    assert_eq!(decoded.speakers, vec![Speaker::Left, Speaker::Right]);
    let frames = want["frames"].as_u64().unwrap() as usize;
    assert_eq!(decoded.len(), frames, "length (pre-skip and end trimming)");

    let head = want["head"].as_u64().unwrap() as usize;
    let mut worst: f64 = 0.0;
    for (name, range) in [
        ("opus_menu_head.f32", 0..head),
        ("opus_menu_tail.f32", frames - head..frames),
    ] {
        for (ours, theirs) in decoded.channels.iter().zip(planes(name, channels)) {
            worst = worst.max(max_abs_diff(&ours[range.clone()], &theirs));
        }
    }
    eprintln!("menu.opus first and last 0.5 s vs opusdec: max abs diff {worst:.3e}");
    assert!(worst <= OPUS_TOLERANCE, "differs from opusdec by {worst}");

    let block = want["block"].as_u64().unwrap() as usize;
    let stats = planes("opus_menu_blocks.f32", channels);
    let mut worst: f64 = 0.0;
    for (ours, theirs) in decoded.channels.iter().zip(&stats) {
        assert_eq!(theirs.len(), 2 * frames.div_ceil(block));
        for (samples, want) in ours.chunks(block).zip(theirs.chunks_exact(2)) {
            let sum: f64 = samples.iter().map(|x| f64::from(*x).powi(2)).sum();
            let rms = (sum / samples.len() as f64).sqrt();
            let peak = samples.iter().fold(0f32, |m, x| m.max(x.abs()));
            worst = worst
                .max((rms - f64::from(want[0])).abs())
                .max((f64::from(peak) - f64::from(want[1])).abs());
        }
    }
    eprintln!("menu.opus 0.1 s blocks' RMS and peak vs opusdec: max abs diff {worst:.3e}");
    assert!(
        worst <= OPUS_TOLERANCE,
        "block statistics differ by {worst}"
    );

    // A download cut short keeps what came before the cut, as decoded.
    let cut = decode(&bytes[..bytes.len() * 6 / 10]).unwrap();
    eprintln!(
        "menu.opus cut at 60%: {} of {frames} samples, {:?}",
        cut.len(),
        cut.end
    );
    assert!(cut.len() > frames / 2 && cut.len() < frames);
    assert_eq!(cut.channels[1], decoded.channels[1][..cut.len()]);

    if let Ok(full) = std::env::var("OPUS_FULL_REFERENCE") {
        let theirs = std::fs::read(full).unwrap();
        let theirs: Vec<f32> = theirs
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let ours: Vec<f32> = (0..frames)
            .flat_map(|i| decoded.channels.iter().map(move |c| c[i]))
            .collect();
        let diff = max_abs_diff(&ours, &theirs);
        eprintln!("menu.opus whole vs opusdec: max abs diff {diff:.3e}");
        assert!(diff <= OPUS_TOLERANCE, "differs from opusdec by {diff}");
    }

    // A prefix is the start of the whole, and the streamed front end
    // takes the file like any other.
    let prefix = decode_prefix(&bytes, 0.5).unwrap();
    assert_eq!((prefix.len(), prefix.end), (head, StreamEnd::LimitReached));
    assert_eq!(prefix.channels[0], decoded.channels[0][..head]);
    let track = track::analyse(&bytes, Some(10.0)).unwrap();
    assert_eq!(track.samples, 220_500);
    assert_eq!(track.mel.frames, frame_count(220_500));
    let max = track.mel.data.iter().copied().fold(f32::MIN, f32::max);
    assert!(max > 0.0 && max < 80.0, "max {max} dB");
}
