#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# End-to-end check of the studio: make a tiny model with the CLI, open it in the studio under Xvfb
# with --screenshot, and check that a real PNG of the window came out. Also checks that a folder
# that is not a model makes --screenshot fail (exit non-zero, no PNG) instead of hanging, that
# --tab similarity --analyse runs the head analysis before the screenshot and records a run file,
# and that an unknown --tab is an error.
#
# Usage: GQA_CLI=/path/gqa-cli GQA_STUDIO=/path/gqa-studio studio.sh OUTPUT_DIR
set -u

fail() {
    echo "studio.sh: FAIL: $*" >&2
    exit 1
}

[[ $# -eq 1 ]] || fail "usage: studio.sh OUTPUT_DIR"
out=$1
[[ -n "${GQA_CLI:-}" && -x "$GQA_CLI" ]] || fail "GQA_CLI is not set to an executable"
[[ -n "${GQA_STUDIO:-}" && -x "$GQA_STUDIO" ]] || fail "GQA_STUDIO is not set to an executable"
command -v xvfb-run >/dev/null || fail "xvfb-run is not installed (apt-get install xvfb)"

rm -rf "$out"
mkdir -p "$out" || fail "cannot create $out"
model="$out/tiny-model"
png="$out/studio.png"

"$GQA_CLI" make-test-model "$model" >"$out/make-test-model.log" 2>&1 ||
    fail "'$GQA_CLI make-test-model $model' failed: $(tail -n 5 "$out/make-test-model.log")"
[[ -f "$model/config.json" ]] || fail "make-test-model wrote no config.json in $model"

timeout 60 xvfb-run -a "$GQA_STUDIO" --screenshot "$png" "$model" >"$out/studio.log" 2>&1
rc=$?
[[ $rc -ne 124 ]] || fail "the studio did not quit within 60 s"
[[ $rc -eq 0 ]] || fail "the studio exited with $rc: $(tail -n 5 "$out/studio.log")"
[[ -f "$png" ]] || fail "no screenshot at $png"

size=$(stat -c %s "$png")
((size > 5120)) || fail "screenshot $png is only $size bytes (expected > 5 kB)"
magic=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
[[ $magic == 89504e470d0a1a0a ]] || fail "$png is not a PNG"
# IHDR width and height: big-endian 32-bit at offsets 16 and 20.
width=$((16#$(od -An -tx1 -j16 -N4 "$png" | tr -d ' \n')))
height=$((16#$(od -An -tx1 -j20 -N4 "$png" | tr -d ' \n')))
((width >= 800 && height >= 500)) || fail "screenshot is ${width}x${height}, expected a full window"

# A folder that is not a model: an error on stderr, a non-zero exit, no PNG.
mkdir -p "$out/not-a-model"
timeout 60 xvfb-run -a "$GQA_STUDIO" --screenshot "$out/bad.png" "$out/not-a-model" \
    >"$out/bad.log" 2>&1
rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "opening a non-model folder exited with $rc, expected an error"
[[ ! -e "$out/bad.png" ]] || fail "a screenshot was written although the model failed to load"
grep -q "config.json" "$out/bad.log" || fail "the load error does not name config.json: $(cat "$out/bad.log")"

# The similarity tab after --analyse: a tiny 4-head model with the demo model's tokenizer (same
# vocabulary), calibrated on generated text; the run file goes to the (redirected) app data folder.
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
amodel="$out/tiny-analysed"
"$GQA_CLI" make-test-model "$amodel" --vocab 4096 --heads 4 --kv-heads 4 --head-dim 8 \
    >"$out/make-analysed-model.log" 2>&1 || fail "make-test-model for --analyse failed"
cp "$src/resources/models/demo/tokenizer.model" "$amodel/" || fail "no demo tokenizer to copy"
for i in $(seq 1000); do echo "Line $i: the quick brown fox jumps over the lazy dog by the river."; done \
    >"$out/calibration.txt"
XDG_DATA_HOME="$out/xdg" timeout 120 xvfb-run -a "$GQA_STUDIO" --screenshot "$out/similarity.png" \
    --tab similarity --analyse --calibration-text "$out/calibration.txt" "$amodel" \
    >"$out/similarity.log" 2>&1
rc=$?
[[ $rc -eq 0 ]] || fail "--tab similarity --analyse exited with $rc: $(tail -n 5 "$out/similarity.log")"
[[ -f "$out/similarity.png" ]] || fail "no similarity screenshot"
find "$out/xdg" -name 'tiny-analysed-*.h5' | grep -q . || fail "--analyse wrote no run file under $out/xdg"
timeout 60 xvfb-run -a "$GQA_STUDIO" --screenshot "$out/bad-tab.png" --tab no-such-tab "$model" \
    >"$out/bad-tab.log" 2>&1 && fail "--tab with an unknown name succeeded"
grep -q "no tab 'no-such-tab'" "$out/bad-tab.log" || fail "unknown --tab not reported: $(cat "$out/bad-tab.log")"

echo "studio.sh: OK: ${width}x${height} screenshot, $size bytes, at $png; similarity at $out/similarity.png"
