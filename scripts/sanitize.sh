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
# halt_on_error/abort_on_error: a report is a failure, not a line in a log nobody reads.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --preset asan "$@"
