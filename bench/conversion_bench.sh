#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Conversion benchmark on the bundled demo model (docs/benchmarks.md, "Conversion training"):
# held-out perplexity at each G of the three starts, training-free and after the same gated
# training: mean-pool (the baseline), aligned mean (the paper's merge) and least-squares
# (docs/method.md §7.2), next to the original MHA model; plus each training's tokens/s, peak memory
# and trainable parameters. All columns come from one run, side by side.
# Usage: bench/conversion_bench.sh [WORKDIR] [STEPS] [G...]   (defaults: /tmp/gqa-conv-bench 60 4 2 1)
# Environment: LR (default: train's default), DTYPE (compute dtype, default float32), MERGED_HEAD
# (the least-squares merge's merged head, mean or principal; default: align's default).
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${GQA_CLI:-build/bin/gqa-cli}
work=${1:-/tmp/gqa-conv-bench}
steps=${2:-60}
shift $(( $# > 2 ? 2 : $# )) || true
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(4 2 1)
demo=resources/models/demo
text=data/corpus/text
heldout=(--text-file "$text/persuasion.txt" --context 256 --stride 128 --max-tokens 16384 --json --quiet)
train_files="$text/emma.txt,$text/mansfield_park.txt,$text/northanger_abbey.txt,$text/pride_and_prejudice.txt,$text/sense_and_sensibility.txt"
budget=(--steps "$steps" --batch 4 --seq-len 256 --warmup 6 --eval-every 0 --checkpoint-every 0 --quiet --json
        --dtype "${DTYPE:-float32}")
[ -n "${LR:-}" ] && budget+=(--lr "$LR")
mkdir -p "$work"
head=()
[ -n "${MERGED_HEAD:-}" ] && head=(--merged-head "$MERGED_HEAD")
ppl() { "$cli" perplexity "$1" "${heldout[@]}" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["perplexity"])'; }
field() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

"$cli" calibrate "$demo" --inputs "$text/emma.txt" --sequences 64 --length 256 --run "$work/run.h5" --quiet >/dev/null
echo "calibration: 64 x 256 tokens of Emma; training: $steps updates of 4 x 256 tokens, lr ${LR:-default}, ${DTYPE:-float32}, merged head ${MERGED_HEAD:-default}"
echo "original MHA: $(ppl "$demo")"
echo "| G | mean-pool free | aligned mean free | least-squares free | mean-pool trained | aligned mean trained | least-squares trained |"
for g in "${groups[@]}"; do
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --mean-pool --out "$work/free-meanpool-$g" --quiet >/dev/null
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --merge mean --out "$work/free-aligned-$g" --quiet >/dev/null
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --merge least-squares "${head[@]}" --out "$work/free-lsq-$g" --quiet >/dev/null
    # One aligned MHA folder with the least-squares start beside it serves both aligned trainings.
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --keep-mha --merge least-squares "${head[@]}" --out "$work/aligned-mha$g" --quiet >/dev/null
    for start in meanpool aligned lsq; do
        model="$work/aligned-mha$g"; merge=(--start-merge mean)
        [ "$start" = meanpool ] && model=$demo
        [ "$start" = lsq ] && merge=(--start-merge least-squares)
        rm -rf "$work/train-$start-$g"
        "$cli" train "$work/train-$start-$g" --model "$model" --kv-heads "$g" "${merge[@]}" --train "$train_files" "${budget[@]}" > "$work/train-$start-$g.json"
    done
    echo "| $g | $(ppl "$work/free-meanpool-$g") | $(ppl "$work/free-aligned-$g") | $(ppl "$work/free-lsq-$g") |" \
         "$(ppl "$work/train-meanpool-$g/model") | $(ppl "$work/train-aligned-$g/model") | $(ppl "$work/train-lsq-$g/model") |"
    for start in meanpool aligned lsq; do
        echo "  $start G=$g: $(field "$work/train-$start-$g.json" '"%.0f tokens/s, peak %.0f MiB, %d trainable parameters" % (d["tokens_per_second"], d["peak_memory_mb"], d["trainable_parameters"])')"
    done
done
