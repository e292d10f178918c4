// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The names of training metrics and of the stages that progress reports carry, declared once.
//
// A metric's key is what training writes into progress updates, checkpoints and the run file
// (docs/run-file.md), so keys are never renamed; its label is what people read in the studio's
// legends, the report and the CLI. Plots, the report and tests ask for Metric values, not
// strings, so a misspelt name is a compile error instead of a silently empty curve.
// Torch- and Qt-free: the studio and widgets include it.

#include <optional>
#include <string>
#include <vector>

namespace gqa {

enum class Metric {
    Step,
    Loss,
    Kl,
    Bild,
    Lm,
    Regularizer,
    Sparsity,
    TargetSparsity,
    LearningRate,
    GateLearningRate,
    GradNorm,
    TokensPerSecond,
    MemoryMb,
    TensorMemoryMb,
    ValidationLoss,
    Lambda1,  ///< hard-concrete gates' Lagrange multipliers (method §6.3)
    Lambda2,
};

struct MetricInfo {
    Metric metric;
    const char* key;    ///< stored name, e.g. "tokens_per_s"
    const char* label;  ///< readable name, e.g. "tokens per second"
    const char* unit;   ///< "" when dimensionless
};

const MetricInfo& metricInfo(Metric metric);
/// The stored name; `std::string(metricKey(m))` where a string is needed.
const char* metricKey(Metric metric);
const char* metricLabel(Metric metric);
/// Inverse of metricKey; nullopt for names no build of this program wrote.
std::optional<Metric> metricFromKey(const std::string& key);
/// Every metric, in declaration order.
const std::vector<MetricInfo>& allMetrics();

/// Stages of long operations whose text front ends react to (the rest are free text).
enum class Stage { LoadingModels, ConversionTraining, Pretraining };
const char* stageText(Stage stage);

/// Names of arrays in progress updates.
constexpr const char* kGatesArray = "gates";  ///< layer-major gate values of a training update

}  // namespace gqa
