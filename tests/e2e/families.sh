#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Every model family end to end through the CLI (issue: model families): make-test-model --arch F
# -> inspect -> calibrate -> analyze -> align (aligned MHA computes the same function; GQA with the
# least-squares merge) -> train a few gated updates -> export (verified by reload) -> eval.
# Writes each stage's wall time per family to OUT/timings.md (docs/benchmarks.md quotes it).
# Usage: GQA_CLI=path/to/gqa-cli families.sh OUT
set -u
cli=${GQA_CLI:?GQA_CLI must point at gqa-cli}
work=${1:?usage: families.sh OUT}
rm -rf "$work" && mkdir -p "$work"
failures=0

check() {  # check NAME EXPECTED_RC COMMAND...: runs it, keeps stdout/stderr, times it
    local name=$1 want=$2; shift 2
    local start end rc
    start=$(date +%s.%N)
    "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    end=$(date +%s.%N)
    last_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $name: exit $rc, expected $want"; tail -n 20 "$work/$name.err"; failures=$((failures + 1))
    fi
}
contains() {  # contains NAME FILE TEXT
    if ! grep -q -- "$3" "$2"; then echo "FAIL $1: '$3' not in $2"; head -c 2000 "$2"; failures=$((failures + 1)); fi
}

for i in $(seq 1 300); do echo "the cat sat on the mat and the dog ran to the garden $i times"; done >"$work/words.txt"
for i in $(seq 1 100); do echo "{\"text\": \"the cat sat on the mat and the dog ran to the garden $i times over and over\"}"; done >"$work/calib.jsonl"
check tokenizer 0 "$cli" train-tokenizer "$work/tokenizer.model" --inputs "$work/words.txt" --vocab 300 --quiet
seq 1 60 | tr '\n' ' ' >"$work/ids.txt"

declare -A fields=(
    [llama]='{"attention_bias": true, "mlp_bias": true}'
    [qwen2]='{}'
    [gemma]='{"hidden_act": "gelu_pytorch_tanh"}'
    [phi]='{}'
    [stablelm]='{"use_qkv_bias": true, "use_parallel_residual": true}'
    [olmo]='{"attention_bias": true}'
    [mistral]='{"sliding_window": 8}'
)
declare -A architecture=(
    [llama]=LlamaForCausalLM [qwen2]=Qwen2ForCausalLM [gemma]=GemmaForCausalLM [phi]=PhiForCausalLM
    [stablelm]=StableLmForCausalLM [olmo]=OlmoForCausalLM [mistral]=MistralForCausalLM
)
stages=(make calibrate analyze align_mha align_gqa train eval)
{
    printf '| family |'; for s in "${stages[@]}"; do printf ' %s (s) |' "$s"; done; printf '\n'
    printf '|---|'; for _ in "${stages[@]}"; do printf -- '---:|'; done; printf '\n'
} >"$work/timings.md"

nll() { sed -n 's/.*mean NLL \([0-9.]*\) nats.*/\1/p' "$1"; }
for family in llama qwen2 gemma phi stablelm olmo mistral; do
    f="$work/$family"
    row="| $family |"
    check "${family}_make" 0 "$cli" make-test-model "$f/mha" --arch "$family" --family-fields "${fields[$family]}" \
        --layers 2 --heads 4 --kv-heads 4 --head-dim 8 --vocab 320 --tokenizer "$work/tokenizer.model"
    row+=" $last_seconds |"
    contains "${family}_make" "$f/mha/config.json" "\"${architecture[$family]}\""
    [ -f "$f/mha/tokenizer.model" ] || { echo "FAIL ${family}_make: no tokenizer.model"; failures=$((failures + 1)); }
    check "${family}_inspect" 0 "$cli" inspect "$f/mha"
    contains "${family}_inspect" "$work/${family}_inspect.out" "${architecture[$family]}"
    check "${family}_calibrate" 0 "$cli" calibrate "$f/mha" --inputs "$work/calib.jsonl" --sequences 8 --length 16 --run "$f/run.h5" --quiet
    row+=" $last_seconds |"
    check "${family}_analyze" 0 "$cli" analyze "$f/mha" --run "$f/run.h5" --json --quiet
    row+=" $last_seconds |"
    contains "${family}_analyze" "$work/${family}_analyze.out" '"least_squares_cost"'
    check "${family}_align_mha" 0 "$cli" align "$f/mha" --run "$f/run.h5" --groups 2 --keep-mha --out "$f/aligned" --quiet
    row+=" $last_seconds |"
    check "${family}_align_gqa" 0 "$cli" align "$f/mha" --run "$f/run.h5" --groups 2 --out "$f/gqa2" --quiet
    row+=" $last_seconds |"
    contains "${family}_align_gqa" "$f/gqa2/config.json" '"num_key_value_heads": 2'
    contains "${family}_align_gqa" "$f/gqa2/config.json" "\"${architecture[$family]}\""
    # The aligned MHA model computes the same function.
    check "${family}_ppl_original" 0 "$cli" perplexity "$f/mha" --ids-file "$work/ids.txt" --context 16 --stride 8 --quiet
    check "${family}_ppl_aligned" 0 "$cli" perplexity "$f/aligned" --ids-file "$work/ids.txt" --context 16 --stride 8 --quiet
    if ! awk -v a="$(nll "$work/${family}_ppl_original.out")" -v b="$(nll "$work/${family}_ppl_aligned.out")" \
            'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 1e-4) }'; then
        echo "FAIL $family: aligned MHA changed the model: $(cat "$work/${family}_ppl_original.out") vs $(cat "$work/${family}_ppl_aligned.out")"
        failures=$((failures + 1))
    fi
    check "${family}_train" 0 "$cli" train "$f/conv" --model "$f/aligned" --kv-heads 2 --train "$work/words.txt" \
        --steps 3 --batch 2 --seq-len 16 --warmup 1 --bild-topk 4 --json --quiet
    row+=" $last_seconds |"
    contains "${family}_train" "$work/${family}_train.out" '"export_verified": true'
    contains "${family}_train" "$f/conv/model/config.json" "\"${architecture[$family]}\""
    contains "${family}_train" "$f/conv/model/config.json" '"num_key_value_heads": 2'
    check "${family}_eval" 0 "$cli" eval "$f/mha" "$f/conv/model" --text-file "$work/words.txt" --max-tokens 64 --context 16 --stride 8 --quiet
    row+=" $last_seconds |"
    echo "$row" >>"$work/timings.md"
done
cat "$work/timings.md"
if [ "$failures" -ne 0 ]; then echo "$failures failure(s); outputs in $work"; exit 1; fi
echo "all families passed"
