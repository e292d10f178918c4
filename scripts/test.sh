#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One command from a fresh Debian 12 machine to a full test run: installs the dependencies,
# fetches the public-domain corpus, builds, and runs every test (unit, widget, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/get-corpus.sh data/corpus || echo "[test] corpus not fetched: tests that need it will be skipped"
bash scripts/build.sh
if [ -f data/corpus/janeaustenr/Rdata.rdb ]; then build/bin/gqa-cli prepare-corpus >/dev/null; fi
echo "[test] running the test suite"
ctest --preset default "$@"
