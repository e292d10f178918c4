// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/headanalysis.h"

#include "alignment/leastsquaresmerge.h"
#include "base/error.h"

namespace gqa {

const GroupingChoice& AnalysisResult::choice(std::int64_t layer, std::int64_t groups) const {
    for (const auto& c : layers.at(layer).choices)
        if (c.groups == groups) return c;
    throw InputError("the analysis has no grouping for " + std::to_string(groups) + " KV heads");
}

AnalysisResult analyzeHeads(const std::vector<LayerStatistics>& stats, const AnalysisConfig& config,
                            ProgressSink& progress) {
    if (stats.empty()) throw InputError("no calibration statistics to analyse");
    const std::int64_t heads = stats[0].values.heads;
    std::vector<std::int64_t> counts = config.groupCounts;
    if (counts.empty())
        for (std::int64_t g = 1; g < heads; ++g)
            if (heads % g == 0) counts.push_back(g);
    std::sort(counts.begin(), counts.end());
    for (std::int64_t g : counts)
        if (g < 1 || heads % g != 0)
            throw InputError(std::to_string(g) + " KV heads does not divide " +
                             std::to_string(heads) + " heads");

    AnalysisResult result;
    result.config = config;
    AlignmentConfig align;
    align.criterion = config.criterion;
    for (std::size_t l = 0; l < stats.size(); ++l) {
        LayerAnalysis layer;
        layer.keys = headSimilarity(stats[l].keys, HeadKind::Keys, config.criterion);
        layer.values = headSimilarity(stats[l].values, HeadKind::Values, config.criterion);
        const torch::Tensor& driver =
            config.groupBy == HeadKind::Keys ? layer.keys.after : layer.values.after;
        for (std::int64_t g : counts) {
            GroupSearchConfig search;
            search.groups = g;
            search.method = config.method;
            search.restarts = config.restarts;
            search.iterations = config.iterations;
            search.seed = config.seed + l;
            const GroupSearchResult found = searchGrouping(driver, search);
            GroupingChoice choice;
            choice.groups = g;
            choice.grouping = found.groups;
            choice.objective = found.objective;
            choice.exact = found.exact;
            choice.consecutiveObjective = groupingObjective(driver, consecutiveGrouping(heads, g));
            const LayerAlignment aligned = alignLayer(stats[l], found.groups, align);
            const LayerStatistics alignedStats = alignedStatistics(stats[l], aligned);
            choice.alignedCost = predictMergeCost(alignedStats, g);
            choice.leastSquaresCost =
                predictLeastSquaresMergeCost(alignedStats, g, config.mergedHead);
            choice.baselineCost = predictMergeCost(stats[l], g);
            layer.choices.push_back(std::move(choice));
        }
        result.layers.push_back(std::move(layer));
        reportOrCancel(
            progress,
            {double(l + 1) / double(stats.size()), "analysing heads", {{"layer", double(l)}}});
    }
    return result;
}

std::vector<LayerAlignment> planAlignment(const std::vector<LayerStatistics>& stats,
                                          const AnalysisResult& analysis, std::int64_t groups,
                                          bool meanPoolBaseline, const AlignmentConfig& config) {
    std::vector<LayerAlignment> plan;
    for (std::size_t l = 0; l < stats.size(); ++l) {
        if (meanPoolBaseline) {
            plan.push_back(permutationOnly(consecutiveGrouping(stats[l].values.heads, groups),
                                           stats[l].values.headDim));
        } else {
            plan.push_back(alignLayer(stats[l], analysis.choice(l, groups).grouping, config));
        }
    }
    return plan;
}

}  // namespace gqa
