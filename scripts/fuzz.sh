#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Fuzzes the file parsers with libFuzzer (tests/fuzz): configures and builds build-fuzz/ with clang
# when needed, then runs each target for SECONDS (default 600) on a copy of its seed corpus in
# build-fuzz/corpus/<target>/ (the committed tests/fuzz/corpus/ stays as it is). Crash, leak and
# timeout inputs go to build-fuzz/artifacts/<target>/. Prints one summary line per target and
# exits 1 when any target found something.
#   bash scripts/fuzz.sh                        # every target, 600 s each
#   bash scripts/fuzz.sh 60 safetensors modelconfig
# Environment: FUZZ_JOBS (parallel builds, default 1), FUZZ_NICE (niceness, default 19).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-600}
shift || true
BUILD=build-fuzz
NICE=(nice -n "${FUZZ_NICE:-19}")

if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
  echo "[fuzz] configuring $BUILD/ with clang"
  generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  CC=clang CXX=clang++ "${NICE[@]}" cmake -S tests/fuzz -B "$BUILD" "${generator[@]}" >/dev/null
fi
echo "[fuzz] building"
"${NICE[@]}" cmake --build "$BUILD" -j "${FUZZ_JOBS:-1}" >/dev/null

read -r -a BUILT < "$BUILD/fuzz-targets.txt"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=("${BUILT[@]}"); fi

# Readers that take paths write their input under $GQA_FUZZ_TMPDIR (tests/fuzz/fuzzsupport.h).
GQA_FUZZ_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/gqa-fuzz.XXXXXX")
if [ -w /dev/shm ]; then
  rmdir "$GQA_FUZZ_TMPDIR"
  GQA_FUZZ_TMPDIR=$(mktemp -d /dev/shm/gqa-fuzz.XXXXXX)
fi
export GQA_FUZZ_TMPDIR
trap 'rm -rf "$GQA_FUZZ_TMPDIR"' EXIT

failed=0
for target in "${TARGETS[@]}"; do
  binary="$BUILD/fuzz_$target"
  if [ ! -x "$binary" ]; then
    echo "[fuzz] $target: no such target (built: ${BUILT[*]})" >&2
    failed=1
    continue
  fi
  corpus="$BUILD/corpus/$target"
  artifacts="$BUILD/artifacts/$target"
  log="$BUILD/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n tests/fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  dict=()
  if [ -f "tests/fuzz/$target.dict" ]; then dict=(-dict="tests/fuzz/$target.dict"); fi
  before=$(find "$artifacts" -type f | wc -l)
  start=$(date +%s)
  rc=0
  "${NICE[@]}" "$binary" "$corpus" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  elapsed=$(( $(date +%s) - start ))
  found=$(( $(find "$artifacts" -type f | wc -l) - before ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  status=ok
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then status="FOUND (exit $rc, log $log)"; failed=1; fi
  printf '[fuzz] %-17s runs %-10s seconds %-5s coverage %-6s crashes %-3s %s\n' \
    "$target" "${runs:-?}" "$elapsed" "${cov:-?}" "$found" "$status"
done
exit "$failed"
