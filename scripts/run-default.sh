#!/usr/bin/env bash
# The main job: `pipeline run` on the bundled default pipeline.yaml, then the
# report written to .pipeline/report/ (open report.html).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
install_pipeline
pipeline run "$@"
pipeline export report .pipeline/report >/dev/null
echo "report: $(pwd)/.pipeline/report/report.html"
