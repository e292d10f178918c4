#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# How many CPU threads training should use, by model size (docs/benchmarks.md, "CPU threads"):
# training tokens/s of `gqa-cli pretrain` (the same forward/backward/AdamW as the conversion) at
# 1 thread and at every core, for Llama shapes of growing hidden size (2 layers, head size 32 up to
# hidden 256, 64 above, vocabulary 4096). Each shape runs ROUNDS times, the thread counts
# interleaved so that a busy spell of this shared machine hits both; the median is printed.
# GQA_THREADS and OPENBLAS_NUM_THREADS are set together (OpenBLAS keeps its own pool, a thread per
# core by default: core/base/threadpolicy.h sets both the same way).
#   bench/threads_bench.sh [WORKDIR] [ROUNDS] [HIDDEN...]
#   (defaults: /tmp/gqa-threads-bench 3 128 256 512 1024 2048)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=$PWD/build/bin/gqa-cli
work=${1:-/tmp/gqa-threads-bench}
rounds=${2:-3}
shift 2 || shift $#
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then sizes=(128 256 512 1024 2048); fi
cores=$(nproc)
mkdir -p "$work"
text=data/corpus/text/emma.txt
[ -f "$text" ] || { echo "no $text: run build/bin/gqa-cli prepare-corpus first" >&2; exit 1; }

measure() {  # measure HIDDEN THREADS -> tokens/s
    local hidden=$1 threads=$2 headdim=32
    if [ "$hidden" -gt 256 ]; then headdim=64; fi
    local out="$work/h$hidden-t$threads"
    rm -rf "$out"
    # Few sequences per update: the steps are long enough at hidden 2048 and still measurable at 128.
    GQA_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$cli" pretrain "$out" \
        --tokenizer resources/models/demo/tokenizer.model --train "$text" --validation "" \
        --layers 2 --heads $((hidden / headdim)) --head-dim "$headdim" --steps 5 --warmup 1 \
        --batch 4 --seq-len 128 --eval-every 0 --checkpoint-every 1000 --json --quiet \
        | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["tokens_per_second"])'
}

echo "pretrain tokens/s, 2 layers, 5 updates of 4 x 128 tokens, float32, $cores cores," \
     "median of $rounds; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %-22s %-22s %s\n' hidden "1 thread" "$cores threads" "all cores / 1"
for hidden in "${sizes[@]}"; do
    one=() all=()
    for ((r = 0; r < rounds; r++)); do
        one+=("$(measure "$hidden" 1)")
        all+=("$(measure "$hidden" "$cores")")
    done
    python3 - "$hidden" "${one[*]}" "${all[*]}" <<'PY'
import statistics, sys
hidden, one, every = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
m1, ma = statistics.median(one), statistics.median(every)
print("%-7s %-22s %-22s %.2f" % (hidden, "%.0f (%s)" % (m1, " ".join("%.0f" % x for x in one)),
                                 "%.0f (%s)" % (ma, " ".join("%.0f" % x for x in every)), ma / m1))
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
