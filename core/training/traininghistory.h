// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The per-update record of a conversion training run: every metric (loss terms, sparsity and its
// target, learning rates, multipliers, tokens/s, memory) and every gate value, one row per
// optimiser update. It travels in training checkpoints (as two tensors) and into the run file, so
// an interrupted run keeps its curves and the studio can plot a finished or unfinished run.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace gqa {

struct TrainingHistory {
    std::vector<std::string> metricNames;   ///< column names, fixed for a run
    std::vector<std::vector<double>> rows;  ///< one per update: metricNames.size() values
    std::int64_t layers = 0, heads = 0;
    std::vector<std::vector<double>> gates;  ///< one per update: layers * heads, layer-major

    std::int64_t size() const { return std::int64_t(rows.size()); }
    /// Appends one update; the metrics must follow metricNames (Error otherwise).
    void append(const std::vector<std::pair<std::string, double>>& metrics,
                const std::vector<double>& gateValues);
    /// Drops updates after `steps` (a rollback to an earlier checkpoint).
    void truncate(std::int64_t steps);
    /// Values of one metric over the updates (empty when unknown).
    std::vector<double> column(const std::string& name) const;

    /// "history.metrics" [N, M] and "history.gates" [N, layers, heads] float64, names in JSON.
    std::map<std::string, torch::Tensor> toTensors() const;
    static TrainingHistory fromTensors(const std::map<std::string, torch::Tensor>& tensors,
                                       const std::vector<std::string>& metricNames,
                                       std::int64_t layers, std::int64_t heads);
};

}  // namespace gqa
