#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# End-to-end checks of gqa-cli: each subcommand on a generated model, and the documented exit codes
# for bad input. Usage: GQA_CLI=path/to/gqa-cli cli.sh WORKDIR
set -uo pipefail
cli=${GQA_CLI:?set GQA_CLI to the gqa-cli executable}
work=${1:?work dir}
rm -rf "$work" && mkdir -p "$work"
failures=0
check() {  # check NAME EXPECTED_RC COMMAND...
    local name=$1 want=$2; shift 2
    "$@" >"$work/$name.out" 2>"$work/$name.err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $name: exit $rc, expected $want"; cat "$work/$name.err"; failures=$((failures + 1))
    else
        echo "ok   $name"
    fi
}
contains() {  # contains NAME FILE TEXT
    if ! grep -q -- "$3" "$2"; then echo "FAIL $1: '$3' not in $2"; cat "$2"; failures=$((failures + 1)); fi
}

check version 0 "$cli" --version
check help 0 "$cli" --help
check make_model 0 "$cli" make-test-model "$work/mha" --layers 2 --heads 4 --kv-heads 4 --head-dim 8 --vocab 320
check make_gqa_sharded 0 "$cli" make-test-model "$work/gqa" --layers 2 --heads 4 --kv-heads 2 --head-dim 8 --vocab 64 --dtype bfloat16 --shard-bytes 4096
check inspect 0 "$cli" inspect "$work/mha" --tensors
contains inspect "$work/inspect.out" "KV heads 4 (MHA)"
contains inspect "$work/inspect.out" "model.layers.1.self_attn.k_proj.weight"
check inspect_json 0 "$cli" inspect "$work/gqa" --json
contains inspect_json "$work/inspect_json.out" '"num_key_value_heads": 2'
contains inspect_json "$work/inspect_json.out" '"sharded": true'
seq 1 60 | tr '\n' ' ' > "$work/ids.txt"
check perplexity 0 "$cli" perplexity "$work/mha" --ids-file "$work/ids.txt" --context 16 --stride 8 --json --quiet
contains perplexity "$work/perplexity.out" '"tokens_scored": 59'
check generate 0 "$cli" generate "$work/gqa" --ids-file "$work/ids.txt" --max-new-tokens 5 --json --quiet
contains generate "$work/generate.out" '"kv_cache_bytes"'

for i in $(seq 1 400); do echo "the cat sat on the mat and the dog ran to the garden $i times"; done > "$work/words.txt"
check train_tokenizer 0 "$cli" train-tokenizer "$work/tok/tokenizer.model" --inputs "$work/words.txt" --vocab 300 --quiet
[ -s "$work/tok/tokenizer.model" ] || { echo "FAIL train_tokenizer: no model written"; failures=$((failures + 1)); }

