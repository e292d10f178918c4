#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One ready GPU check, run on a GPU machine (no network, no -dev packages; cmake, ninja or make, a
# C++ compiler, CUDA and a pip torch 2.x) with the folder scripts/gpu-bundle.sh made:
#
#   bash BUNDLE/source/scripts/gpu-check.sh BUNDLE OUTDIR [--torch-dir DIR] [--jobs N]
#                                                        [--build-dir DIR] [--steps N]
#
# LibTorch: --torch-dir DIR (or $TORCH_DIR / $Torch_DIR: the folder holding TorchConfig.cmake),
# else the Python package (python3 -c 'import torch'; $GQA_PYTHON names another interpreter).
# Steps, each logged to OUTDIR/<step>.log and summed up in OUTDIR/summary.txt; a failed step is
# recorded and the script goes on (steps that need its result are then skipped, saying so):
#
#   environment   GPUs (nvidia-smi), compiler, cmake, torch (version, CUDA, C++ ABI)
#   configure     headless build (no Qt) against the bundle; the libraries CMake found
#   build         gqa-cli, the core tests, the Gloo worker, the demo text
#   version       gqa-cli --version (attention kernel, NCCL)
#   issue-tests   the attention kernel and communicator tests (CPU parts run everywhere)
#   cuda-tests    every *_CUDA test of the core suite                          [CUDA only]
#   convert       the demo model to 2 KV heads (gqa-cli convert): calibrate, align, train, export
#   plan-vs-peak  train --dry-run's plan against the measured peak tensor memory, and tokens/s,
#                 for each attention kernel (matmul is what the plan models; sdpa needs torch 2)
#   nccl          a 2-process train --nproc 2 over NCCL                       [2+ GPUs only]
#
# Without CUDA the CUDA steps are skipped with the reason, and convert/plan-vs-peak run on the CPU
# in float32 with a smaller budget, so that the script itself can be rehearsed anywhere.
# Exit code: 0 when no step failed, 1 otherwise.
set -uo pipefail

usage() { sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
bundle=$(cd "$1" && pwd) || usage
out=$2
shift 2
torch_dir=${TORCH_DIR:-${Torch_DIR:-}}
jobs=$(nproc)
build=""
steps=""
while [ $# -gt 0 ]; do
    case "$1" in
        --torch-dir) torch_dir=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --build-dir) build=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        *) usage ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=${build:-$out/build}
src=$bundle/source
cli=$build/bin/gqa-cli
tests=$build/bin/gqa_core_tests
text=$build/share/gqa-studio/text
summary=$out/summary.txt
python=${GQA_PYTHON:-python3}
# Time limits per step (seconds): a hung step must not eat the machine's whole lease.
readonly kConfigureLimit=900 kBuildLimit=5400 kTestLimit=1800 kRunLimit=1800

: >"$summary"
failures=0
note() { echo "$*" | tee -a "$summary"; }
# record STEP STATUS DETAIL: one line per step in the summary.
record() {
    printf '%-13s %-5s %s\n' "$1" "$2" "$3" | tee -a "$summary"
    [ "$2" = FAIL ] && failures=$((failures + 1))
    return 0
}
# run STEP LIMIT COMMAND...: runs with a time limit, output to OUTDIR/STEP.log; returns its status.
run() {
    local step=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$out/$step.log" 2>&1
    local rc=$?
    last_seconds=$((SECONDS - start))
    [ $rc -eq 124 ] && echo "(timed out after $limit s)" >>"$out/$step.log"
    return $rc
}
# run_json STEP LIMIT JSON COMMAND...: as run, with stdout (the command's --json) into JSON.
run_json() {
    local step=$1 limit=$2 json=$3
    shift 3
    local start=$SECONDS
    timeout "$limit" "$@" >"$json" 2>"$out/$step.log"
    local rc=$?
    last_seconds=$((SECONDS - start))
    [ $rc -eq 124 ] && echo "(timed out after $limit s)" >>"$out/$step.log"
    return $rc
}
pyjson() { "$python" -c "$1" "${@:2}" 2>>"$out/python-errors.log"; }

note "gqa-studio GPU check, $(date -u +%Y-%m-%dT%H:%MZ), host $(hostname)"
note "bundle: $bundle ($(head -2 "$bundle/MANIFEST.txt" 2>/dev/null | tail -1))"
note "build folder: $build"

# --- environment -------------------------------------------------------------------------------
{
    echo "## GPUs"
    nvidia-smi 2>&1 || echo "nvidia-smi: not available"
    echo "## compiler"; c++ --version 2>&1 | head -1
    echo "## cmake"; cmake --version 2>&1 | head -1
    echo "## ninja"; ninja --version 2>&1 || echo "no ninja: Unix Makefiles"
    echo "## glibc"; ldd --version 2>&1 | head -1
    echo "## torch (Python)"
    "$python" -c 'import torch, sys
print("version", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "devices", torch.cuda.device_count())
print("cxx11_abi", torch._C._GLIBCXX_USE_CXX11_ABI)
print("cmake_prefix_path", torch.utils.cmake_prefix_path)' 2>&1 || echo "no Python torch"
} >"$out/environment.log" 2>&1
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
gpus=${gpus:-0}
torch_line=$(grep '^version' "$out/environment.log" || echo "no Python torch")
record environment ok "$gpus GPU(s) by nvidia-smi; python torch: $torch_line"

