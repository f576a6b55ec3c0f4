#!/usr/bin/env bash
# The audio front-end benchmark: ours (`cargo bench -p stages --bench audio`)
# and librosa 0.11 + soundfile + soxr (benches/audio/librosa_peer.py) on the
# same files in the same run, part by part, on one core (taskset -c 0) and
# on two (two tracks at once: two threads, two processes).
# Then the mel stage's path over many 30-second tracks on two cores
# (tracks/s) against librosa in two processes.
#
# Usage: benches/audio/compare_librosa.sh
# Environment: SECONDS_OF_AUDIO (default 600), AUDIO_BENCH_ROUNDS (3),
# AUDIO_BENCH_FILES (wav22,wav44,mp3,ogg), TRACKS (200).
# Installs, once, under ~/.cache/mdr: a venv with librosa 0.11, soxr,
# soundfile, pyarrow and blake3, and the test audio (real music: Debian's
# wesnoth-1.16-music, installed with apt-get if missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${PIPELINE_CACHE:-$HOME/.cache/mdr}"
venv="$cache/venv-librosa"
data="$cache/bench-audio"
seconds="${SECONDS_OF_AUDIO:-600}"
music=/usr/share/games/wesnoth/1.16/data/core/music

apt_install() {
  apt-get install -y -q "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
}
[ -d "$music" ] || apt_install wesnoth-1.16-music
pkg-config --exists soxr || apt_install libsoxr-dev
stamp="$venv/.installed-librosa-0.11"
if [ ! -f "$stamp" ]; then
  echo "compare_librosa: installing librosa 0.11 into $venv (once)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'librosa==0.11.*' soxr soundfile numpy pyarrow blake3
  touch "$stamp"
fi
if ! grep -q "\"seconds\": $seconds[,.]" "$data/prepared.json" 2>/dev/null ||
  [ ! -d "$data/tracks" ]; then
  echo "compare_librosa: writing $seconds s of test audio to $data (once)" >&2
  "$venv/bin/python" "$root/benches/audio/librosa_peer.py" prepare "$data" \
    --music "$music" --seconds "$seconds"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
cd "$root"
cargo bench -q -p stages --bench audio --no-run
export AUDIO_BENCH_DIR="$data" AUDIO_PEER_PYTHON="$venv/bin/python"
for cores in 0 0,1; do
  workers=$(($(echo "$cores" | tr ',' '\n' | wc -l)))
  echo
  echo "== cores $cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
  AUDIO_BENCH_WORKERS=$workers RAYON_NUM_THREADS=$workers \
    taskset -c "$cores" cargo bench -q -p stages --bench audio
done
echo
echo "== ${TRACKS:-200} tracks of 30 s on cores 0,1; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
AUDIO_BENCH_TRACKS=${TRACKS:-200} AUDIO_BENCH_WORKERS=2 RAYON_NUM_THREADS=2 \
  taskset -c 0,1 cargo bench -q -p stages --bench audio
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
