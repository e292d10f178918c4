// SPDX-License-Identifier: GPL-3.0-or-later
#include "headstatisticsstore.h"

#include "alignment/alignment.h"
#include "base/error.h"
#include "analysis/grouping.h"
#include "alignment/leastsquaresmerge.h"
#include "alignment/mergedgqa.h"

namespace gqa {

Grouping toCore(const QVector<QVector<int>>& groups) {
    Grouping out;
    for (const auto& g : groups) out.emplace_back(g.begin(), g.end());
    return out;
}

QVector<QVector<int>> toValues(const Grouping& groups) {
    QVector<QVector<int>> out;
    for (const auto& g : groups) {
        QVector<int> members;
        for (std::int64_t h : g) members << int(h);
        out << members;
    }
    return out;
}

MergeCostValues toValues(const MergeCost& cost) {
    return {cost.keyResidual, cost.valueResidual, cost.keyRelative, cost.valueRelative};
}

QVector<double> toValues(const torch::Tensor& matrix) {
    const torch::Tensor m = matrix.to(torch::kCPU, torch::kFloat64).contiguous();
    const double* data = m.data_ptr<double>();
    return QVector<double>(data, data + m.numel());
}

LayerGrouping toValues(const GroupingChoice& choice) {
    LayerGrouping out;
    out.groups = toValues(choice.grouping);
    out.objective = choice.objective;
    out.consecutiveObjective = choice.consecutiveObjective;
    out.exact = choice.exact;
    out.aligned = toValues(choice.alignedCost);
    out.baseline = toValues(choice.baselineCost);
    out.leastSquares = toValues(choice.leastSquaresCost);
    return out;
}

double groupingObjectiveOf(const HeadStatisticsStore& store, int layer,
                           const GroupingDriver& driver, const QVector<QVector<int>>& groups) {
    const Grouping g = toCore(groups);
    validateGrouping(g, store.heads());
    return groupingObjective(store.similarity(layer, driver), g);
}

LayerGrouping evaluateGrouping(const HeadStatisticsStore& store, int layer,
                               const GroupingDriver& driver, const QVector<QVector<int>>& groups) {
    const Grouping g = toCore(groups);
    validateGrouping(g, store.heads());
    const auto count = std::int64_t(g.size());
    const torch::Tensor& similarity = store.similarity(layer, driver);
    const LayerStatistics& stats = store.layers.at(std::size_t(layer));
    LayerGrouping out;
    out.groups = groups;
    out.objective = groupingObjective(similarity, g);
    out.consecutiveObjective =
        groupingObjective(similarity, consecutiveGrouping(store.heads(), count));
    if (count < store.heads()) {  // G = H (MHA) merges nothing: both costs stay zero
        AlignmentConfig align;
        align.criterion = driver.criterion;
        const LayerStatistics aligned = alignedStatistics(stats, alignLayer(stats, g, align));
        out.aligned = toValues(predictMergeCost(aligned, count));
        out.leastSquares = toValues(predictLeastSquaresMergeCost(aligned, count));
        out.baseline = toValues(predictMergeCost(stats, count));
    }
    return out;
}

GroupingData computeGrouping(const HeadStatisticsStore& store, int groups,
                             const GroupingDriver& driver, const std::function<bool()>& keepGoing) {
    if (driver == store.driver)
        for (const GroupingData& g : store.precomputed)
            if (g.groups == groups) return g;
    const std::int64_t heads = store.heads();
    if (groups < 1 || heads % groups != 0)
        throw InputError(std::to_string(groups) + " KV heads does not divide " +
                         std::to_string(heads) + " heads");
    GroupingData out;
    out.groups = groups;
    out.driver = driver;
    const AnalysisConfig defaults;
    for (std::size_t l = 0; l < store.layers.size(); ++l) {
        if (keepGoing && !keepGoing()) throw Cancelled("grouping search");
        Grouping found;
        bool exact = true;
        if (groups == heads) {
            for (std::int64_t h = 0; h < heads; ++h) found.push_back({h});
        } else {
            GroupSearchConfig search;
            search.groups = groups;
            search.method = defaults.method;
            search.restarts = defaults.restarts;
            search.iterations = defaults.iterations;
            search.seed = defaults.seed + l;
            const GroupSearchResult r = searchGrouping(store.similarity(int(l), driver), search);
            found = r.groups;
            exact = r.exact;
        }
        LayerGrouping layer = evaluateGrouping(store, int(l), driver, toValues(found));
        layer.exact = exact;
        out.layers << layer;
    }
    return out;
}

}  // namespace gqa
