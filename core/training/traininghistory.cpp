// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/traininghistory.h"

#include <algorithm>

#include "base/error.h"

namespace gqa {

void TrainingHistory::append(const std::vector<std::pair<std::string, double>>& metrics,
                             const std::vector<double>& gateValues) {
    if (metricNames.empty() && rows.empty())
        for (const auto& m : metrics) metricNames.push_back(m.first);
    if (metrics.size() != metricNames.size())
        throw Error("training history: metrics changed during the run");
    std::vector<double> row;
    for (std::size_t i = 0; i < metrics.size(); ++i) {
        if (metrics[i].first != metricNames[i])
            throw Error("training history: metric " + metrics[i].first + " out of order");
        row.push_back(metrics[i].second);
    }
    if (std::int64_t(gateValues.size()) != layers * heads)
        throw Error("training history: wrong number of gate values");
    rows.push_back(std::move(row));
    gates.push_back(gateValues);
}

void TrainingHistory::truncate(std::int64_t steps) {
    if (steps < size()) {
        rows.resize(std::size_t(steps));
        gates.resize(std::size_t(steps));
    }
}

std::vector<double> TrainingHistory::column(const std::string& name) const {
    const auto it = std::find(metricNames.begin(), metricNames.end(), name);
    if (it == metricNames.end()) return {};
    const std::size_t c = std::size_t(it - metricNames.begin());
    std::vector<double> out;
    for (const auto& row : rows) out.push_back(row[c]);
    return out;
}

std::map<std::string, torch::Tensor> TrainingHistory::toTensors() const {
    const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
    const std::int64_t n = size(), m = std::int64_t(metricNames.size());
    torch::Tensor metrics = torch::empty({n, m}, opts);
    torch::Tensor gateTensor = torch::empty({n, layers, heads}, opts);
    auto mp = metrics.accessor<double, 2>();
    auto gp = gateTensor.accessor<double, 3>();
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < m; ++j) mp[i][j] = rows[i][j];
        for (std::int64_t l = 0; l < layers; ++l)
            for (std::int64_t h = 0; h < heads; ++h) gp[i][l][h] = gates[i][l * heads + h];
    }
    return {{"history.metrics", metrics}, {"history.gates", gateTensor}};
}

TrainingHistory TrainingHistory::fromTensors(const std::map<std::string, torch::Tensor>& tensors,
                                             const std::vector<std::string>& metricNames,
                                             std::int64_t layers, std::int64_t heads) {
    TrainingHistory h;
    h.metricNames = metricNames;
    h.layers = layers;
    h.heads = heads;
    const auto m = tensors.find("history.metrics"), g = tensors.find("history.gates");
    if (m == tensors.end() || g == tensors.end()) return h;
    const torch::Tensor metrics = m->second.to(torch::kFloat64).contiguous();
    const torch::Tensor gateTensor = g->second.to(torch::kFloat64).contiguous();
    const std::int64_t n = metrics.size(0);
    if (metrics.dim() != 2 || metrics.size(1) != std::int64_t(metricNames.size()) ||
        gateTensor.dim() != 3 || gateTensor.size(0) != n || gateTensor.size(1) != layers ||
        gateTensor.size(2) != heads)
        throw InputError("the stored training history does not match this run's shape");
    const double* mp = metrics.data_ptr<double>();
    const double* gp = gateTensor.data_ptr<double>();
    const std::int64_t mw = metrics.size(1), gw = layers * heads;
    for (std::int64_t i = 0; i < n; ++i) {
        h.rows.emplace_back(mp + i * mw, mp + (i + 1) * mw);
        h.gates.emplace_back(gp + i * gw, gp + (i + 1) * gw);
    }
    return h;
}

}  // namespace gqa
