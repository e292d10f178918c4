// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The memory and time estimate of a conversion run, shown by the wizard before it starts.
//
// Memory: core's planTraining (trainingestimate.h), the trainer's own tensors counted from the
// config alone and checked against measured peaks on the demo model; grouped here for display
// as weights (loaded checkpoint, frozen weights, trainable masters, compute copies), optimiser
// state (gradients, AdamW), teacher, and activations (gated K/V weights, kept activations and
// the working set of the phase where the peak falls).
//
// Time: planTraining's FLOPs per update divided by an effective rate.
//   CPU   measured: docs/benchmarks.md, "Throughput and memory": the demo model trained at 845
//         tokens/s in float32 and 2043 tokens/s in bfloat16 on 2 CPU cores (whole model trained,
//         no activation checkpointing, batch 8 x 256, G = 2). planTraining counts the FLOPs per
//         token of that setting; rate = tokens/s x FLOPs/token. Assumed: the same FLOP rate for
//         other models and settings on the same 2 cores (lower bounds: it was measured with
//         another build running).
//   CUDA  not measured (no GPU was available for a benchmark): assumed 1e14 FLOP/s, about 10%
//         of an H100's dense bfloat16 peak, for an unfused attention with float32 softmax and
//         logits. The wizard says it is an assumption.
// "auto" is counted as cpu.

#include <QString>

#include "training/trainingestimate.h"

namespace gqa {

struct ModelConfig;

struct ConversionEstimate {
    TrainingPlan plan;
    double weightBytes = 0.0;
    double optimizerBytes = 0.0;
    double teacherBytes = 0.0;
    double activationBytes = 0.0;
    double flopsPerSecond = 0.0;  ///< the effective rate used for the time
    bool measuredRate = false;    ///< CPU: measured on the demo; CUDA: assumed
    double tokensPerSecond = 0.0;
    double seconds = 0.0;
    double totalBytes() const { return plan.totalBytes(); }
};

/// `compute` F32 or BF16; `device` as core's parseDevice reads it ("cuda:1" and, with CUDA
/// present, "auto" plan for a GPU); `separateTeacher`: a teacher folder other than the model's;
/// `refitsQueries`: the least-squares start (its refitted q/o train too). InputError for a
/// device that is not one.
ConversionEstimate estimateConversion(const ModelConfig& config, int groups, int steps,
                                      int batchSize, int seqLen, DType compute,
                                      const QString& device, bool separateTeacher = false,
                                      bool refitsQueries = false);

/// "1.2 GiB", "340 MiB".
QString formatBytes(double bytes);
/// "45 s", "12 min", "3.5 h".
QString formatDuration(double seconds);

}  // namespace gqa
