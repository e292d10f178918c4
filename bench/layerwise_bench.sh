#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The least-squares merge fitted on the calibration statistics against the layer-wise fit on the
# merged model's own inputs (docs/method.md §7.4), on the bundled demo model: held-out perplexity
# and the wall time of each `align` (docs/benchmarks.md, "The layer-wise fit").
# Usage: bench/layerwise_bench.sh [WORKDIR] [SEQUENCES] [G...]   (defaults: /tmp/gqa-layerwise-bench 32 4 2 1)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=build/bin/gqa-cli
work=${1:-/tmp/gqa-layerwise-bench}
sequences=${2:-32}
shift $(( $# > 2 ? 2 : $# )) || true
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(4 2 1)
demo=resources/models/demo
text=data/corpus/text
heldout=(--text-file "$text/persuasion.txt" --context 256 --stride 128 --max-tokens 16384 --json --quiet)
mkdir -p "$work"
ppl() { "$cli" perplexity "$1" "${heldout[@]}" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["perplexity"])'; }
seconds() { local start=$SECONDS; "$@" >/dev/null; echo $((SECONDS - start)); }

rm -f "$work/run.h5"
"$cli" calibrate "$demo" --inputs "$text/emma.txt" --sequences "$sequences" --length 256 --run "$work/run.h5" --quiet >/dev/null
echo "calibration: $sequences x 256 tokens of Emma; held-out: Persuasion, first 16384 tokens, context 256, stride 128"
echo "original MHA: $(ppl "$demo")"
echo "| G | statistics fit | layer-wise fit | align time statistics / layer-wise (s) |"
for g in "${groups[@]}"; do
    ts=$(seconds "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --fit statistics --out "$work/statistics-$g" --quiet)
    tl=$(seconds "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --fit layerwise --out "$work/layerwise-$g" --quiet)
    echo "| $g | $(ppl "$work/statistics-$g") | $(ppl "$work/layerwise-$g") | $ts / $tl |"
done
