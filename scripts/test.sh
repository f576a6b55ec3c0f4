#!/usr/bin/env bash
# The whole test suite (unit, end-to-end, S3), installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --test
# The engine tests run `pipeline`, which runs libtorch's stages in the
# worker beside it: build every binary first (cargo test builds only
# `pipeline`), with the features the tests use.
cargo build --workspace --bins --tests
cargo test --workspace "$@"
