// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Prints a conversion training's plan (trainingestimate.h) before a run, or instead of one with
// `gqa-cli train --dry-run`: the model and run shape, trainable and frozen parameter counts, the
// memory per rank item by item at the estimated peak (and the phase it falls in, with every
// phase's total), host memory on a GPU, tokens and FLOPs per update, and the time per update
// and in total when a rate is known.
//
// Table form: one line per item, bytes in GiB from 1 GiB on and in MiB below. JSON form (--json):
//   {"model": {...}, "shape": {...}, "trainable_parameters": n, "frozen_parameters": n,
//    "memory": [{"name", "bytes", "detail"}...], "total_bytes", "peak_phase",
//    "phases": [{"name", "bytes"}...], "host_memory": [...], "host_bytes",
//    "tokens_per_update", "flops_per_update", "seconds_per_update", "total_seconds"}
// (the seconds are null when no rate is known).

#include <cstdio>

#include "io/modelconfig.h"
#include "training/trainingestimate.h"

namespace gqa::cli {

void printTrainingPlan(const ModelConfig& model, const TrainingShape& shape,
                       const TrainingPlan& plan, bool json, std::FILE* out);

}  // namespace gqa::cli
