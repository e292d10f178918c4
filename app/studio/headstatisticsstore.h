// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's private bridge between core's tensors and the panels' plain values: the immutable
// calibration statistics and after-alignment similarity matrices an analysis produced (shared by
// the background grouping jobs), and the conversions core result -> value type. Only .cpp files
// include this header (it pulls in torch); everything else sees HeadStatisticsStore as opaque.

#include <array>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "analysis/headanalysis.h"
#include "headanalysisdata.h"
#include "analysis/headstatistics.h"

namespace gqa {

struct HeadStatisticsStore {
    std::vector<LayerStatistics> layers;
    /// [layer][HeadKind][Criterion]: [H, H] float64 after-alignment similarity.
    std::vector<std::array<std::array<torch::Tensor, 2>, 2>> after;
    /// analyzeHeads' groupings (one per G below the head count) under `driver`.
    QVector<GroupingData> precomputed;
    GroupingDriver driver;

    std::int64_t heads() const { return layers.empty() ? 0 : layers.front().values.heads; }
    const torch::Tensor& similarity(int layer, const GroupingDriver& d) const {
        return after.at(std::size_t(layer))[int(d.kind)][int(d.criterion)];
    }
};

Grouping toCore(const QVector<QVector<int>>& groups);
QVector<QVector<int>> toValues(const Grouping& groups);
MergeCostValues toValues(const MergeCost& cost);
/// A float64-convertible [H, H] tensor as n x n row-major values.
QVector<double> toValues(const torch::Tensor& matrix);
LayerGrouping toValues(const GroupingChoice& choice);

/// The grouping objective (core groupingObjective) of `groups` in `layer` under `driver`;
/// InputError for an invalid grouping.
double groupingObjectiveOf(const HeadStatisticsStore& store, int layer,
                           const GroupingDriver& driver, const QVector<QVector<int>>& groups);
/// Objective, consecutive objective and predicted merge cost (aligned and mean-pool baseline) of
/// a given grouping of one layer.
LayerGrouping evaluateGrouping(const HeadStatisticsStore& store, int layer,
                               const GroupingDriver& driver, const QVector<QVector<int>>& groups);
/// Every layer's best grouping for `groups` KV heads under `driver`: analyzeHeads' own result when
/// it was computed for that driver, else a fresh search (same method and seeds as analyzeHeads).
/// `keepGoing` is polled between layers; when it answers false, Cancelled is thrown.
GroupingData computeGrouping(const HeadStatisticsStore& store, int groups,
                             const GroupingDriver& driver, const std::function<bool()>& keepGoing);

}  // namespace gqa
