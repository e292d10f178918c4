// SPDX-License-Identifier: GPL-3.0-or-later
#include "conversionestimate.h"

#include <algorithm>

#include "base/runtime.h"
#include "io/modelconfig.h"

namespace gqa {
namespace {
// docs/benchmarks.md, "Conversion training / Throughput and memory": the demo model on 2 CPU
// cores, whole model trained, no activation checkpointing, batch 8 x 256, G = 2.
constexpr double kDemoTokensPerSecondF32 = 845.0;
constexpr double kDemoTokensPerSecondBf16 = 2043.0;
constexpr int kDemoBenchmarkGroups = 2;
constexpr int kDemoBenchmarkBatch = 8;
constexpr int kDemoBenchmarkSeqLen = 256;
/// No GPU measurement yet: about 10% of an H100's dense bfloat16 peak (989 TFLOP/s).
constexpr double kAssumedGpuFlopsPerSecond = 1e14;

/// resources/models/demo/config.json
ModelConfig demoConfig() {
    ModelConfig c;
    c.vocabSize = 4096;
    c.hiddenSize = 256;
    c.intermediateSize = 704;
    c.numLayers = 6;
    c.numHeads = 8;
    c.numKvHeads = 8;
    c.headDim = 32;
    c.tieWordEmbeddings = true;
    c.dtype = DType::BF16;
    return c;
}

/// The demo benchmark's rate converted to FLOP/s by planTraining's own FLOP count.
double measuredCpuFlopsPerSecond(DType compute) {
    TrainingShape shape;
    shape.groups = kDemoBenchmarkGroups;
    shape.scope = TrainScope::All;
    shape.compute = compute;
    shape.batchSize = kDemoBenchmarkBatch;
    shape.seqLen = kDemoBenchmarkSeqLen;
    shape.checkpointActivations = false;
    shape.cpu = true;
    const TrainingPlan plan = planTraining(demoConfig(), shape, 0.0);
    const double tokensPerSecond =
        compute == DType::BF16 ? kDemoTokensPerSecondBf16 : kDemoTokensPerSecondF32;
    return tokensPerSecond * plan.flopsPerUpdate / plan.tokensPerUpdate;
}
}  // namespace

ConversionEstimate estimateConversion(const ModelConfig& config, int groups, int steps,
                                      int batchSize, int seqLen, DType compute,
                                      const QString& device, bool separateTeacher,
                                      bool refitsQueries) {
    ConversionEstimate e;
    TrainingShape shape;
    shape.groups = groups;
    shape.compute = compute == DType::BF16 ? DType::BF16 : DType::F32;
    shape.batchSize = batchSize;
    shape.seqLen = seqLen;
    shape.steps = steps;
    shape.separateTeacher = separateTeacher;
    shape.refitsQueries = refitsQueries;
    // Core's one device parser: "cuda:1" is a GPU, "auto" is one when CUDA is available.
    shape.cpu = !plansCuda(device.toStdString());
    e.measuredRate = shape.cpu;
    e.flopsPerSecond =
        shape.cpu ? measuredCpuFlopsPerSecond(shape.compute) : kAssumedGpuFlopsPerSecond;
    e.plan = planTraining(config, shape, e.flopsPerSecond);
    for (const MemoryItem& item : e.plan.memory) {
        switch (item.category) {
            case MemoryCategory::Weights:
                e.weightBytes += item.bytes;
                break;
            case MemoryCategory::Optimizer:
                e.optimizerBytes += item.bytes;
                break;
            case MemoryCategory::Teacher:
                e.teacherBytes += item.bytes;
                break;
            case MemoryCategory::Activations:
                e.activationBytes += item.bytes;
                break;
        }
    }
    e.seconds = e.plan.totalSeconds;
    e.tokensPerSecond =
        e.plan.secondsPerUpdate > 0.0 ? e.plan.tokensPerUpdate / e.plan.secondsPerUpdate : 0.0;
    return e;
}

QString formatBytes(double bytes) {
    if (bytes >= 1024.0 * 1024.0 * 1024.0)
        return QStringLiteral("%1 GiB").arg(bytes / (1024.0 * 1024.0 * 1024.0), 0, 'f', 1);
    if (bytes >= 1024.0 * 1024.0)
        return QStringLiteral("%1 MiB").arg(bytes / (1024.0 * 1024.0), 0, 'f', 0);
    return QStringLiteral("%1 KiB").arg(bytes / 1024.0, 0, 'f', 0);
}

QString formatDuration(double seconds) {
    if (seconds < 1.0) return QStringLiteral("under 1 s");
    if (seconds < 90.0) return QStringLiteral("%1 s").arg(seconds, 0, 'f', 0);
    if (seconds < 5400.0) return QStringLiteral("%1 min").arg(seconds / 60.0, 0, 'f', 0);
    return QStringLiteral("%1 h").arg(seconds / 3600.0, 0, 'f', 1);
}

}  // namespace gqa