# The bundled libraries use the C++11 string ABI: a torch built with the old one cannot link them.
abi=$(grep '^cxx11_abi' "$out/environment.log" | awk '{print $2}')
abi_problem=""
if [ -z "$torch_dir" ] && [ "$abi" = False ]; then
    abi_problem="pip torch uses the pre-C++11 string ABI (torch < 2.7): the bundle's HDF5 C++ and GoogleTest libraries cannot link with it; install torch >= 2.7, or pass --torch-dir to a cxx11-abi LibTorch"
fi

# --- configure -----------------------------------------------------------------------------------
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
torch_args=(-DGQA_TORCH_FROM_PYTHON=ON "-DGQA_PYTHON=$python")
[ -n "$torch_dir" ] && torch_args=("-DTorch_DIR=$torch_dir" -DGQA_TORCH_FROM_PYTHON=OFF)
configured=no
if [ -n "$abi_problem" ]; then
    record configure FAIL "$abi_problem"
elif run configure "$kConfigureLimit" cmake -S "$src" -B "$build" "${generator[@]}" \
    -C "$bundle/prefix/gqa-bundle.cmake" -DCMAKE_BUILD_TYPE=Release -DGQA_BUILD_STUDIO=OFF \
    "-DGQA_CORPUS_RDB=$src/data/corpus/janeaustenr/Rdata.rdb" "${torch_args[@]}"; then
    configured=yes
    record configure ok "${last_seconds} s"
else
    record configure FAIL "see configure.log"
fi
grep -h '^-- GQA:' "$out/configure.log" 2>/dev/null | sed 's/^-- /  /' | tee -a "$summary"

# --- build -----------------------------------------------------------------------------------------
built=no
if [ $configured = no ]; then
    record build skip "not configured"
else
    targets=(gqa-cli gqa_core_tests gqa_gloo_worker gqa_spm)
    [ -f "$src/data/corpus/janeaustenr/Rdata.rdb" ] && targets+=(gqa_demo_text)
    if run build "$kBuildLimit" nice cmake --build "$build" -j "$jobs" --target "${targets[@]}"; then
        built=yes
        record build ok "${last_seconds} s (-j $jobs)"
    else
        record build FAIL "see build.log: $(grep -m1 -E 'error|Error' "$out/build.log" | cut -c1-200)"
    fi
fi

cuda=no
cuda_reason="not built"
if [ $built = yes ]; then
    if run version 60 "$cli" --version; then
        record version ok "$(tr '\n' ' ' <"$out/version.log")"
        if grep -q "CUDA available" "$out/version.log"; then
            cuda=yes
        elif [ "$gpus" -gt 0 ]; then
            cuda_reason="nvidia-smi lists $gpus GPU(s) but this LibTorch sees no CUDA (a CPU build, or a driver it cannot use)"
        else
            cuda_reason="no CUDA device on this machine"
        fi
    else
        record version FAIL "gqa-cli --version failed (see version.log)"
        cuda_reason="gqa-cli does not start"
    fi
fi
if [ $cuda = yes ]; then note "CUDA: yes"; else note "CUDA: no ($cuda_reason)"; fi

# --- tests -------------------------------------------------------------------------------------------
if [ $built = yes ]; then
    if run issue-tests "$kTestLimit" "$tests" \
        "--gtest_filter=AttentionKernel.*:NcclCommunicator.*:Communicator.*" \
        "--gtest_output=json:$out/issue-tests.json"; then
        record issue-tests ok "$(grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ test' "$out/issue-tests.log" | tr '\n' ' ')"
    else
        record issue-tests FAIL "$(grep -E '^\[  FAILED  \] [A-Za-z]' "$out/issue-tests.log" | tr '\n' ' ')"
    fi
    # The reason each skipped test gave (the line before its SKIPPED line).
    grep -B1 -E '^\[  SKIPPED \] [A-Za-z]+\.' "$out/issue-tests.log" | grep -v -E '^--|SKIPPED|Skipped$' |
        sed 's/^/  skipped: /' >>"$summary"
else
    record issue-tests skip "not built"
fi
if [ $built = no ]; then
    record cuda-tests skip "not built"
elif [ $cuda = no ]; then
    record cuda-tests skip "$cuda_reason"
