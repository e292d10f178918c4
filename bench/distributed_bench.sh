#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Data-parallel scaling of the conversion training on this machine (docs/benchmarks.md,
# method §10): training tokens/s of the demo model with the same global batch (BATCH sequences) as
#   (1) one process, 1 intra-op thread;
#   (2) one process, all cores as intra-op threads (the default);
#   (3) --nproc 2 Gloo processes, 1 intra-op thread each (the launcher's default split), the
#       gradient all-reduce overlapped with backward in 25 MB buckets (the default);
#   (4) the same with the all-reduce after backward (--no-overlap-reduce);
#   (5) the same overlapped in 1 MB buckets (the demo's trainable gradients, about 3 MB, fill a
#       single 25 MB bucket, which can only start when backward ends);
#   (6) ZeRO-1 (--shard-optimizer), 1 MB buckets reduced onto their owners during backward.
# tokens/s is the trainer's own figure (all ranks' tokens over the update time); wall and CPU
# (user + system, all processes) are the whole command (start-up, tokenization, rendezvous, final
# checkpoint; no export). CPU / (wall x cores) shows how much of the machine the run really got:
# on a shared machine other sessions' jobs take their share whatever their nice value (Linux
# autogroups), so read tokens/s together with it. OPENBLAS_NUM_THREADS is set with GQA_THREADS
# (OpenBLAS keeps its own pool, a thread per core by default; the launcher does the same).
# Usage: bench/distributed_bench.sh [WORKDIR] [STEPS] [BATCH] [SEQ_LEN]
#        (defaults: /tmp/gqa-dist-bench 12 8 128)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=build/bin/gqa-cli
work=${1:-/tmp/gqa-dist-bench}
steps=${2:-12}
batch=${3:-8}
seq=${4:-128}
cores=$(nproc)
mkdir -p "$work"
budget=(--model resources/models/demo --kv-heads 4 --train data/corpus/text/emma.txt --validation ""
        --steps "$steps" --seq-len "$seq" --warmup 2 --eval-every 0
        --checkpoint-every 0 --no-export --json --quiet)
run() {  # run NAME THREADS [extra options...]
    local name=$1 threads=$2; shift 2
    rm -rf "${work:?}/$name"
    local start end
    start=$(date +%s.%N)
    GQA_THREADS=$threads OPENBLAS_NUM_THREADS=$threads /usr/bin/time -f "%U %S" -o "$work/$name.time" \
        "$cli" train "$work/$name" "${budget[@]}" "$@" > "$work/$name.json"
    end=$(date +%s.%N)
    python3 - "$work/$name" "$name" "$threads" "$start" "$end" "$cores" <<'PY'
import json, sys
base, name, threads, start, end, cores = sys.argv[1:]
d = json.load(open(base + ".json"))
wall = float(end) - float(start)
cpu = sum(float(x) for x in open(base + ".time").read().split()[-2:])
print("%-24s %s thread(s)/process %7.0f tokens/s  wall %6.1f s  CPU %6.1f s (%3.0f%% of %s cores)"
      % (name, threads, d["tokens_per_second"], wall, cpu, 100 * cpu / (wall * int(cores)), cores))
PY
}
echo "demo model, $steps updates x $batch x $seq tokens, $cores cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run one-process-1-thread 1 --batch "$batch"
run one-process-$cores-threads "$cores" --batch "$batch"
run two-processes-gloo 1 --batch $((batch / 2)) --nproc 2  # --batch is per rank
run two-gloo-reduce-after 1 --batch $((batch / 2)) --nproc 2 --no-overlap-reduce
run two-gloo-1mb-buckets 1 --batch $((batch / 2)) --nproc 2 --bucket-mb 1
run two-gloo-zero1-1mb 1 --batch $((batch / 2)) --nproc 2 --bucket-mb 1 --shard-optimizer
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