# Head analysis pipeline: calibrate -> analyze -> align (aligned MHA computes the same function).
cp "$work/tok/tokenizer.model" "$work/mha/tokenizer.model"
for i in $(seq 1 200); do echo "{\"text\": \"the cat sat on the mat and the dog ran to the garden $i times over and over again\"}"; done > "$work/calib.jsonl"
check calibrate 0 "$cli" calibrate "$work/mha" --inputs "$work/calib.jsonl" --sequences 8 --length 16 --run "$work/run.h5" --quiet
check calibrate_reuse 0 "$cli" calibrate "$work/mha" --inputs "$work/calib.jsonl" --sequences 8 --length 16 --run "$work/run.h5" --quiet
contains calibrate_reuse "$work/calibrate_reuse.out" "reused"
check analyze 0 "$cli" analyze "$work/mha" --run "$work/run.h5" --json --csv "$work/analysis.csv" --quiet
contains analyze "$work/analyze.out" '"kv_heads": 2'
contains analyze "$work/analysis.csv" "layer,kv_heads,criterion,objective"
contains analyze "$work/analyze.out" '"least_squares_cost"'
check align_least_squares 0 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --merge least-squares --out "$work/gqa2ls" --quiet
contains align_least_squares "$work/align_least_squares.out" "least-squares merge"
check align_bad_merge 2 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --merge median --out "$work/x" --quiet
# The layer-wise fit reads the calibration text again; it refuses a text that changed since.
check align_layerwise 0 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --fit layerwise --out "$work/gqa2lw" --quiet
contains align_layerwise "$work/align_layerwise.out" "fitted on the merged model's inputs, layer by layer"
check align_layerwise_mean 2 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --merge mean --fit layerwise --out "$work/x" --quiet
contains align_layerwise_mean "$work/align_layerwise_mean.err" "least-squares merge only"
cp "$work/calib.jsonl" "$work/calib.saved"
echo '{"text": "one more line"}' >> "$work/calib.jsonl"
check align_layerwise_changed 2 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --fit layerwise --out "$work/x" --quiet
contains align_layerwise_changed "$work/align_layerwise_changed.err" "calibration text has changed"
mv "$work/calib.saved" "$work/calib.jsonl"
contains analyze "$work/analyze.out" '"similarity_measure": "negative mean squared distance'
check analyze_text 0 "$cli" analyze "$work/mha" --run "$work/run.h5" --criterion cos --quiet
contains analyze_text "$work/analyze_text.out" "value cos before/after"
contains analyze_text "$work/analyze_text.out" "mean cosine similarity"
check align_mha 0 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --keep-mha --out "$work/aligned" --quiet
check align_gqa 0 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --out "$work/gqa2" --quiet
check align_meanpool 0 "$cli" align "$work/mha" --run "$work/run.h5" --groups 1 --mean-pool --out "$work/mqa" --quiet
contains align_gqa "$work/align_gqa.out" "aligned, least-squares merge"
contains align_meanpool "$work/align_meanpool.out" "mean-pool baseline, mean merge"
echo '[[[3, 0], [1, 2]], [[0, 1], [2, 3]]]' > "$work/groups.json"
check align_user_grouping 0 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --grouping "$work/groups.json" --out "$work/user" --quiet
check align_consecutive 0 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --grouping consecutive --out "$work/cons" --quiet
echo '[[[0, 0], [1, 2]], [[0, 1], [2, 3]]]' > "$work/badgroups.json"
check align_bad_grouping 2 "$cli" align "$work/mha" --run "$work/run.h5" --groups 2 --grouping "$work/badgroups.json" --out "$work/x" --quiet
contains align_bad_grouping "$work/align_bad_grouping.err" "layer 0"
check inspect_gqa2 0 "$cli" inspect "$work/gqa2"
contains inspect_gqa2 "$work/inspect_gqa2.out" "KV heads 2 (GQA)"
check ppl_original 0 "$cli" perplexity "$work/mha" --ids-file "$work/ids.txt" --context 16 --stride 8 --quiet
check ppl_aligned 0 "$cli" perplexity "$work/aligned" --ids-file "$work/ids.txt" --context 16 --stride 8 --quiet
nll() { sed -n 's/.*mean NLL \([0-9.]*\) nats.*/\1/p' "$1"; }
if ! awk -v a="$(nll "$work/ppl_original.out")" -v b="$(nll "$work/ppl_aligned.out")" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 1e-4) }'; then
    echo "FAIL aligned MHA changed the model: $(cat "$work/ppl_original.out") vs $(cat "$work/ppl_aligned.out")"; failures=$((failures + 1))
fi
check align_other_model 2 "$cli" align "$work/gqa" --run "$work/run.h5" --groups 2 --out "$work/x" --quiet
check align_bad_groups 2 "$cli" align "$work/mha" --run "$work/run.h5" --groups 3 --out "$work/x" --quiet
check analyze_no_run 2 "$cli" analyze "$work/mha" --run "$work/nope.h5"

# Conversion training from the aligned MHA: gates to 0, export verified; jsonl data; bfloat16
# compute; Ctrl-C checkpoints (exit 3) and the same command resumes.
train=("$cli" train "$work/conv" --model "$work/aligned" --kv-heads 2 --train "$work/words.txt" --validation "$work/words.txt"
       --steps 6 --batch 2 --seq-len 16 --warmup 1 --eval-every 3 --eval-batches 1 --checkpoint-every 2 --bild-topk 4 --quiet)
