#!/usr/bin/env bash
# A no-op `pipeline run` on the full default study's store (all 302 nodes
# cached), against `pipeline status` on the same store, with the binary the
# README installs; runs the default study first when its store is missing.
#
# usage: benches/engine/noop_default.sh [RESULTS_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
results="${1:-$(mktemp -d)}"
mkdir -p "$results"
source "$root/scripts/setup.sh"
install_pipeline
command -v hyperfine >/dev/null || apt-get install -y hyperfine
cd "$root"
pipeline run >/dev/null 2>&1
du -sh .pipeline/store
hyperfine --warmup 1 --runs 10 --export-json "$results/noop_default.json" \
  -n "pipeline run (no-op), default study" "pipeline run" \
  -n "pipeline status, default study" "pipeline status"
python3 - "$results/noop_default.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for name, x in r.items():
    print(f"{name:45s} {x['mean'] * 1000:8.1f} ms ± {x['stddev'] * 1000:.1f}")
run, status = (r[k]["mean"] for k in r)
print(f"no-op run / status = {run / status:.2f}")
PY
