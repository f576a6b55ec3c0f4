#!/usr/bin/env bash
# Installs what the project needs, idempotently, outside the clone so that
# later runs (and CI) reuse it: the S3 test server. Sourced by the other
# scripts; it exports CARGO_TARGET_DIR and PATH and defines install_pipeline.
set -euo pipefail

CACHE="${PIPELINE_CACHE:-$HOME/.cache/mdr}"
mkdir -p "$CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

command -v cargo >/dev/null || {
  echo "setup: cargo is required (https://rustup.rs)" >&2
  exit 1
}

# The C libraries the audio front end links (stages/src/audio), found by
# pkg-config: libsoxr (the resampler) and libopus (the Opus decoder).
# Needed to build at all, so installed without --test too.
for lib in soxr opus; do
  if ! pkg-config --exists "$lib" 2>/dev/null && command -v apt-get >/dev/null; then
    echo "setup: installing lib$lib-dev (once)" >&2
    { apt-get install -y -q pkg-config "lib$lib-dev" ||
      { apt-get update -q && apt-get install -y -q pkg-config "lib$lib-dev"; }; } >/dev/null 2>&1 ||
      echo "setup: could not install lib$lib-dev; building stages will fail" >&2
  fi
done

# libtorch 2.13.0 for tch, from PyPI's torch==2.13.0 wheel in a fixed venv
# (about 2.6 GB once). torch-sys finds it through this venv's python; our
# build script puts its lib directory on the binaries' rpath.
TORCH_VENV="$CACHE/venv-torch"
if [ ! -f "$TORCH_VENV/.installed-2.13.0" ]; then
  echo "setup: installing torch==2.13.0 into $TORCH_VENV (once, several minutes)" >&2
  command -v python3 >/dev/null || { echo "setup: python3 is required" >&2; exit 1; }
  python3 -m venv "$TORCH_VENV"
  "$TORCH_VENV/bin/pip" install -q torch==2.13.0 numpy safetensors
  touch "$TORCH_VENV/.installed-2.13.0"
fi
export LIBTORCH_USE_PYTORCH=1
# libtorch's OpenMP threads otherwise spin while idle, which on a shared or
# busy machine (several nodes at once) slows every tch stage by up to 10x.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export PATH="$TORCH_VENV/bin:$PATH"
# The pre-trained baseline: musicnn's MSD_vgg (ISC licence, Jordi Pons),
# from PyPI's musicnn 0.1.0 wheel (its sha256 checked), its TensorFlow
# checkpoint converted once to safetensors by scripts/musicnn_weights.py
# (numpy only, no TensorFlow), where the `musicnn` stage looks for it.
MUSICNN_DIR="$CACHE/musicnn"
MUSICNN_WHEEL="$MUSICNN_DIR/musicnn-0.1.0-py3-none-any.whl"
MUSICNN_WHEEL_SHA256=f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa
if [ ! -f "$MUSICNN_DIR/MSD_vgg.safetensors" ]; then
  echo "setup: fetching musicnn 0.1.0's MSD_vgg weights into $MUSICNN_DIR (once, 29 MB)" >&2
  mkdir -p "$MUSICNN_DIR"
  if ! echo "$MUSICNN_WHEEL_SHA256  $MUSICNN_WHEEL" | sha256sum -c --status 2>/dev/null; then
    rm -f "$MUSICNN_WHEEL"
    "$TORCH_VENV/bin/pip" download -q --no-deps --only-binary=:all: musicnn==0.1.0 -d "$MUSICNN_DIR"
  fi
  echo "$MUSICNN_WHEEL_SHA256  $MUSICNN_WHEEL" | sha256sum -c --status || {
    echo "setup: $MUSICNN_WHEEL does not have the sha256 of musicnn 0.1.0's wheel" >&2
    exit 1
  }
  "$TORCH_VENV/bin/python" "$(dirname "${BASH_SOURCE[0]}")/musicnn_weights.py" \
    "$MUSICNN_WHEEL" "$MUSICNN_DIR/MSD_vgg.safetensors"
