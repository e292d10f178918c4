#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the `asan` preset (build-asan/: -O0, AddressSanitizer and UndefinedBehaviorSanitizer) and
# runs the test suite under it; any sanitizer report fails the test that caused it. Too slow for
# CI (a second full build); its last result is recorded in docs/hardening.md.
#   bash scripts/sanitize.sh              # every test
#   bash scripts/sanitize.sh -L unit      # ctest arguments pass through
# The SentencePiece plug-in is not instrumented (core/CMakeLists.txt says why); everything else
# of ours is. LibTorch, Qt and the other system libraries are not instrumented either.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$(nproc)"
# The corpus-trained tests (demo conversion, wizard, demo pipeline) need the novels as text, as in
# scripts/test.sh; the sanitized CLI extracts them, so the Rdata reader runs under ASan as well.
# It runs with the sanitizer options of the asan test preset, read from CMakePresets.json where
# they are declared once.
if [ -f data/corpus/janeaustenr/Rdata.rdb ]; then
  (
    eval "$(python3 - <<'PY'
import json, os, shlex
presets = json.load(open("CMakePresets.json"))["testPresets"]
env = next(p for p in presets if p["name"] == "asan")["environment"]
for name, value in env.items():
    print(f"export {name}={shlex.quote(value.replace('${sourceDir}', os.getcwd()))}")
PY
)"
    build-asan/bin/gqa-cli prepare-corpus >/dev/null
  )
else
  echo "[sanitize] corpus absent (scripts/get-corpus.sh data/corpus): its tests will be skipped"
fi
# The test preset sets the sanitizers' options (CMakePresets.json): halt and abort on the first
# report, so a report is a failure, not a line in a log nobody reads; leaks inside system
# libraries only are suppressed by tests/sanitizer/lsan.supp, which says what showed each.
ctest --preset asan "$@"
