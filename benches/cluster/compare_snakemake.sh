#!/usr/bin/env bash
# 201 trivial nodes (the engine benchmark's shape: 20 chains of 10 steps and
# a gather) on a one-host Slurm 22.05 cluster (scripts/slurm-cluster.sh),
# one job per node, side by side in one run:
#   - `pipeline run --executor slurm` over s3s-fs (the shared S3 store);
#   - Snakemake 9 with snakemake-executor-plugin-slurm on the same cluster,
#     with its first status check after 1 s (our poll interval), and with
#     its defaults (40 s).
# Both keep at most JOBS jobs in the cluster, 1 CPU and 2 GB each. Reports
# the wall time and, per node, the time from submission to the end of its
# job as Slurm's job completion log records it (1 s resolution).
#
# Snakemake's job step (snakemake-executor-plugin-slurm-jobstep) drops
# every SLURM_* variable before its inner `srun`, SLURM_CONF included, and
# this cluster is found through SLURM_CONF (it writes nothing to /etc): a
# two-line `srun` on PATH puts SLURM_CONF back.
#
# usage: benches/cluster/compare_snakemake.sh [RESULTS_DIR] [JOBS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CACHE="${PIPELINE_CACHE:-$HOME/.cache/mdr}"
results="${1:-$(mktemp -d)}"
jobs="${2:-20}"
mkdir -p "$results"

source "$root/scripts/setup.sh" --test
set +u
install_pipeline
PIPELINE="$CACHE/bin/pipeline"
SMK_VENV="$CACHE/venv-snakemake"
[ -x "$SMK_VENV/bin/snakemake" ] || {
  python3 -m venv "$SMK_VENV"
  "$SMK_VENV/bin/pip" install -q 'snakemake==9.*' 'snakemake-executor-plugin-slurm==2.*'
}

work="$(mktemp -d)"
cleanup() {
  bash "$root/scripts/slurm-cluster.sh" stop "$work/slurm" || true
  [ -z "${s3_pid:-}" ] || kill "$s3_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bash "$root/scripts/slurm-cluster.sh" start "$work/slurm"
source "$work/slurm/env.sh"
mkdir -p "$work/bin" "$work/s3/artifacts"
printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$work/bin/srun"
chmod +x "$work/bin/srun"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$S3S_FS" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret "$work/s3" >/dev/null 2>&1 &
s3_pid=$!
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do sleep 0.1; done

jobcomp="$work/slurm/log/jobcomp.txt"
lines() { [ -f "$jobcomp" ] && wc -l <"$jobcomp" || echo 0; }
# `NAME SECONDS FIRST_JOBCOMP_LINE` per run, for the summary.
: >"$results/runs.txt"
timed() {
  local name="$1" dir="$2" first start end
  shift 2
  first=$(($(lines) + 1))
  start=$(date +%s.%N)
  (cd "$dir" && "$@") >"$results/$name.out" 2>"$results/$name.err" ||
    { echo "$name failed:"; tail -n 20 "$results/$name.err"; exit 1; }
  end=$(date +%s.%N)
  echo "$name $(echo "$end - $start" | bc) $first" >>"$results/runs.txt"
}

shape() {
  python3 "$root/benches/engine/make_shape.py" "$work/$1" 20 10 --no-dvc --snakemake
  sed -i "s/^jobs: .*/jobs: $jobs/" "$work/$1/pipeline.yaml"
}
shape ours
timed "pipeline" "$work/ours" "$PIPELINE" --store s3://artifacts/bench run --executor slurm --json
timed "pipeline_second_run" "$work/ours" "$PIPELINE" --store s3://artifacts/bench run --executor slurm --json

snakemake_run() {
  PATH="$work/bin:$SMK_VENV/bin:$PATH" snakemake --executor slurm --jobs "$jobs" \
    --slurm-status-command squeue --slurm-no-account \
    --default-resources mem_mb=2000 cpus_per_task=1 runtime=60 -q "$@"
}
shape smk_tuned
timed "snakemake_status_1s" "$work/smk_tuned" snakemake_run --slurm-init-seconds-before-status-checks 1
shape smk_default
timed "snakemake_defaults" "$work/smk_default" snakemake_run

cp "$jobcomp" "$results/jobcomp.txt"
cp "$results"/pipeline.out "$results/pipeline_report.json"
python3 - "$results" <<'PY'
import json, sys
from datetime import datetime
from pathlib import Path
r = Path(sys.argv[1])
comp = []
for line in (r / "jobcomp.txt").read_text().splitlines():
    f = dict(x.split("=", 1) for x in line.split() if "=" in x)
    t = lambda k: datetime.fromisoformat(f[k]).timestamp()
    comp.append((f["JobState"], t("EndTime") - t("SubmitTime")))
runs = [l.split() for l in (r / "runs.txt").read_text().splitlines()]
bounds = [int(x[2]) for x in runs] + [len(comp) + 1]
wall = {}
for (name, secs, first), end in zip(runs, bounds[1:]):
    jobs = comp[int(first) - 1 : end - 1]
    ok = [d for s, d in jobs if s == "COMPLETED"]
    mean = sum(ok) / len(ok) if ok else float("nan")
    wall[name] = float(secs)
    print(f"{name:22s} wall {float(secs):7.1f} s  {len(jobs):4d} jobs ({len(ok)} completed), "
          f"submission to job end {mean:5.2f} s per node")
report = json.load(open(r / "pipeline_report.json"))
ran = [n["seconds"] for n in report["nodes"] if n["outcome"] == "ran"]
print(f"pipeline: submission to committed manifest seen {sum(ran) / len(ran):.2f} s per node ({len(ran)} nodes)")
for peer in ("snakemake_status_1s", "snakemake_defaults"):
    print(f"wall {peer} / pipeline = {wall[peer] / wall['pipeline']:.1f}x")
PY
