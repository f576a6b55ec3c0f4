#!/usr/bin/env bash
# No-op `pipeline run` / `pipeline status` against `dvc repro` / `dvc status`
# on the same 201-stage shape (20 chains of 10 trivial stages + a gather),
# measured side by side with hyperfine; then `pipeline status` on a
# 10,000-node plan (fresh and cached) and on a 100,000-node plan. Installs
# DVC 3.67 into $PIPELINE_CACHE/venv-dvc and hyperfine from Debian if
# missing.
#
# usage: benches/engine/compare_dvc.sh [RESULTS_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
CACHE="${PIPELINE_CACHE:-$HOME/.cache/mdr}"
results="${1:-$(mktemp -d)}"
mkdir -p "$results"

command -v hyperfine >/dev/null || apt-get install -y hyperfine
[ -x "$CACHE/venv-dvc/bin/dvc" ] || {
  python3 -m venv "$CACHE/venv-dvc"
  "$CACHE/venv-dvc/bin/pip" install -q 'dvc==3.67.*'
}
DVC="$CACHE/venv-dvc/bin/dvc"
# The binary the README installs.
source "$root/scripts/setup.sh"
install_pipeline
PIPELINE="$CACHE/bin/pipeline"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$here/make_shape.py" "$work/shape" 20 10
cd "$work/shape"
git init -q && git config user.email bench@localhost && git config user.name bench
"$DVC" init -q && "$DVC" config core.analytics false
git add -A >/dev/null && git commit -qm shape
"$DVC" repro -q >/dev/null
"$PIPELINE" run >/dev/null 2>&1

hyperfine --warmup 1 --runs 5 --export-json "$results/dvc_shape.json" \
  -n "pipeline run (no-op)" "$PIPELINE run" \
  -n "dvc repro (no-op)" "$DVC repro -q" \
  -n "pipeline status" "$PIPELINE status" \
  -n "dvc status" "$DVC status -q"

python3 "$here/make_shape.py" "$work/big" 1000 10 --no-dvc
cd "$work/big"
hyperfine --runs 5 --export-json "$results/status_10k_fresh.json" \
  -n "pipeline status, 10,001 nodes, nothing run yet" "$PIPELINE status"
"$PIPELINE" run >/dev/null 2>&1
hyperfine --warmup 1 --runs 5 --export-json "$results/status_10k_cached.json" \
  -n "pipeline status, 10,001 nodes, all cached" "$PIPELINE status" \
  -n "pipeline run (no-op), 10,001 nodes" "$PIPELINE run"

# Status at the paper's scale and beyond: 100,001 nodes, nothing run yet.
python3 "$here/make_shape.py" "$work/huge" 10000 10 --no-dvc
cd "$work/huge"
hyperfine --runs 3 --export-json "$results/status_100k_fresh.json" \
  -n "pipeline status, 100,001 nodes, nothing run yet" "$PIPELINE status"

python3 - "$results" <<'PY'
import json, sys
from pathlib import Path
r = Path(sys.argv[1])
mean = {x["command"]: x["mean"] for f in sorted(r.glob("*.json")) for x in json.load(open(f))["results"]}
for name, t in mean.items():
    print(f"{name:55s} {t * 1000:9.1f} ms")
print(f"no-op run: dvc repro / pipeline run = {mean['dvc repro (no-op)'] / mean['pipeline run (no-op)']:.0f}x")
print(f"status:    dvc status / pipeline status = {mean['dvc status'] / mean['pipeline status']:.0f}x")
PY
