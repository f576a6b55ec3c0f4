#!/usr/bin/env bash
# Training throughput, tch vs PyTorch, side by side on this machine: the same
# network (SS-R), batch 128, crops from in-memory mels, Adam step.
# Usage: benches/model/compare_pytorch.sh [steps] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup.sh
steps="${1:-5}"
rounds="${2:-3}"
# The dev profile (dependencies at opt-level 2): the compute is libtorch's,
# and a release build of the workspace costs a long cold build.
cargo bench --profile dev -p torch_stages --bench train_step --no-run 2>/dev/null
bench=$(ls -t "$CARGO_TARGET_DIR"/debug/deps/train_step-* | grep -v '\.d$' | head -1)
echo "machine: $(nproc) cores, $(uname -m); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  echo "round $round"
  "$bench" "$steps"
  python benches/model/train_step_peer.py "$steps" 2>&1 | grep -v -i warn
done
