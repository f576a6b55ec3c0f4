#!/usr/bin/env bash
# The whole test suite (unit, end-to-end, S3), installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --test
cargo test --workspace "$@"