check train 0 "${train[@]}" --json
contains train "$work/train.out" '"export_verified": true'
contains train "$work/train.out" '"final_gates": \['
check train_export_inspect 0 "$cli" inspect "$work/conv/model"
contains train_export_inspect "$work/train_export_inspect.out" "KV heads 2 (GQA)"
check train_again 0 "${train[@]}" --json
contains train_again "$work/train_again.out" '"resumed": true'
contains train_again "$work/train_again.out" '"already_complete": true'
check train_again_text 0 "${train[@]}"
contains train_again_text "$work/train_again_text.out" "was already complete (6 updates): nothing was trained"
check train_other_groups 2 "$cli" train "$work/conv" --model "$work/aligned" --kv-heads 1 --train "$work/words.txt" --steps 6 --quiet
contains train_other_groups "$work/train_other_groups.err" "whose groups is 2, not 1"
# The run report (docs/report.md) on a copy of the calibration run file that the training records.
cp "$work/run.h5" "$work/report-run.h5"
check train_report_run 0 "$cli" train "$work/conv-report" --model "$work/aligned" --kv-heads 2 --train "$work/words.txt" --steps 3 --batch 2 --seq-len 16 --warmup 1 --bild-topk 4 --run "$work/report-run.h5" --quiet
mv "$work/report-run.h5" "$work/conv-report/run.h5"
# Evaluations recorded in the run file (appended), shown by the report.
check eval_run 0 "$cli" eval "$work/aligned" "$work/conv-report/model" --text-file "$work/words.txt" --max-tokens 64 --context 16 --stride 8 --run "$work/conv-report/run.h5" --quiet
contains eval_run "$work/eval_run.out" "as /evaluation/eval_000"
check eval_run_again 0 "$cli" eval "$work/conv-report/model" --decode-contexts 8 --decode-steps 2 --run "$work/conv-report/run.h5" --json --quiet
contains eval_run_again "$work/eval_run_again.out" '"entry": "/evaluation/eval_001"'
check eval_run_foreign 2 "$cli" eval "$work/aligned" --run "$work/words.txt" --quiet
contains eval_run_foreign "$work/eval_run_foreign.err" "not an HDF5 file"
# export from the run folder: the model folder comes from the run file, the export is recorded in it.
check export_run 0 "$cli" export "$work/conv-report" --run "$work/conv-report/run.h5" --json --quiet
contains export_run "$work/export_run.out" '"export_verified": true'
check report 0 "$cli" report "$work/conv-report" --max-tokens 512 --quiet
contains report "$work/conv-report/report.html" "Stored evaluation"
contains report "$work/conv-report/report.html" "tok/s@8"
contains report "$work/conv-report/report.html" "G = 2"
contains report "$work/conv-report/report.html" "verified"
contains report "$work/conv-report/report.html" "<h2>Evaluation</h2>"
if command -v pdfinfo >/dev/null; then
    pages=$(pdfinfo "$work/conv-report/report.pdf" | sed -n 's/^Pages: *//p')
    [ "${pages:-0}" -gt 1 ] || { echo "FAIL report: PDF has ${pages:-no} pages"; failures=$((failures + 1)); }
fi
check report_bad_folder 2 "$cli" report "$work/nope" --quiet
for i in $(seq 1 40); do echo "{\"instruction\": \"Answer.\", \"input\": \"where did the dog run $i\", \"output\": \"to the garden\"}"; done > "$work/qa.jsonl"
check train_jsonl 0 "$cli" train "$work/conv-qa" --model "$work/aligned" --kv-heads 1 --train-jsonl "$work/qa.jsonl" --steps 3 --batch 2 --seq-len 32 --bild-topk 4 --gate-scheme hard-concrete --dtype bfloat16 --quiet
contains train_jsonl "$work/train_jsonl.out" "verified"
check train_bad_scheme 2 "${train[@]}" --gate-scheme nonsense
contains train_bad_scheme "$work/train_bad_scheme.err" "hard-concrete"
check train_bad_groups 2 "$cli" train "$work/conv-bad" --model "$work/aligned" --kv-heads 3 --train "$work/words.txt" --quiet
check train_no_data 2 "$cli" train "$work/conv-bad" --model "$work/aligned" --kv-heads 2 --quiet
cat > "$work/convert.json" <<CONF
{"model": "mha", "kv_heads": 2, "output": "convert-run",
 "calibration": {"files": ["calib.jsonl"], "sequences": 8, "length": 16},
 "training": {"files": ["words.txt"], "validation": "words.txt", "steps": 4, "batch": 2, "seq_len": 16}}