fi

# `pipeline` and its worker, as `install_pipeline` installs them.
export PATH="$CACHE/bin:$PATH"

# Builds the optimised `pipeline` (and `pipeline-worker`, which runs the
# stages that need libtorch) and installs them into $CACHE/bin; cargo
# rebuilds only what changed.
install_pipeline() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cargo install --quiet --locked --path "$root/pipeline" --root "$CACHE"
  cargo install --quiet --locked --path "$root/torch_stages" --root "$CACHE"
}

# s3s-fs: a real S3-compatible server, used by the S3 tests.
S3S="$CACHE/s3s/bin/s3s-fs"
if [ "${1:-}" = "--test" ] && [ ! -x "$S3S" ]; then
  echo "setup: installing s3s-fs 0.14.1 (once, a few minutes)" >&2
  cargo install s3s-fs --version 0.14.1 --locked --features binary --root "$CACHE/s3s"
fi
export S3S_FS="$S3S"

# A one-host Slurm cluster's binaries, for the cluster tests (which skip
# with a printed reason where they cannot be installed).
if [ "${1:-}" = "--test" ]; then
  bash "$(dirname "${BASH_SOURCE[0]}")/slurm-cluster.sh" install ||
    echo "setup: could not install Slurm; the cluster tests will skip" >&2
fi

# Headless Chromium, for the test that renders the report; the test skips
# with a printed reason where this cannot be installed.
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  echo "setup: installing chromium (once)" >&2
  { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >/dev/null 2>&1 ||
    echo "setup: could not install chromium; the report rendering test will skip" >&2
fi

# Real music nobody here made (Ogg Vorbis), for the decoding test; the test
# skips with a printed reason where this cannot be installed.
MUSIC=/usr/share/games/wesnoth/1.16/data/core/music
if [ "${1:-}" = "--test" ] && [ ! -d "$MUSIC" ] && command -v apt-get >/dev/null; then
  echo "setup: installing wesnoth-1.16-music (once)" >&2
  { apt-get install -y -q wesnoth-1.16-music || { apt-get update -q && apt-get install -y -q wesnoth-1.16-music; }; } >/dev/null 2>&1 ||
    echo "setup: could not install wesnoth-1.16-music; the real-audio test will skip" >&2
fi

# Installs those of the given Debian packages that are missing (once);
# returns non-zero where that fails.
apt_install_missing() {
  local missing
  missing=$(for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  [ -z "$missing" ] && return 0
  command -v apt-get >/dev/null || return 1
  echo "setup: installing $(echo $missing) (once)" >&2
  # shellcheck disable=SC2086
  { apt-get install -y -q $missing || { apt-get update -q && apt-get install -y -q $missing; }; } >/dev/null 2>&1
}

# The game music of the real-music example study (examples/game_music.yaml),
# for its test, which skips with a printed reason where it is absent.
GAME_MUSIC="drascula-music planetblupi-music-ogg singularity-music hyperrogue-music
  fretsonfire-songs-sectoid fretsonfire-songs-muldjord asc-music"
if [ "${1:-}" = "--test" ]; then
  # shellcheck disable=SC2086
  apt_install_missing $GAME_MUSIC ||
    echo "setup: could not install the game music; the game-music study's test will skip" >&2
fi

# Real Opus music (Warzone 2100's), for the Opus reference test; it skips
# where this cannot be installed, except under CI, where it fails.
OPUS_MUSIC=/usr/share/games/warzone2100/music/menu.opus
if [ "${1:-}" = "--test" ] && [ ! -f "$OPUS_MUSIC" ] && command -v apt-get >/dev/null; then
  echo "setup: installing warzone2100-music (once)" >&2
  { apt-get install -y -q warzone2100-music || { apt-get update -q && apt-get install -y -q warzone2100-music; }; } >/dev/null 2>&1 ||
    echo "setup: could not install warzone2100-music; the Opus reference test will fail under CI" >&2
fi
