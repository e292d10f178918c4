#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# End-to-end checks of data-parallel conversion training over c10d Gloo (method §10):
#  (a) `train --nproc 2 --batch 2` (two processes, each its half of every batch) ends with the
#      same weights, gates and losses as one process with `--batch 4`, within float tolerance;
#  (b) SIGKILL of rank 1 mid-run makes the run fail with a message naming the ranks, well within
#      the collective timeout, and the same command then resumes from the last checkpoint and
#      finishes; a frozen rank (SIGSTOP) makes rank 0 time out and the launcher kill it;
#  (c) SIGINT to the launcher stops every rank at the same update (exit 3); the same command
#      resumes.
# Usage: GQA_CLI=path/to/gqa-cli GQA_COMPARE=path/to/gqa_safetensors_compare distributed.sh WORKDIR
set -uo pipefail
cli=${GQA_CLI:?set GQA_CLI to the gqa-cli executable}
compare=${GQA_COMPARE:?set GQA_COMPARE to the gqa_safetensors_compare executable}
work=${1:?work dir}
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() {  # check NAME EXPECTED_RC COMMAND...
    local name=$1 want=$2; shift 2
    "$@" >"$work/$name.out" 2>"$work/$name.err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, expected $want"; cat "$work/$name.err"
    else
        echo "ok   $name"
    fi
}
contains() {  # contains NAME FILE TEXT
    grep -q -- "$3" "$2" || { fail "$1: '$3' not in $2"; cat "$2"; }
}
# The numbers of a JSON array field of `train --json` (pretty-printed: one number per line).
array() { awk -v key="\"$2\": [" 'index($0, key) { on = 1; next } on && /\]/ { exit } on { gsub(/[ ,]/, ""); print }' "$1"; }
# Whether two number lists agree within a relative tolerance.
close_lists() {
    paste -d' ' <(array "$1" "$3") <(array "$2" "$3") | awk -v tol="$4" '
        { n++; d = $1 - $2; if (d < 0) d = -d; s = ($2 < 0 ? -$2 : $2); if (s < 1) s = 1
          if (d / s > tol) bad++ }
        END { exit !(n > 0 && bad == 0) }'
}
# Waits up to $2 seconds for the checkpoint in folder $1 to reach update $3 or later.
wait_checkpoint() {
    local state="$1/checkpoint/trainer_state.json" i step
    for i in $(seq 1 $(($2 * 10))); do
        step=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$state" 2>/dev/null | head -1)
        [ -n "$step" ] && [ "$step" -ge "$3" ] && return 0
        sleep 0.1
    done
    return 1
}

check make_model 0 "$cli" make-test-model "$work/mha" --layers 2 --heads 4 --kv-heads 4 --head-dim 8 --vocab 320
for i in $(seq 1 400); do echo "the cat sat on the mat and the dog ran to the garden $i times"; done > "$work/words.txt"
check train_tokenizer 0 "$cli" train-tokenizer "$work/mha/tokenizer.model" --inputs "$work/words.txt" --vocab 300 --quiet

# (a) Same seed, same global batches: the combined batch of 4 split over two ranks. Gates are
# still open at the end (--prune-ratio 1) so that a gate that drifts apart would show. In float64
# the two agree to float32 storage rounding: the trained weights and the gates are float32 leaves
# (method §10's master weights), so their gradients are rounded to float32 once per rank and then
# summed, against once for the whole batch in one process; the gradient norm and the gates can
# therefore differ by a float32 rounding (measured: 2 ulps, 1.6e-7, at one update of six), while
# losses, computed in float64 from weights that round alike, agree to 1e-9. In float32 the sums
# are taken in another order:
# losses and gradient norms (which would catch a gradient scaled by the world size, to which
# AdamW is blind) agree to ~1e-6, and so do all weights but a handful whose gradient is at
# rounding level, where AdamW's per-component normalisation can step by up to the learning rate
# (2e-4 for merged heads) in one run and not the other: bound 2 x 2e-4 x 6 updates.
budget=(--model "$work/mha" --kv-heads 2 --train "$work/words.txt" --validation "" --steps 6
        --seq-len 16 --warmup 1 --bild-topk 4 --prune-ratio 1 --seed 7
        --eval-every 0 --checkpoint-every 0 --json --quiet)
same_run() {  # same_run NAME DTYPE LOSS_TOLERANCE FLOAT32_LEAF_TOLERANCE COMPARE_LIMITS...
    local name=$1 dtype=$2 tol=$3 leaf_tol=$4; shift 4
    check "${name}_one" 0 "$cli" train "$work/$name-one" "${budget[@]}" --dtype "$dtype" --batch 4
    check "${name}_two" 0 "$cli" train "$work/$name-two" "${budget[@]}" --dtype "$dtype" --batch 2 --nproc 2
    check "${name}_weights" 0 "$compare" "$work/$name-two/checkpoint/model.safetensors" "$work/$name-one/checkpoint/model.safetensors" "$@"
    check "${name}_export" 0 "$compare" "$work/$name-two/model/model.safetensors" "$work/$name-one/model/model.safetensors" "$@"
    echo "     $(cat "$work/${name}_weights.out")"
    local field field_tol
    for field in loss grad_norm kl bild final_gates; do
        field_tol=$tol
        case $field in grad_norm | final_gates) field_tol=$leaf_tol ;; esac
        close_lists "$work/${name}_one.out" "$work/${name}_two.out" "$field" "$field_tol" ||
            { fail "$name: $field differs"; paste <(array "$work/${name}_one.out" "$field") <(array "$work/${name}_two.out" "$field"); }
    done
}
same_run same64 float64 1e-9 1e-6 1e-6
same_run same32 float32 1e-5 1e-5 1e-5 0.01 2.4e-3

