#!/usr/bin/env bash
# `pipeline embed` against musicnn's own extractor (PyPI musicnn 0.1.0 on
# TensorFlow, MSD_vgg), on the same real music on one core (taskset -c 0,
# one thread each), in one run: 30 s excerpts and full-length tracks of
# Debian's wesnoth music. Ours embeds with the same network (`--model
# musicnn`, our tch port) and with an SS-R network of the study (`train_rand`:
# a trained one costs the same), each time into a copy of a store that holds
# the models but no embedded file, so every file is computed.
#
# Usage: benches/embed/compare_musicnn.sh RESULTS_DIR
# Environment: TRACKS (default 6), RUNS (hyperfine runs, default 2).
# Uses the binaries the README installs (`install_pipeline`), hyperfine from
# Debian, and a venv with TensorFlow and musicnn under ~/.cache/mdr (once).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
results="$(mkdir -p "$1" && cd "$1" && pwd)"
cache="${PIPELINE_CACHE:-$HOME/.cache/mdr}"
tracks="${TRACKS:-6}"
runs="${RUNS:-2}"
music=/usr/share/games/wesnoth/1.16/data/core/music
venv="$cache/venv-tf"

source "$root/scripts/setup.sh" --test >/dev/null
set +u
install_pipeline
set -u
command -v hyperfine >/dev/null || apt-get install -y -q hyperfine >/dev/null
if [ ! -f "$venv/.installed-musicnn-0.1.0" ]; then
  echo "compare_musicnn: installing TensorFlow and musicnn 0.1.0 into $venv (once)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q tensorflow-cpu tf-keras librosa soundfile
  # musicnn pins an old numpy that TF 2 cannot use: its code runs on today's.
  "$venv/bin/pip" install -q --no-deps musicnn==0.1.0
  touch "$venv/.installed-musicnn-0.1.0"
fi

work="$results/work"
rm -rf "$work" && mkdir -p "$work/full"
find "$music" -maxdepth 1 -name '*.ogg' | sort | head -n "$tracks" |
  while read -r f; do ln -s "$f" "$work/full/"; done
"$venv/bin/python" "$root/benches/embed/musicnn_peer.py" excerpts "$music" "$work/excerpts" "$tracks" 30
cat >"$work/pipeline.yaml" <<YAML
store: store
allow_paths: [$music]
nodes:
  - {name: tracks, stage: synth_audio, params: {preset: tiny, seed: 1}}
  - {name: audio, stage: fetch, inputs: {tracks: tracks, files: tracks}}
  - {name: labels_tag, stage: synth_table, params: {preset: tiny, seed: 1, table: tag}}
  - {name: labels_artist, stage: synth_table, params: {preset: tiny, seed: 1, table: artist}}
  - {name: mel, stage: mel, inputs: {audio: audio}}
  - {name: scaler, stage: scaler, inputs: {mel: mel, tracks: labels_artist}}
  - {name: z_tag, stage: factorize, params: {source: tag, iterations: 30}, inputs: {labels: labels_tag}}
  - {name: train_rand, stage: train, params: {strategy: SS-R, sources: [tag], epochs: 0},
     inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}}
  - {name: musicnn, stage: musicnn, inputs: {audio: audio}}
YAML
cd "$work"
pipeline run --only train_rand musicnn >/dev/null
cp -a store base
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
{
  echo "machine: $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  for set in excerpts full; do
    seconds=$("$venv/bin/python" -c "import soundfile as sf, glob; print(round(sum(sf.info(f).duration for f in glob.glob('$work/$set/*'))))")
    echo "== $set: $tracks files, $seconds s of audio"
  done
} | tee "$results/machine.txt"
for set in excerpts full; do
  hyperfine --runs "$runs" --export-json "$results/$set.json" \
    --prepare "rm -rf store && cp -a base store" \
    -n "ours musicnn" "taskset -c 0 pipeline embed --jobs 1 --model musicnn --out o.parquet $set" \
    -n "ours train_rand" "taskset -c 0 pipeline embed --jobs 1 --model train_rand --out o.parquet $set" \
    -n "musicnn 0.1.0" "taskset -c 0 $venv/bin/python $root/benches/embed/musicnn_peer.py embed $set"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/machine.txt"
