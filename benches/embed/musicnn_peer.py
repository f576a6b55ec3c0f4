#!/usr/bin/env python3
"""The peer of `pipeline embed`: musicnn 0.1.0's own extractor (TensorFlow),
MSD_vgg, 3 s non-overlapping patches, features extracted, on every audio
file of the directories given, one after another (what a user of musicnn
runs). Also cuts the benchmark's 30 s excerpts.

    musicnn_peer.py embed DIR..
    musicnn_peer.py excerpts MUSIC_DIR OUT_DIR COUNT SECONDS
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
AUDIO = (".ogg", ".opus", ".wav", ".mp3", ".flac")


def files(dirs):
    return sorted(
        os.path.join(d, f) for d in dirs for f in os.listdir(d) if f.lower().endswith(AUDIO)
    )


def embed(dirs):
    from musicnn.extractor import extractor

    for f in files(dirs):
        _, _, features = extractor(f, model="MSD_vgg", input_length=3, input_overlap=False,
                                   extract_features=True)
        assert features["pool5"].shape[0] > 0, f


def excerpts(music, out, count, seconds):
    import soundfile as sf

    os.makedirs(out, exist_ok=True)
    for src in files([music])[:count]:
        data, rate = sf.read(src, frames=int(seconds * 44100), always_2d=True)
        name = os.path.splitext(os.path.basename(src))[0] + ".ogg"
        sf.write(os.path.join(out, name), data, rate, format="OGG", subtype="VORBIS")


if __name__ == "__main__":
    if sys.argv[1] == "embed":
        embed(sys.argv[2:])
    else:
        excerpts(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
