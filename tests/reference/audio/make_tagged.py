"""Writes tagged.ogg and tagged.flac: a 0.2 s tone whose artist, album and
genre tags libsndfile writes (Vorbis comments), for the tag reader's test
(stages/src/audio/tags.rs). Run once with the librosa venv's python:

    ~/.cache/mdr/venv-librosa/bin/python tests/reference/audio/make_tagged.py
"""
import pathlib

import numpy as np
import soundfile as sf

HERE = pathlib.Path(__file__).parent
RATE = 22050
tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(0.2 * RATE)) / RATE)
for name, fmt, subtype in [("tagged.ogg", "OGG", "VORBIS"), ("tagged.flac", "FLAC", "PCM_16")]:
    with sf.SoundFile(HERE / name, "w", RATE, 1, format=fmt, subtype=subtype) as f:
        f.artist = "Maxstack"
        f.album = "Endgame: Singularity Original Soundtrack"
        f.genre = "Electronic"
        f.write(tone)
