#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Conversion benchmark on the bundled demo model (docs/benchmarks.md, issue "Conversion training"):
# held-out perplexity of (1) mean-pool, training-free; (2) aligned, training-free; (3) mean-pool +
# gated training; (4) aligned + gated training; (5) the original MHA model, at each G, with equal
# training budgets; plus training tokens/s and peak memory, and a small learning-rate sweep.
# Usage: bench/conversion_bench.sh [WORKDIR] [STEPS] [G...]   (defaults: /tmp/gqa-conv-bench 60 4 2)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=build/bin/gqa-cli
work=${1:-/tmp/gqa-conv-bench}
steps=${2:-60}
shift $(( $# > 2 ? 2 : $# )) || true
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(4 2)
demo=resources/models/demo
text=data/corpus/text
heldout=(--text-file "$text/persuasion.txt" --context 256 --stride 128 --max-tokens 16384 --json --quiet)
train_files="$text/emma.txt,$text/mansfield_park.txt,$text/northanger_abbey.txt,$text/pride_and_prejudice.txt,$text/sense_and_sensibility.txt"
budget=(--steps "$steps" --batch 4 --seq-len 256 --warmup 6 --eval-every 0 --checkpoint-every 0 --quiet --json)
mkdir -p "$work"
ppl() { "$cli" perplexity "$1" "${heldout[@]}" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["perplexity"])'; }
field() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

"$cli" calibrate "$demo" --inputs "$text/emma.txt" --sequences 64 --length 256 --run "$work/run.h5" --quiet >/dev/null
echo "original MHA: $(ppl "$demo")"
for g in "${groups[@]}"; do
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --mean-pool --out "$work/meanpool-gqa$g" --quiet >/dev/null
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --merge mean --out "$work/aligned-gqa$g" --quiet >/dev/null
    "$cli" align "$demo" --run "$work/run.h5" --groups "$g" --keep-mha --out "$work/aligned-mha$g" --quiet >/dev/null
    for start in meanpool aligned; do
        model=$demo; [ "$start" = aligned ] && model="$work/aligned-mha$g"
        rm -rf "$work/train-$start-$g"
        "$cli" train "$work/train-$start-$g" --model "$model" --kv-heads "$g" --train "$train_files" "${budget[@]}" > "$work/train-$start-$g.json"
    done
    echo "G=$g: mean-pool free $(ppl "$work/meanpool-gqa$g") | aligned free $(ppl "$work/aligned-gqa$g") |" \
         "mean-pool trained $(ppl "$work/train-meanpool-$g/model") | aligned trained $(ppl "$work/train-aligned-$g/model")"
    for start in meanpool aligned; do
        echo "  $start G=$g: $(field "$work/train-$start-$g.json" '"%.0f tokens/s, peak %.0f MiB, %d trainable parameters" % (d["tokens_per_second"], d["peak_memory_mb"], d["trainable_parameters"])')"
    done
done

# Learning-rate sweep (aligned, G = 2, short runs of 40 updates x 4 x 128 tokens).
"$cli" align "$demo" --run "$work/run.h5" --groups 2 --keep-mha --out "$work/aligned-mha2" --quiet >/dev/null
for lr in 1e-5 1e-4 1e-3; do
    rm -rf "$work/sweep-$lr"
    "$cli" train "$work/sweep-$lr" --model "$work/aligned-mha2" --kv-heads 2 --train "$train_files" \
        --steps 40 --batch 4 --seq-len 128 --warmup 4 --lr "$lr" --eval-every 0 --checkpoint-every 0 --quiet > /dev/null
    echo "lr $lr (40 x 4 x 128, aligned G=2): $(ppl "$work/sweep-$lr/model")"
done
