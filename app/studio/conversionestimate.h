// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A rough memory and time estimate of a conversion run, shown by the wizard before it starts.
// Both are estimates, not measurements.
//
// Memory (bytes), with P the parameter count (ModelConfig::parameterCount), L layers, D hidden
// size, I MLP size, H heads, V vocabulary, B batch, T sequence length:
//   student weights   4 P                 (float32 master weights)
//   AdamW state       12 P                (gradient + first + second moment, 3 x float32, all
//                                          parameters are trainable)
//   teacher weights   4 P                 (a second model of the same shape)
//   activations       c B T (L (6 D + 2 I + H T) + 2 V), c = 4 bytes in float32, 2 in bfloat16
//                     (kept for backward: per layer the normed inputs, q, k, v, attention
//                     output, residual, the MLP's gate/up, and the attention probabilities;
//                     then logits of student and teacher)
// Time: the rule of thumb of docs/benchmarks.md, the demo model (about 5.87 M parameters)
// trains at ~845 tokens/s in float32 and ~2043 tokens/s in bfloat16 on 2 CPU cores; throughput
// is scaled by demo parameters / P. A GPU is assumed 20x faster than those 2 cores (a guess).
// seconds = steps * B * T / tokens per second.

#include <cstdint>

#include <QString>

namespace gqa {

struct ModelConfig;

struct ConversionEstimate {
    double studentBytes = 0.0;
    double optimizerBytes = 0.0;
    double teacherBytes = 0.0;
    double activationBytes = 0.0;
    double tokensPerSecond = 0.0;
    double seconds = 0.0;
    double totalBytes() const {
        return studentBytes + optimizerBytes + teacherBytes + activationBytes;
    }
};

/// `dtype` "float32" or "bfloat16"; `device` "cpu", "cuda" or "auto" (counted as cpu).
ConversionEstimate estimateConversion(const ModelConfig& config, int steps, int batchSize,
                                      int seqLen, const QString& dtype, const QString& device);

/// "1.2 GiB", "340 MiB".
QString formatBytes(double bytes);
/// "45 s", "12 min", "3.5 h".
QString formatDuration(double seconds);

}  // namespace gqa
