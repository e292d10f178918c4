#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Training-free merges on the bundled demo model (docs/benchmarks.md, "Training-free merges"):
# held-out perplexity of the mean-pool baseline, the aligned mean merge (the paper's) and the
# least-squares merge (docs/method.md §7.2) around each merged head (the mean of the aligned heads,
# or the principal one, §7.3) at each G, with the predicted merge costs of each, and the share of
# the aligned mean merge's gap to the MHA model that each least-squares merge closes.
# Usage: bench/merge_bench.sh [WORKDIR] [SEQUENCES] [G...]   (defaults: /tmp/gqa-merge-bench 32 4 2 1)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=build/bin/gqa-cli
work=${1:-/tmp/gqa-merge-bench}
sequences=${2:-32}
shift $(( $# > 2 ? 2 : $# )) || true
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(4 2 1)
demo=resources/models/demo
text=data/corpus/text
heldout=(--text-file "$text/persuasion.txt" --context 256 --stride 128 --max-tokens 16384 --json --quiet)
mkdir -p "$work"
ppl() { "$cli" perplexity "$1" "${heldout[@]}" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["perplexity"])'; }

rm -f "$work/run.h5"
"$cli" calibrate "$demo" --inputs "$text/emma.txt" --sequences "$sequences" --length 256 --run "$work/run.h5" --quiet >/dev/null
for head in mean principal; do
    "$cli" analyze "$demo" --run "$work/run.h5" --merged-head "$head" --json --quiet > "$work/analysis-$head.json"
done
mha=$(ppl "$demo")
echo "calibration: $sequences x 256 tokens of Emma; held-out: Persuasion, first 16384 tokens, context 256, stride 128"
echo "original MHA: $mha"
echo "| G | mean-pool | aligned mean | least-squares, mean head | least-squares, principal head | gap closed (mean / principal head) | predicted cost mean-pool / aligned / LS mean head / LS principal head |"
for g in "${groups[@]}"; do
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --mean-pool --out "$work/meanpool-$g" --quiet >/dev/null
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --merge mean --out "$work/mean-$g" --quiet >/dev/null
    for head in mean principal; do
        "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --merge least-squares --merged-head "$head" --out "$work/ls-$head-$g" --quiet >/dev/null
    done
    pool=$(ppl "$work/meanpool-$g"); mean=$(ppl "$work/mean-$g")
    lsmean=$(ppl "$work/ls-mean-$g"); lsprincipal=$(ppl "$work/ls-principal-$g")
    costs=$(python3 - "$work" "$g" <<'PY'
import json, sys
work, g = sys.argv[1], int(sys.argv[2])
def avg(head, key):
    d = json.load(open("%s/analysis-%s.json" % (work, head)))
    v = [0.5 * (c[key]["key_relative"] + c[key]["value_relative"])
         for layer in d["layers"] for c in layer["choices"] if c["kv_heads"] == g]
    return 100.0 * sum(v) / len(v)
print("%.1f%% / %.1f%% / %.1f%% / %.1f%%" % (avg("mean", "meanpool_cost"), avg("mean", "aligned_cost"),
      avg("mean", "least_squares_cost"), avg("principal", "least_squares_cost")))
PY
)
    closed=$(python3 -c "print('%.0f%% / %.0f%%' % (100.0 * ($mean - $lsmean) / ($mean - $mha), 100.0 * ($mean - $lsprincipal) / ($mean - $mha)))")
    echo "| $g | $pool | $mean | $lsmean | $lsprincipal | $closed | $costs |"
done
