// SPDX-License-Identifier: GPL-3.0-or-later
#include "conversionestimate.h"

#include <algorithm>

#include "modelconfig.h"

namespace gqa {
namespace {
// docs/benchmarks.md, "Conversion training": the demo model on 2 CPU cores.
constexpr double kDemoParameters = 5868800.0;  // 6 x 256, MLP 704, vocabulary 4096, tied
constexpr double kDemoTokensPerSecondF32 = 845.0;
constexpr double kDemoTokensPerSecondBf16 = 2043.0;
constexpr double kGpuSpeedup = 20.0;
}  // namespace

ConversionEstimate estimateConversion(const ModelConfig& config, int steps, int batchSize,
                                      int seqLen, const QString& dtype, const QString& device) {
    ConversionEstimate e;
    const double p = double(config.parameterCount());
    e.studentBytes = 4.0 * p;
    e.optimizerBytes = 12.0 * p;
    e.teacherBytes = 4.0 * p;
    const bool bf16 = dtype == QStringLiteral("bfloat16");
    const double element = bf16 ? 2.0 : 4.0;
    const double b = batchSize, t = seqLen;
    const double perLayer = 6.0 * double(config.hiddenSize) +
                            2.0 * double(config.intermediateSize) + double(config.numHeads) * t;
    e.activationBytes =
        element * b * t * (double(config.numLayers) * perLayer + 2.0 * double(config.vocabSize));
    double rate = bf16 ? kDemoTokensPerSecondBf16 : kDemoTokensPerSecondF32;
    rate *= kDemoParameters / std::max(1.0, p);
    if (device == QStringLiteral("cuda")) rate *= kGpuSpeedup;
    e.tokensPerSecond = rate;
    e.seconds = double(steps) * b * t / rate;
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
