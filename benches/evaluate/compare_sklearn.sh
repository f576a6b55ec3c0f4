#!/usr/bin/env bash
# The 5-split MLP evaluation (1,000 tracks x 512 dims, 10 classes), our
# probe (tch) against scikit-learn's MLPClassifier on the same data, side by
# side on this machine, alternating so that a busy moment hurts both.
# Three thread settings per round:
#   one core  - both sides on one thread (like for like);
#   all cores - ours: repeats in parallel on rayon (a core left idle takes
#               halves of the last repeats' steps), libtorch on one thread
#               each; scikit-learn: its default (BLAS threads);
#   defaults  - no environment set on either side.
# Usage: benches/evaluate/compare_sklearn.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup.sh
rounds="${1:-3}"
python_peer="${SKLEARN_PYTHON:-$HOME/.cache/mdr/venv-labels/bin/python}"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
cargo build --release -p torch_stages --bench evaluate 2>/dev/null
bench=$(ls -t "$CARGO_TARGET_DIR"/release/deps/evaluate-* | grep -v '\.d$' | head -1)
echo "machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
for round in $(seq "$rounds"); do
  echo "round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "  one core:"
  RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 "$bench" "$data" 1
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$python_peer" benches/evaluate/sklearn_peer.py "$data" 1
  echo "  all cores:"
  OMP_NUM_THREADS=1 "$bench" "$data" 1
  "$python_peer" benches/evaluate/sklearn_peer.py "$data" 1
  echo "  defaults:"
  "$bench" "$data" 1
  "$python_peer" benches/evaluate/sklearn_peer.py "$data" 1
done
