// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/metrics.h"

#include <algorithm>

namespace gqa {

const std::vector<MetricInfo>& allMetrics() {
    static const std::vector<MetricInfo> table{
        {Metric::Step, "step", "update", ""},
        {Metric::Loss, "loss", "total loss", "nats"},
        {Metric::Kl, "kl", "KL to the teacher", "nats"},
        {Metric::Bild, "bild", "BiLD loss", "nats"},
        {Metric::Lm, "lm", "language-model loss", "nats"},
        {Metric::Regularizer, "regularizer", "sparsity regulariser", ""},
        {Metric::Sparsity, "sparsity", "expected sparsity", ""},
        {Metric::TargetSparsity, "target_sparsity", "target sparsity", ""},
        {Metric::LearningRate, "lr", "learning rate", ""},
        {Metric::GateLearningRate, "lr_gates", "gate learning rate", ""},
        {Metric::GradNorm, "grad_norm", "gradient norm", ""},
        {Metric::TokensPerSecond, "tokens_per_s", "tokens per second", "tokens/s"},
        {Metric::MemoryMb, "memory_mb", "peak process memory", "MB"},
        {Metric::TensorMemoryMb, "tensor_memory_mb", "peak tensor memory", "MiB"},
        {Metric::ValidationLoss, "val_loss", "validation loss", "nats"},
        {Metric::Lambda1, "lambda1", "multiplier λ1", ""},
        {Metric::Lambda2, "lambda2", "multiplier λ2", ""},
    };
    return table;
}

const MetricInfo& metricInfo(Metric metric) {
    const auto& table = allMetrics();
    return *std::find_if(table.begin(), table.end(),
                         [metric](const MetricInfo& m) { return m.metric == metric; });
}

const char* metricKey(Metric metric) { return metricInfo(metric).key; }
const char* metricLabel(Metric metric) { return metricInfo(metric).label; }

std::optional<Metric> metricFromKey(const std::string& key) {
    for (const MetricInfo& m : allMetrics())
        if (key == m.key) return m.metric;
    return std::nullopt;
}

const char* stageText(Stage stage) {
    switch (stage) {
        case Stage::LoadingModels:
            return "loading models";
        case Stage::ConversionTraining:
            return "conversion training";
        case Stage::Pretraining:
            return "pretraining";
    }
    return "";
}

}  // namespace gqa
