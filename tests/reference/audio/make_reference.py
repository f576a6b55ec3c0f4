#!/usr/bin/env python3
"""Reference outputs of librosa 0.11 for the Rust audio front end
(stages/src/audio). Deterministic: running it again rewrites the same files.

    python3 -m venv ~/.cache/mdr/venv-audio
    ~/.cache/mdr/venv-audio/bin/pip install 'librosa==0.11.*' soundfile numpy
    ~/.cache/mdr/venv-audio/bin/python tests/reference/audio/make_reference.py

Inputs (16-bit PCM, so Rust and soundfile read bit-identical samples):
  in_22050.wav   2.0 s stereo at 22,050 Hz: chirps, tones, noise, silence
  in_44100.flac  1.0 s stereo at 44,100 Hz: the same kinds, plus content
                 above 11,025 Hz that resampling must remove
  tone_vorbis.ogg, tone_mp3.mp3  3 s lossy files for the decoders
  tone_opus.opus  0.5 s of Opus (its reference decode: make_opus_reference.py)

Outputs (raw little-endian float32, C order; shapes in meta.json):
  mel_22050.f32        [2, T, 128] dB mel of in_22050.wav
  mfcc_22050.f32       [120] MFCC baseline of in_22050.wav
  resampled_44100.f32  [2, N] librosa.load(in_44100.flac, sr=22050,
                       mono=False), i.e. soxr 'hq'
  mel_44100.f32        [2, T, 128] dB mel of that resampled signal
  mfcc_44100.f32       [120] MFCC baseline of that resampled signal

Mel: librosa.feature.melspectrogram defaults at n_fft=1024, hop=256,
n_mels=128 (center, constant padding, periodic Hann, power 2, Slaney), then
power_to_db(ref=1, amin=1e-10, top_db=80) over the whole (2, 128, T) array.
MFCC baseline: mean of the two channels' mel power, power_to_db(top_db=80),
librosa.feature.mfcc(S=..., n_mfcc=20) (DCT-II ortho), delta width 9 of
order 1 and 2 (mode 'interp'), then [means of the 60 series, population
stds of the 60 series].
"""

import json
import os

import librosa
import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
SR = 22050
N_FFT, HOP, N_MELS = 1024, 256, 128


def chirp(t, f0, f1, log=True):
    """Phase-continuous sweep from f0 to f1 Hz over the span of t."""
    span = t[-1] - t[0]
    if log:
        k = (f1 / f0) ** (1.0 / span)
        return np.sin(2 * np.pi * f0 * (k ** (t - t[0]) - 1) / np.log(k))
    return np.sin(2 * np.pi * (f0 * (t - t[0]) + (f1 - f0) * (t - t[0]) ** 2 / (2 * span)))


def tones(t, freqs, amps):
    return sum(a * np.sin(2 * np.pi * f * t + i) for i, (f, a) in enumerate(zip(freqs, amps)))


def fade(x, sr, ms=10):
    """Short raised-cosine fades so segment edges do not click."""
    n = min(len(x) // 2, int(sr * ms / 1000))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
    x = x.copy()
    x[:n] *= ramp
    x[-n:] *= ramp[::-1]
    return x


def signal(sr, seconds, rng, top_hz):
    """Stereo test signal: four segments per channel, different per channel."""
    n = int(sr * seconds)
    seg = n // 4
    t = np.arange(seg) / sr
    left = np.concatenate([
        fade(0.5 * chirp(t, 100.0, top_hz), sr),
        fade(tones(t, [440.0, 3520.0, 0.8 * top_hz], [0.3, 0.2, 0.1]), sr),
        np.zeros(seg),  # digital silence
        fade(0.1 * rng.standard_normal(seg), sr),
    ])
    right = np.concatenate([
        fade(0.2 * rng.standard_normal(seg), sr),
        np.zeros(seg),
        fade(0.4 * chirp(t, 50.0, top_hz, log=False), sr),
        fade(tones(t, [220.0, 1000.0, 5000.0], [0.4, 0.05, 0.02]) + 1e-3 * rng.standard_normal(seg), sr),
    ])
    y = np.stack([left, right])
    return np.pad(y, ((0, 0), (0, n - y.shape[1])))


def pcm16(y):
    """Rounds to 16-bit, returns the float32 values every reader will see."""
    q = np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
    return q


def mel_power(y):
    return librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)


def mel_db(y):
    db = librosa.power_to_db(mel_power(y), ref=1.0, amin=1e-10, top_db=80.0)
    return np.ascontiguousarray(np.transpose(db, (0, 2, 1)), dtype=np.float32)  # [2, T, 128]