elif run cuda-tests "$kTestLimit" "$tests" "--gtest_filter=*_CUDA" \
    "--gtest_output=json:$out/cuda-tests.json"; then
    record cuda-tests ok "$(grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ test' "$out/cuda-tests.log" | tr '\n' ' ')"
else
    record cuda-tests FAIL "$(grep -E '^\[  FAILED  \] [A-Za-z]' "$out/cuda-tests.log" | tr '\n' ' ')"
fi

# --- the demo model -----------------------------------------------------------------------------------
if [ $cuda = yes ]; then
    device=cuda dtype=bfloat16 steps=${steps:-40} batch=8 seq=256 sequences=32
else
    device=cpu dtype=float32 steps=${steps:-4} batch=2 seq=128 sequences=8
fi
demo=$src/resources/models/demo
conversion=$out/convert
# Every run starts fresh: a rerun into the same OUTDIR must measure, not resume a finished run.
rm -rf "$conversion" "$out/plan-run" "$out"/measure-*-run "$out/nccl-run"
converted=no
if [ $built = no ]; then
    record convert skip "not built"
elif [ ! -f "$text/emma.txt" ]; then
    record convert skip "no demo text in $text (the bundle had no data/corpus)"
else
    cat >"$out/convert.json" <<EOF
{
  "model": "$demo",
  "kv_heads": 2,
  "output": "$conversion",
  "calibration": {"files": ["$text/emma.txt"], "sequences": $sequences, "length": $seq},
  "training": {
    "files": ["$text/emma.txt", "$text/pride_and_prejudice.txt"],
    "validation": "$text/persuasion.txt",
    "steps": $steps, "batch": $batch, "seq_len": $seq, "dtype": "$dtype", "device": "$device",
    "eval_every": 0, "checkpoint_every": 0
  }
}
EOF
    if run convert "$kRunLimit" "$cli" convert "$out/convert.json"; then
        converted=yes
        record convert ok "$device $dtype, $steps updates, ${last_seconds} s: $(grep -E '^(converted|held-out)' "$out/convert.log" | tr '\n' ' ' | cut -c1-200)"
    else
        record convert FAIL "$device $dtype: $(tail -1 "$out/convert.log" | cut -c1-200)"
    fi
fi

# --- the memory plan against the measured peak, tokens/s, per attention kernel ---------------------------
aligned=$conversion/aligned-mha
train_args=(--model "$aligned" --kv-heads 2 --train "$text/emma.txt" --steps "$steps" --batch "$batch"
            --seq-len "$seq" --dtype "$dtype" --device "$device" --no-export)
kernels=(matmul)
grep -q "attention kernel: sdpa" "$out/version.log" 2>/dev/null && kernels+=(sdpa)
if [ $converted = no ]; then
    record plan-vs-peak skip "no aligned model (convert did not run)"
elif ! run_json plan "$kRunLimit" "$out/plan.json" "$cli" train "$out/plan-run" "${train_args[@]}" \
    --dry-run --json; then
    record plan-vs-peak FAIL "train --dry-run failed (see plan.log)"
else
    for kernel in "${kernels[@]}"; do
        step=measure-$kernel
        if GQA_ATTENTION=$kernel run_json "$step" "$kRunLimit" "$out/$step.json" "$cli" train \
            "$out/$step-run" "${train_args[@]}" --quiet --json; then
            line=$(pyjson 'import json, sys
plan = json.load(open(sys.argv[1])); run = json.load(open(sys.argv[2]))
planned = plan["total_bytes"] / 2**20; peak = run["peak_tensor_memory_mb"]
print("plan %.0f MiB, measured peak tensors %.0f MiB (%.0f%% of plan), %.0f tokens/s" % (planned, peak, 100 * peak / planned, run["tokens_per_second"]))' \
                "$out/plan.json" "$out/$step.json")
            record "plan-$kernel" ok "$device $dtype: ${line:-see $step.json}"
        else
            record "plan-$kernel" FAIL "$(tail -1 "$out/$step.log" | cut -c1-200)"
        fi
    done
fi

# --- NCCL across two processes ----------------------------------------------------------------------------
if [ $converted = no ]; then
    record nccl skip "no aligned model (convert did not run)"
elif [ $cuda = no ]; then
    record nccl skip "$cuda_reason"
elif [ "$gpus" -lt 2 ]; then
    record nccl skip "needs 2 GPUs, this machine has $gpus"
elif ! grep -q "NCCL: yes" "$out/version.log"; then
    record nccl skip "this build has no NCCL (see the configure lines above)"
elif run_json nccl "$kRunLimit" "$out/nccl.json" "$cli" train "$out/nccl-run" "${train_args[@]}" \
    --nproc 2 --json; then
    record nccl ok "$(grep -m2 -E 'rank [01] of 2' "$out/nccl.log" | tr '\n' ' ')"
else
    record nccl FAIL "$(tail -1 "$out/nccl.log" | cut -c1-200)"
fi

note "failed steps: $failures"
[ $failures -eq 0 ]
