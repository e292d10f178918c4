#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One command from a fresh Debian 12 machine to the running studio: installs the dependencies,
# builds, and opens the bundled demo model. Extra arguments go to the studio.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/get-corpus.sh data/corpus || echo "[studio] corpus not fetched: no calibration or held-out text"
bash scripts/build.sh
if [ -f data/corpus/janeaustenr/Rdata.rdb ]; then
  # Calibration (training novels) and held-out (Persuasion) text for the demo, in data/corpus/text.
  build/bin/gqa-cli prepare-corpus >/dev/null && echo "[studio] corpus text ready in data/corpus/text"
fi
model=resources/models/demo
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "[studio] no display found (DISPLAY is unset): starting under xvfb-run, nothing will be visible."
  echo "[studio] on a desktop, run: build/bin/gqa-studio $model"
  exec xvfb-run -a build/bin/gqa-studio "$model" "$@"
fi
exec build/bin/gqa-studio "$model" "$@"
