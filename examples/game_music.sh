#!/usr/bin/env bash
# The real-music example study (examples/game_music.yaml) in one command:
# installs the Debian music packages it reads (once), lays them out under
# .pipeline/game_music/, runs the study and writes its report to
# .pipeline/game_music_report/ (open report.html). Extra arguments go to
# `pipeline run` (e.g. --jobs 4).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# shellcheck disable=SC2086
apt_install_missing $GAME_MUSIC wesnoth-1.16-music warzone2100-music ||
  { echo "game_music: could not install the music packages (apt-get)" >&2; exit 1; }
examples/game_music/links.sh .pipeline/game_music
install_pipeline
pipeline --file examples/game_music.yaml run "$@"
pipeline --file examples/game_music.yaml export report .pipeline/game_music_report >/dev/null
echo "report: $(pwd)/.pipeline/game_music_report/report.html"
