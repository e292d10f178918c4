#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Regenerates docs/screenshots/ from the studio on the bundled demo model under Xvfb: the model
# panel, the similarity analysis, and a short conversion run on the Training tab. Needs a build
# (scripts/build.sh) and the corpus text (scripts/get-corpus.sh, gqa-cli prepare-corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
studio=build/bin/gqa-studio
out=docs/screenshots
mkdir -p "$out"
run() { timeout 900 xvfb-run -a -s "-screen 0 1280x800x24" "$studio" --demo "$@"; }
# A fresh data folder (run files, run folders): the user's own runs are neither read nor changed,
# and the Training tab never finds an earlier run in its default output folder.
data=$(mktemp -d "${TMPDIR:-/tmp}/gqa-screenshots.XXXXXX")
trap 'rm -rf "$data"' EXIT
export XDG_DATA_HOME=$data
run --tab model --screenshot "$out/model-panel.png"
run --tab similarity --analyse --screenshot "$out/similarity.png"
run --tab training --train-steps 40 --screenshot "$out/training.png"
echo "screenshots written to $out"