# Sets array VAR to a two-rank training command writing to $work/DIR (the options every run below
# shares).
two_ranks() {  # two_ranks VAR DIR STEPS CHECKPOINT_EVERY COLLECTIVE_TIMEOUT
    local -n into=$1
    into=("$cli" train "$work/$2" --model "$work/mha" --kv-heads 2 --train "$work/words.txt"
           --validation "" --steps "$3" --batch 4 --seq-len 64 --warmup 1 --bild-topk 4
           --eval-every 0 --checkpoint-every "$4" --nproc 2 --collective-timeout "$5")
}
# Starts COMMAND in the background, sends SIGNAL to its rank 1 once the checkpoint of update 5 is
# written, and waits for the launcher: sets rc and elapsed (seconds after the signal). Fails NAME
# when no checkpoint comes within 120 s.
signal_rank1() {  # signal_rank1 NAME DIR SIGNAL COMMAND...
    local name=$1 dir=$2 signal=$3; shift 3
    "$@" >"$work/$dir.out" 2>"$work/$dir.err" &
    local launcher=$!
    if ! wait_checkpoint "$work/$dir" 120 5; then
        fail "$name: no checkpoint at update 5 within 120 s"; kill -KILL "$launcher"; cat "$work/$dir.err"
        return 1
    fi
    local rank1
    rank1=$(sed -n 's/.*rank 1 pid \([0-9]*\).*/\1/p' "$work/$dir.err" | head -1)
    kill "-$signal" "$rank1"
    local start=$SECONDS
    wait "$launcher"; rc=$?
    elapsed=$((SECONDS - start))
    if [ "$rc" -eq 0 ]; then fail "$name: the run succeeded without rank 1"; else echo "ok   $name (exit $rc after ${elapsed} s)"; fi
}

# (b) SIGKILL of rank 1 mid-run: rank 0's next collective fails at once (closed connection), the
# launcher reports both and exits non-zero well within the collective timeout; the same command
# resumes from the last checkpoint with the same world size and finishes.
timeout_s=30
two_ranks long killed 200 5 "$timeout_s"
if signal_rank1 killed_rank killed KILL "${long[@]}"; then
    [ "$elapsed" -lt "$timeout_s" ] || fail "killed_rank: took ${elapsed} s, collective timeout ${timeout_s} s"
    contains killed_rank "$work/killed.err" "rank 1 was killed by signal 9"
    contains killed_rank "$work/killed.err" "rank 0 of 2"
    check killed_resume 0 "${long[@]}" --json --quiet
    contains killed_resume "$work/killed_resume.out" '"resumed": true'
    contains killed_resume "$work/killed_resume.out" '"export_verified": true'
    grep -q '"start_step": 0,' "$work/killed_resume.out" && fail "killed_resume: started from update 0"
fi

# (b') A frozen rank 1 (SIGSTOP: alive, connections open, silent): rank 0 times out after the
# collective timeout and the launcher kills rank 1 once it has had the timeout plus 10 s.
short_timeout=5
two_ranks stalled stalled 200 5 "$short_timeout"
if signal_rank1 stalled_rank stalled STOP "${stalled[@]}"; then
    [ "$elapsed" -le $((short_timeout + 25)) ] || fail "stalled_rank: took ${elapsed} s"
    contains stalled_rank "$work/stalled.err" "rank 0 of 2"
    contains stalled_rank "$work/stalled.err" "killing rank 1"
fi

# (c) SIGINT to the launcher (a terminal's Ctrl-C reaches it only): forwarded to every rank, which
# agree on the update to stop at, checkpoint and exit 3; the same command resumes.
two_ranks interrupted interrupted 300 0 "$timeout_s"
"${interrupted[@]}" >"$work/interrupted.out" 2>"$work/interrupted.err" &
launcher=$!
if wait_checkpoint "$work/interrupted" 120 0 && sleep 1; then
    kill -INT "$launcher"
    wait "$launcher"; rc=$?
    if [ "$rc" -ne 3 ]; then fail "interrupt: exit $rc, expected 3"; cat "$work/interrupted.err"; else echo "ok   interrupt"; fi
    contains interrupt "$work/interrupted.err" "checkpoint saved"
    check interrupt_resume 0 "${interrupted[@]}" --json --quiet
    contains interrupt_resume "$work/interrupt_resume.out" '"resumed": true'
else
    fail "interrupt: the run did not start within 120 s"; kill -KILL "$launcher"
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all distributed checks passed"
