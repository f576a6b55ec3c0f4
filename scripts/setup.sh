#!/usr/bin/env bash
# Installs what the project needs, idempotently, outside the clone so that
# later runs (and CI) reuse it: the S3 test server. Sourced by the other
# scripts; it exports CARGO_TARGET_DIR and PATH.
set -euo pipefail

CACHE="${PIPELINE_CACHE:-$HOME/.cache/mdr}"
mkdir -p "$CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

command -v cargo >/dev/null || {
  echo "setup: cargo is required (https://rustup.rs)" >&2
  exit 1
}

# s3s-fs: a real S3-compatible server, used by the S3 tests.
S3S="$CACHE/s3s/bin/s3s-fs"
if [ "${1:-}" = "--test" ] && [ ! -x "$S3S" ]; then
  echo "setup: installing s3s-fs 0.14.1 (once, a few minutes)" >&2
  cargo install s3s-fs --version 0.14.1 --locked --features binary --root "$CACHE/s3s"
fi
export S3S_FS="$S3S"

# Real music nobody here made (Ogg Vorbis), for the decoding test; the test
# skips with a printed reason where this cannot be installed.
MUSIC=/usr/share/games/wesnoth/1.16/data/core/music
if [ "${1:-}" = "--test" ] && [ ! -d "$MUSIC" ] && command -v apt-get >/dev/null; then
  echo "setup: installing wesnoth-1.16-music (once)" >&2
  { apt-get install -y -q wesnoth-1.16-music || { apt-get update -q && apt-get install -y -q wesnoth-1.16-music; }; } >/dev/null 2>&1 ||
    echo "setup: could not install wesnoth-1.16-music; the real-audio test will skip" >&2
fi
