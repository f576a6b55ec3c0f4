#!/usr/bin/env python3
"""The librosa side of the audio front-end benchmark (stages/benches/audio.rs).

    librosa_peer.py prepare DIR --music MUSIC_DIR --seconds 600
        Writes the test audio: real music (Ogg Vorbis tracks of MUSIC_DIR,
        concatenated in name order up to SECONDS of stereo) as
        wav22.wav (16-bit PCM, 22,050 Hz, resampled with soxr 'vhq'),
        wav44.wav (16-bit PCM, 44,100 Hz), mp3.mp3 (44,100 Hz, libsndfile's
        LAME) and ogg.ogg (Vorbis, 44,100 Hz), plus prepared.json.
    librosa_peer.py run FILE --rounds 3 --workers 1
        Runs the front end on FILE in WORKERS processes at once, part by
        part with a barrier between parts, ROUNDS times after one warm-up,
        and prints one JSON line: the median wall seconds of each part.
    librosa_peer.py tracks DIR --count 200 --workers 2
        Runs the whole front end on COUNT files of DIR (cycled, in name
        order) with a pool of WORKERS processes, and prints the wall
        seconds as one JSON line.

`prepare` also writes tracks/: the first 20 30-second pieces of the same
music as 44,100 Hz MP3 files, the shape of the study's previews.

The parts are what the Rust mel stage does, written as a librosa user
would: decode (soundfile.read, float32), resample (librosa.resample with
soxr_hq, librosa.load's default), mel (melspectrogram n_fft 1024, hop 256,
128 bands, power_to_db top_db 80 over both channels), mfcc (the 120-d
baseline of tests/reference/audio/make_reference.py) and store (the mel
table as Parquet, zstd level 3, then its blake3).
"""

import argparse
import io
import json
import multiprocessing as mp
import os
import statistics
import time

SR = 22050
PARTS = ["decode", "resample", "mel", "mfcc", "store"]


def prepare(args):
    import numpy as np
    import soundfile as sf
    import soxr

    os.makedirs(args.dir, exist_ok=True)
    want = int(args.seconds * 44100)
    pieces, have = [], 0
    for name in sorted(os.listdir(args.music)):
        if not name.endswith(".ogg") or have >= want:
            continue
        y, sr = sf.read(os.path.join(args.music, name), dtype="float32", always_2d=True)
        if sr != 44100 or y.shape[1] != 2:
            continue
        pieces.append(y[: want - have])
        have += len(pieces[-1])
    if have < want:
        raise SystemExit(f"only {have / 44100:.0f} s of 44.1 kHz stereo music in {args.music}")
    y44 = np.concatenate(pieces)
    out = lambda name: os.path.join(args.dir, name)
    sf.write(out("wav44.wav"), y44, 44100, subtype="PCM_16")
    y22 = soxr.resample(y44, 44100, SR, quality="VHQ")
    sf.write(out("wav22.wav"), np.clip(y22, -1, 1), SR, subtype="PCM_16")
    sf.write(out("mp3.mp3"), y44, 44100, format="MP3", subtype="MPEG_LAYER_III")
    # libsndfile's Vorbis encoder crashes on one very large write: blocks.
    with sf.SoundFile(out("ogg.ogg"), "w", 44100, 2, format="OGG", subtype="VORBIS") as f:
        for start in range(0, len(y44), 1 << 16):
            f.write(y44[start : start + (1 << 16)])
    os.makedirs(out("tracks"), exist_ok=True)
    piece = 30 * 44100
    for i in range(min(20, len(y44) // piece)):
        sf.write(out(f"tracks/{i:02}.mp3"), y44[i * piece : (i + 1) * piece], 44100, format="MP3", subtype="MPEG_LAYER_III")
    meta = {"seconds": args.seconds, "music": args.music, "soundfile": sf.__version__}
    with open(out("prepared.json"), "w") as f:
        json.dump(meta, f)


def front_end(path, timed=lambda part, f: f()):
    """One pass over the file, each part run through `timed`."""
    import blake3
    import librosa
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import soundfile as sf

    def decode():
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        return np.ascontiguousarray(y.T), sr

    y, sr = timed("decode", decode)
    y = timed("resample", lambda: librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq"))

    def mel():
        power = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=256, n_mels=128)
        return power, librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0)

    power, db = timed("mel", mel)

    def mfcc():
        m = librosa.feature.mfcc(S=librosa.power_to_db(power.mean(axis=0), top_db=80.0), n_mfcc=20)
        d1 = librosa.feature.delta(m, width=9, order=1)
        d2 = librosa.feature.delta(m, width=9, order=2)
        f = np.concatenate([m, d1, d2])
        return np.concatenate([f.mean(axis=1), f.std(axis=1)]).astype(np.float32)

    timed("mfcc", mfcc)

    def store():
        channels, bands, frames = db.shape
        values = np.ascontiguousarray(db.transpose(0, 2, 1)).reshape(-1)
        table = pa.table(
            {
                "channel": pa.array(np.repeat(np.arange(channels, dtype=np.uint8), frames)),
                "frame": pa.array(np.tile(np.arange(frames, dtype=np.uint32), channels)),
                "mel": pa.FixedSizeListArray.from_arrays(pa.array(values), bands),
            }
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd", compression_level=3)
        return blake3.blake3(buffer.getvalue()).hexdigest()

    timed("store", store)


def barrier_timed(barrier, times):
    """`timed` for front_end: `times[part]` gets this part's wall time (the
    barrier makes it the slowest worker's)."""

    def timed(part, f):
        barrier.wait()
        start = time.perf_counter()
        out = f()
        barrier.wait()
        times[part] = time.perf_counter() - start
        return out

    return timed


def worker(path, rounds, barrier, queue):
    for _ in range(rounds + 1):
        times = {}
        front_end(path, barrier_timed(barrier, times))
        queue.put(times)


def run(args):
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(args.workers), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(args.file, args.rounds, barrier, queue)) for _ in range(args.workers)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in range((args.rounds + 1) * args.workers)]
    for p in procs:
        p.join()
    # Results arrive round by round; a round's time is its slowest worker's.
    w = args.workers
    rounds = [{part: max(r[part] for r in results[i : i + w]) for part in PARTS} for i in range(w, len(results), w)]
    import librosa
    import soxr

    out = {part: statistics.median(r[part] for r in rounds) for part in PARTS}
    out["versions"] = {"librosa": librosa.__version__, "soxr": soxr.__version__}
    print(json.dumps(out))


def tracks(args):
    files = sorted(os.path.join(args.dir, f) for f in os.listdir(args.dir))
    paths = [files[i % len(files)] for i in range(args.count)]
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        pool.map(front_end, paths[: args.workers])  # warm-up: imports
        start = time.perf_counter()
        pool.map(front_end, paths, chunksize=1)
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "tracks": args.count}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dir")
    p.add_argument("--music", required=True)
    p.add_argument("--seconds", type=float, default=600.0)
    r = sub.add_parser("run")
    r.add_argument("file")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--workers", type=int, default=1)
    t = sub.add_parser("tracks")
    t.add_argument("dir")
    t.add_argument("--count", type=int, default=200)
    t.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    {"prepare": prepare, "run": run, "tracks": tracks}[args.command](args)


if __name__ == "__main__":
    main()