CONF
check convert 0 "$cli" convert "$work/convert.json" --json --quiet
contains convert "$work/convert.out" '"export_verified": true'
contains convert "$work/convert-run/convert-config.json" '"gate_scheme": "reference"'
check convert_again 0 "$cli" convert "$work/convert.json" --json --quiet
contains convert_again "$work/convert_again.out" '"reused_calibration": true'
echo '{"model": "mha", "kv_heads": 2, "output": "x", "trainig": {}}' > "$work/typo.json"
check convert_typo 2 "$cli" convert "$work/typo.json" --quiet
contains convert_typo "$work/convert_typo.err" 'unknown key "trainig"'
# One SIGINT, as Ctrl-C sends (not `timeout -s INT`: it signals the child and then its whole
# process group, so the child may see two, and a second Ctrl-C means "stop now", exit 130).
"$cli" train "$work/conv-int" --model "$work/aligned" --kv-heads 2 --train "$work/words.txt" --steps 100000 --batch 2 --seq-len 16 --bild-topk 4 --checkpoint-every 0 --quiet >"$work/train_int.out" 2>"$work/train_int.err" &
pid=$!
sleep 4
kill -INT "$pid"
wait "$pid"
rc=$?
if [ "$rc" -ne 3 ]; then echo "FAIL train_interrupt: exit $rc, expected 3"; cat "$work/train_int.err"; failures=$((failures + 1)); else echo "ok   train_interrupt"; fi
[ -f "$work/conv-int/checkpoint/trainer_state.json" ] || { echo "FAIL train_interrupt: no checkpoint"; failures=$((failures + 1)); }
# export: a finished conversion in another dtype, with the tokenizer copied; an interrupted one
# (gates still open) refused with exit 2 unless --force; a checkpoint that is no conversion.
check export 0 "$cli" export "$work/conv/checkpoint" --out "$work/conv-export" --model "$work/aligned" --dtype bfloat16 --json --quiet
contains export "$work/export.out" '"export_verified": true'
contains export "$work/export.out" '"dtype": "bfloat16"'
[ -f "$work/conv-export/tokenizer.model" ] || { echo "FAIL export: no tokenizer.model copied"; failures=$((failures + 1)); }
check export_inspect 0 "$cli" inspect "$work/conv-export"
contains export_inspect "$work/export_inspect.out" "KV heads 2 (GQA)"
check export_open_gates 2 "$cli" export "$work/conv-int" --model "$work/aligned" --quiet
contains export_open_gates "$work/export_open_gates.err" "gates are still open"
contains export_open_gates "$work/export_open_gates.err" "layer 0 head 0"
check export_forced 0 "$cli" export "$work/conv-int" --model "$work/aligned" --force --quiet
contains export_forced "$work/export_forced.err" "warning: exported although"
check export_not_model 2 "$cli" export "$work/conv" --model "$work/gqa2" --out "$work/x" --quiet  # GQA, not the MHA it started from
contains export_not_model "$work/export_not_model.err" "not the model this checkpoint was trained from"
check export_nothing 2 "$cli" export "$work/words.txt" --quiet

# Pretraining: a few steps, then the same command again continues from the checkpoint.
for i in $(seq 1 300); do echo "she said that the weather in the garden was very fine for a walk, number $i."; done > "$work/train.txt"
head -40 "$work/train.txt" > "$work/valid.txt"
pretrain=("$cli" pretrain "$work/pre" --train "$work/train.txt" --validation "$work/valid.txt" --tokenizer "$work/tok/tokenizer.model"
          --layers 1 --heads 2 --head-dim 8 --seq-len 16 --batch 2 --warmup 2 --eval-every 2 --eval-batches 1 --checkpoint-every 2 --json --quiet)
check pretrain 0 "${pretrain[@]}" --steps 4
check pretrain_more 0 "${pretrain[@]}" --steps 6
contains pretrain_more "$work/pretrain_more.out" '"resumed": true'
check pretrain_model 0 "$cli" inspect "$work/pre/model"
check export_pretrain 2 "$cli" export "$work/pre" --model "$work/pre/model" --out "$work/x" --quiet
contains export_pretrain "$work/export_pretrain.err" "not a conversion training checkpoint"

