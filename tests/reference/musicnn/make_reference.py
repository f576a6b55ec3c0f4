#!/usr/bin/env python3
"""Reference outputs of the ORIGINAL musicnn MSD_vgg (TensorFlow, musicnn
0.1.0's own graph and checkpoint) for our tch port
(torch_stages/src/musicnn/) and its front end (stages/src/audio/musicnn.rs).
Deterministic: running it again rewrites the same files (TF's CPU
convolutions may move the last float bits; the Rust tests allow 1e-4).

    python3 -m venv /tmp/venv-tf
    /tmp/venv-tf/bin/pip install tensorflow-cpu librosa tf-keras
    /tmp/venv-tf/bin/pip install --no-deps musicnn==0.1.0   # its numpy pin ignored
    /tmp/venv-tf/bin/python tests/reference/musicnn/make_reference.py

Input, written here (16-bit PCM, so Rust and soundfile read the same samples):
  clip.flac      6.5 s stereo at 22,050 Hz: tones, a chirp, noise bursts,
                 a silent gap, then a loud 80 Hz bass whose mel power
                 exceeds 6.55, where musicnn's float16 `10000 * x`
                 overflows: its second patch has inf log-mel bins, as loud
                 real music does (0.2-0.7% of the bins of Wesnoth's tracks)

Outputs (raw little-endian float32, C order; shapes and versions in meta.json):
  logmel.f32     [T, 96]  musicnn's log-mel of clip.flac (extractor.batch_data:
                 librosa.load(sr=16000) mono, melspectrogram(n_fft=512,
                 hop_length=256, n_mels=96), .T, float16, log10(10000 x + 1)
                 in float16: inf where 10000 x overflows)
  pool5.f32      [P, 256] pool5 of each non-overlapping 187-frame patch,
                 flattened as TF flattens it (NHWC: h * 128 + c)
  taggram.f32    [P, 50]  sigmoid of the 50 MSD tags per patch

TF runs the model exactly as musicnn.extractor.extractor does (the same
graph built by musicnn.models.define_model, the same Saver restore,
is_training False), fed the patches of batch_data.

With `--loud FILE`, it instead reports what the original does on a loud
track: the share of log-mel bins that are inf (float16 overflow of
10000 x for mel power above 6.55) and of NaN tag probabilities.
"""

import json
import os
import sys

import numpy as np
import soundfile as sf

# musicnn builds its graph with tf.compat.v1.layers, which Keras 3 lacks:
# TF then needs Keras 2 (the tf-keras package).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
SR_IN = 22050
SECONDS = 6.5


def clip():
    """The synthetic stereo clip, [2, N] float, deterministic."""
    n = int(SR_IN * SECONDS)
    t = np.arange(n) / SR_IN
    rng = np.random.default_rng(19)
    left = 0.02 * np.sin(2 * np.pi * 220 * t) + 0.012 * np.sin(2 * np.pi * 1760 * t + 1)
    k = (6000 / 100) ** (1 / SECONDS)
    left += 0.015 * np.sin(2 * np.pi * 100 * (k**t - 1) / np.log(k))
    right = 0.018 * np.sin(2 * np.pi * 330 * t + 0.5) + 0.01 * np.sin(2 * np.pi * 4400 * t)
    # A drum-like pattern: decaying noise bursts every 0.5 s.
    env = np.zeros(n)
    for start in np.arange(0.25, SECONDS, 0.5):
        i = int(start * SR_IN)
        m = min(n - i, int(0.15 * SR_IN))
        env[i : i + m] = np.exp(-np.arange(m) / (0.03 * SR_IN))
    noise = rng.standard_normal((2, n)) * 0.01
    left += env * noise[0]
    right += env * noise[1] * 0.7
    # Silence from 3.6 to 4.0 s.
    gap = (t >= 3.6) & (t < 4.0)
    left[gap] = 0
    right[gap] = 0
    audio = 4 * np.stack([left, right])
    # Loud bass from 4.0 s (20 ms fade-in): float16 overflow in patch 2.
    loud = np.clip((t - 4.0) / 0.02, 0, 1)
    audio += 0.3 * loud * np.sin(2 * np.pi * 80 * t)
    return audio


def tf_model():
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn import configuration as config
    from musicnn import models

    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, _, _, _, _, pool5 = models.define_model(x, is_training, "MSD_vgg", 50)
        tags = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    sess.run(tf.compat.v1.global_variables_initializer())
    saver = tf.compat.v1.train.Saver()
    import musicnn

    saver.restore(sess, os.path.dirname(musicnn.__file__) + "/MSD_vgg/")

    def run(batch):
        p5, tg = sess.run([pool5, tags], feed_dict={x: batch, is_training: False})
        # pool5 is [P, 2, 1, 128] (NHWC); flatten as tf.layers.flatten does.
        return p5.reshape(len(batch), -1), tg

    return run


def main():
    import librosa
    import tensorflow as tf
    import musicnn
    from musicnn import extractor

    if "--loud" in sys.argv:
        path = sys.argv[sys.argv.index("--loud") + 1]
        batch, rep = extractor.batch_data(path, 187, 187)
        p5, tg = tf_model()(batch.astype(np.float32))
        print(
            f"{path}: {rep.shape[0]} frames, {np.isinf(rep).mean():.4%} of log-mel bins inf, "
            f"{np.isnan(tg).any(axis=1).mean():.1%} of {len(tg)} patches with NaN tags, "
            f"{np.isnan(p5).any(axis=1).mean():.1%} with NaN pool5"
        )
        return

    audio = clip()
    pcm = np.round(audio.T * 32767).astype(np.int16)
    path = os.path.join(HERE, "clip.flac")
    sf.write(path, pcm, SR_IN, subtype="PCM_16")

    # The front end exactly as musicnn runs it.
    batch, rep = extractor.batch_data(path, 187, 187)
    y, _ = librosa.load(path, sr=16000)
    power = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96)
    assert not np.isnan(rep).any()
    rep = rep.astype(np.float32)
    batch = batch.astype(np.float32)
    p5, tg = tf_model()(batch)

    rep.tofile(os.path.join(HERE, "logmel.f32"))
    p5.astype(np.float32).tofile(os.path.join(HERE, "pool5.f32"))
    tg.astype(np.float32).tofile(os.path.join(HERE, "taggram.f32"))
    vector = np.concatenate([p5.mean(axis=0), p5.std(axis=0)])
    meta = {
        "sample_rate": SR_IN,
        "samples": int(audio.shape[1]),
        "logmel": list(rep.shape),
        "pool5": list(p5.shape),
        "taggram": list(tg.shape),
        "max_mel_power": float(power.max()),
        # log-mel bins that are inf (float16 overflow), per patch
        "inf_bins": [int(np.isinf(p).sum()) for p in batch],
        # [mean, std] (population) of pool5 over the patches: the stage's vector.
        "vector_first": [float(v) for v in vector[:4]],
        "top_tags": [
            musicnn.configuration.MSD_LABELS[i] for i in np.argsort(-tg.mean(axis=0))[:5]
        ],
        "versions": {
            "tensorflow": tf.__version__,
            "librosa": librosa.__version__,
            "numpy": np.__version__,
            "musicnn": "0.1.0",
        },
    }
    with open(os.path.join(HERE, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
