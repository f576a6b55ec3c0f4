#!/usr/bin/env bash
# The analysis benchmark: lme4 and ours on the same table in one run (the
# committed reference study, tests/reference/analysis). Times lme4's
# Model 1 REML fit and a 200-resample bootMer parametric bootstrap (on one
# core and on all), then runs `cargo bench -p stages --bench analysis`,
# which times ours the same way and prints both, their agreement and the
# speed ratios.
#
# Usage: benches/analysis/compare_lme4.sh [RESULTS_DIR]
# Environment: RESAMPLES (default 200).
# Needs R with lme4 and jsonlite (Debian: r-cran-lme4 r-cran-jsonlite,
# installed here if missing and apt-get is available).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
resamples="${RESAMPLES:-200}"

if ! Rscript -e 'library(lme4); library(jsonlite)' >/dev/null 2>&1; then
  echo "compare_lme4: installing r-cran-lme4 and r-cran-jsonlite" >&2
  { apt-get install -y -q r-cran-lme4 r-cran-jsonlite ||
    { apt-get update -q && apt-get install -y -q r-cran-lme4 r-cran-jsonlite; }; } >/dev/null
fi
# shellcheck source=/dev/null
source "$root/scripts/setup.sh"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
Rscript "$root/benches/analysis/lme4_timing.R" "$root/tests/reference/analysis" \
  "$out/lme4.json" "$resamples" 2>"$out/lme4.stderr"
cd "$root"
ANALYSIS_LME4_JSON="$out/lme4.json" RESAMPLES="$resamples" \
  cargo bench -q -p stages --bench analysis
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); lme4's numbers: $out/lme4.json"