def mfcc_baseline(y):
    s = mel_power(y).mean(axis=0)
    m = librosa.feature.mfcc(S=librosa.power_to_db(s, top_db=80.0), n_mfcc=20)
    d1 = librosa.feature.delta(m, width=9, order=1)
    d2 = librosa.feature.delta(m, width=9, order=2)
    f = np.vstack([m, d1, d2])
    return np.concatenate([f.mean(axis=1), f.std(axis=1)]).astype(np.float32)


def ogg_crc(data):
    """CRC-32 of an Ogg page (polynomial 0x04c11db7, unreflected, init 0)."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def fix_ogg_serial(path, serial=0x6D647231):
    """libsndfile picks a random Ogg stream serial; pin it so reruns match."""
    data = bytearray(open(path, "rb").read())
    pos = 0
    while pos < len(data):
        assert data[pos:pos + 4] == b"OggS"
        segments = data[pos + 26]
        size = 27 + segments + sum(data[pos + 27:pos + 27 + segments])
        data[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        data[pos + 22:pos + 26] = bytes(4)
        data[pos + 22:pos + 26] = ogg_crc(data[pos:pos + size]).to_bytes(4, "little")
        pos += size
    open(path, "wb").write(bytes(data))


def write(name, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(os.path.join(HERE, name))


def main():
    rng = np.random.default_rng(20240601)
    meta = {"librosa": librosa.__version__, "numpy": np.__version__, "soundfile": sf.__version__}

    # 22,050 Hz: the mel and MFCC bars.
    q = pcm16(signal(SR, 2.0, rng, top_hz=10000.0))
    sf.write(os.path.join(HERE, "in_22050.wav"), q.T, SR, subtype="PCM_16")
    y22, sr = sf.read(os.path.join(HERE, "in_22050.wav"), dtype="float32", always_2d=True)
    y22 = np.ascontiguousarray(y22.T)
    assert sr == SR and np.array_equal(y22, q.astype(np.float32) / 32768.0)
    mel = mel_db(y22)
    write("mel_22050.f32", mel)
    write("mfcc_22050.f32", mfcc_baseline(y22))
    meta["in_22050"] = {"samples": int(y22.shape[1]), "frames": int(mel.shape[1])}

    # 44,100 Hz: resampling, then the same features.
    q = pcm16(signal(44100, 1.0, rng, top_hz=20000.0))
    path = os.path.join(HERE, "in_44100.flac")
    sf.write(path, q.T, 44100, subtype="PCM_16")
    y44, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == 44100
    loaded, sr = librosa.load(path, sr=SR, mono=False)
    explicit = librosa.resample(np.ascontiguousarray(y44.T), orig_sr=44100, target_sr=SR, res_type="soxr_hq")
    assert sr == SR and np.array_equal(loaded, explicit)
    write("resampled_44100.f32", loaded)
    mel = mel_db(loaded)
    write("mel_44100.f32", mel)
    write("mfcc_44100.f32", mfcc_baseline(loaded))
    meta["in_44100"] = {"samples": int(y44.shape[0]), "resampled": int(loaded.shape[1]), "frames": int(mel.shape[1])}

    # Lossy files for the decoders: what libsndfile decodes, to compare with.
    t = np.arange(int(3.0 * 44100)) / 44100
    stereo = np.stack([fade(0.5 * np.sin(2 * np.pi * 440 * t), 44100), fade(0.25 * np.sin(2 * np.pi * 1320 * t), 44100)])
    for name, data, fmt, subtype in [
        ("tone_vorbis.ogg", stereo, "OGG", "VORBIS"),
        ("tone_mp3.mp3", stereo[:1], "MP3", "MPEG_LAYER_III"),
    ]:
        p = os.path.join(HERE, name)
        sf.write(p, data.T.astype(np.float32), 44100, format=fmt, subtype=subtype)
        if fmt == "OGG":
            fix_ogg_serial(p)
        back, sr = sf.read(p, dtype="float32", always_2d=True)
        meta[name] = {
            "sample_rate": sr,
            "channels": int(back.shape[1]),
            "frames": int(back.shape[0]),
            "rms": [float(np.sqrt(np.mean(back[:, c].astype(np.float64) ** 2))) for c in range(back.shape[1])],
        }

    # Opus (decoded by libopus on the Rust side; make_opus_reference.py
    # writes opusdec's decode of it).
    p = os.path.join(HERE, "tone_opus.opus")
    t = np.arange(int(0.5 * 48000)) / 48000
    sf.write(p, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000, format="OGG", subtype="OPUS")
    fix_ogg_serial(p)

    with open(os.path.join(HERE, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
