#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Every stage of the command line on the bundled demo model with tiny budgets: calibrate, analyze,
# align, train (with Ctrl-C and resume), export, eval (into the run file) and report, all on one
# run file. Needs the corpus text (scripts/get-corpus.sh,
# gqa-cli prepare-corpus); skipped with exit 77 without it.
# Usage: GQA_CLI=build/bin/gqa-cli bash tests/e2e/demo-pipeline.sh WORK_DIR
set -u
cli=${GQA_CLI:?set GQA_CLI to the gqa-cli executable}
src=$(cd "$(dirname "$0")/../.." && pwd)
demo=$src/resources/models/demo
text=$src/data/corpus/text
work=${1:?work folder}
[ -f "$text/emma.txt" ] || { echo "corpus text absent: skipped"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
run=$work/run.h5
failures=0
check() {  # check NAME EXPECTED_RC COMMAND...
    local name=$1 want=$2; shift 2
    "$@" >"$work/$name.out" 2>"$work/$name.err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $name: exit $rc, expected $want"; tail -5 "$work/$name.err"; failures=$((failures + 1))
    else
        echo "ok   $name"
    fi
}
contains() {  # contains NAME FILE TEXT
    if ! grep -q -- "$3" "$2"; then echo "FAIL $1: '$3' not in $2"; tail -5 "$2"; failures=$((failures + 1)); fi
}

check inspect 0 "$cli" inspect "$demo"
contains inspect "$work/inspect.out" "KV heads 8 (MHA)"
check calibrate 0 "$cli" calibrate "$demo" --inputs "$text/emma.txt" --sequences 8 --length 64 --run "$run" --quiet
check analyze 0 "$cli" analyze "$demo" --run "$run" --groups 2,4 --json --quiet
contains analyze "$work/analyze.out" '"groups"'
check align 0 "$cli" align "$demo" --run "$run" --groups 2 --keep-mha --out "$work/aligned" --quiet
train=("$cli" train "$work/conv" --model "$work/aligned" --kv-heads 2 --train "$text/emma.txt"
       --validation "$text/persuasion.txt" --steps 120 --batch 2 --seq-len 64 --warmup 1
       --checkpoint-every 5 --eval-every 20 --eval-batches 1 --run "$run")
# Ctrl-C mid-run: a checkpoint, exit 3; the same command resumes and finishes.
"${train[@]}" >"$work/train-cut.out" 2>"$work/train-cut.err" &
pid=$!
for _ in $(seq 1 600); do
    # Progress lines are time-based: any update from the third on will do.
    grep -Eq "step=([3-9]|[1-9][0-9]+) " "$work/train-cut.err" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ "$rc" -eq 3 ]; then echo "ok   train_interrupted"
else echo "FAIL train_interrupted: exit $rc"; tail -5 "$work/train-cut.err"; failures=$((failures + 1)); fi
check train_resumed 0 "${train[@]}" --json --quiet
contains train_resumed "$work/train_resumed.out" '"export_verified": true'
contains train_resumed "$work/train_resumed.out" '"resumed": true'
check export 0 "$cli" export "$work/conv" --out "$work/exported-f32" --dtype float32 --quiet
check inspect_export 0 "$cli" inspect "$work/exported-f32"
contains inspect_export "$work/inspect_export.out" "KV heads 2"
check eval 0 "$cli" eval "$demo" "$work/conv/model" --text-file "$text/persuasion.txt" --max-tokens 512 \
    --context 128 --stride 64 --decode-contexts 64 --decode-steps 4 --run "$run" --json --quiet
contains eval "$work/eval.out" '"perplexity"'
cp "$run" "$work/conv/run.h5"
check report 0 "$cli" report "$work/conv" --max-tokens 256 --quiet
[ -s "$work/conv/report.pdf" ] && echo "ok   report_pdf" || { echo "FAIL report_pdf"; failures=$((failures + 1)); }

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
