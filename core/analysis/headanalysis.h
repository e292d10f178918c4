// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The training-free analysis of a model's heads, from its calibration statistics: per layer, the
// key and value similarity matrices before and after alignment, and for each candidate number of
// KV heads G the chosen grouping, its search objective and the predicted merge cost with alignment
// (this method) and without (mean-pooling consecutive heads, Ainslie et al.). This is what users
// look at to choose G before training anything; planAlignment turns one choice into the
// per-layer permutation and transforms that convert the model.

#include <cstdint>
#include <vector>

#include "alignment/alignment.h"
#include "analysis/grouping.h"
#include "analysis/headstatistics.h"
#include "alignment/mergedgqa.h"
#include "alignment/mergedhead.h"
#include "base/progress.h"
#include "analysis/similarity.h"

namespace gqa {

struct AnalysisConfig {
    HeadKind groupBy = HeadKind::Values;    ///< which similarity drives the grouping (method §11)
    Criterion criterion = Criterion::Dist;  ///< method §11 default
    GroupSearchMethod method = GroupSearchMethod::Strong;
    int restarts = kReferenceRestarts;
    int iterations = kReferenceIterations;
    std::uint64_t seed = 0;
    std::vector<std::int64_t> groupCounts;  ///< empty: every divisor of the head count below it
    MergedHead mergedHead = kDefaultMergedHead;  ///< of the least-squares cost (method §7.3)
};

struct GroupingChoice {
    std::int64_t groups = 0;
    Grouping grouping;
    double objective = 0.0;             ///< of the searched grouping
    double consecutiveObjective = 0.0;  ///< of plain GQA's consecutive heads
    bool exact = false;
    MergeCost alignedCost;   ///< searched grouping + GPA alignment, then mean
    MergeCost baselineCost;  ///< consecutive heads, no alignment, then mean (mean-pool)
    /// Searched grouping + GPA alignment, then the least-squares merge (method §7.2).
    MergeCost leastSquaresCost;
};

struct LayerAnalysis {
    SimilarityMatrices keys;
    SimilarityMatrices values;
    std::vector<GroupingChoice> choices;  ///< one per group count, ascending G
};

struct AnalysisResult {
    AnalysisConfig config;
    std::vector<LayerAnalysis> layers;
    const GroupingChoice& choice(std::int64_t layer, std::int64_t groups) const;
};

AnalysisResult analyzeHeads(const std::vector<LayerStatistics>& stats, const AnalysisConfig& config,
                            ProgressSink& progress);

/// Per-layer alignments for `groups` KV heads: the analysis' grouping with GPA transforms, or
/// consecutive heads with identity transforms for the mean-pool baseline.
std::vector<LayerAlignment> planAlignment(const std::vector<LayerStatistics>& stats,
                                          const AnalysisResult& analysis, std::int64_t groups,
                                          bool meanPoolBaseline, const AlignmentConfig& config);

}  // namespace gqa