# Evaluation: two models side by side (the MHA and its GQA-2 alignment share the tokenizer).
cat > "$work/task.jsonl" <<'JSONL'
{"question": "Where did the dog run?", "choices": ["to the garden", "on the mat"], "answer": 0}

{"question": "What sat on the mat?", "choices": ["the cat", "the dog", "the garden"], "answer": "the cat"}
JSONL
check eval 0 "$cli" eval "$work/mha" "$work/gqa2" --text-file "$work/words.txt" --max-tokens 64 --context 16 --stride 8 \
    --tasks "$work/task.jsonl" --decode-contexts 8,600 --decode-steps 2 --csv "$work/eval.csv" --quiet
contains eval "$work/eval.out" "context 16, stride 8"
contains eval "$work/eval.out" "task acc_norm"
contains eval "$work/eval.out" "tok/s@600"
contains eval "$work/eval.out" "warning: decode context 600"
contains eval "$work/eval.csv" "model,folder,kv_heads,kv_cache_bytes_per_token,parameters,perplexity"
contains eval "$work/eval.csv" "^gqa2,.*,2,256,"
check eval_json 0 "$cli" eval "$work/mha" "$work/gqa2" --tasks "$work/task.jsonl" --decode-contexts 8 --decode-steps 2 --json --quiet
contains eval_json "$work/eval_json.out" '"kv_cache_bytes_per_token": 512'
contains eval_json "$work/eval_json.out" '"n": 2'
printf '%s\n' '{"question": "q", "choices": ["a", "b"], "answer": 0}' '{"question": "q", "choices": ["a"], "answer": 0}' > "$work/badtask.jsonl"
check eval_bad_task 2 "$cli" eval "$work/mha" --tasks "$work/badtask.jsonl" --quiet
contains eval_bad_task "$work/eval_bad_task.err" "badtask.jsonl:2"
check eval_no_model 2 "$cli" eval --decode-contexts 8

# The memory plan of a 7B-shaped conversion, from its config.json alone (method §10):
# GQA-8, bfloat16, 2048 tokens, micro-batch 8 fits one 80 GB GPU.
config7b="$(dirname "$0")/../../resources/configs/llama-2-7b-shaped.json"
check dry_run_7b 0 "$cli" train "$work/plan7b" --model-config "$config7b" --kv-heads 8 --dry-run \
    --dtype bfloat16 --seq-len 2048 --batch 8 --device cuda --json
total=$(sed -n 's/.*"total_bytes": *\([0-9.e+]*\).*/\1/p' "$work/dry_run_7b.out" | head -1)
if awk -v t="$total" 'BEGIN { exit !(t > 1e9 && t < 80e9) }'; then echo "ok   dry_run_7b_under_80GB ($total bytes)"
else echo "FAIL dry_run_7b_under_80GB: total_bytes '$total'"; failures=$((failures + 1)); fi
[ -e "$work/plan7b" ] && { echo "FAIL dry_run_7b wrote $work/plan7b"; failures=$((failures + 1)); }
check dry_run_trained_model 0 "$cli" train "$work/plan-mha" --model "$work/aligned" --kv-heads 2 --dry-run
contains dry_run_trained_model "$work/dry_run_trained_model.out" "trainable"

# Bad input: exit code 2 and a message naming the problem.
check unknown_command 2 "$cli" frobnicate
check unknown_option 2 "$cli" inspect "$work/mha" --frob
contains unknown_option "$work/unknown_option.err" "unknown option '--frob'"
check missing_folder 2 "$cli" inspect "$work/does-not-exist"
printf 'garbage' > "$work/mha/model.safetensors"
check corrupt_weights 2 "$cli" inspect "$work/mha"
contains corrupt_weights "$work/corrupt_weights.err" "model.safetensors"
echo '{"model_type": "bert"}' > "$work/gqa/config.json"
check non_llama 2 "$cli" inspect "$work/gqa"
contains non_llama "$work/non_llama.err" "model_type"
check bad_rdb 2 "$cli" prepare-corpus --rdb "$work/words.txt" --out "$work/text"
check bad_integer 2 "$cli" perplexity "$work/gqa" --ids-file "$work/ids.txt" --context abc

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
