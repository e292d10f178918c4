// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Function-preserving alignment of the heads of one layer (method §4.4 and §5).
//
// Heads are permuted so that each group is contiguous (new head n = old head order[n]; q, k, v rows
// and o columns move together, which leaves MHA unchanged), and within each group every head r gets
// an orthogonal transform T_r found by generalized Procrustes analysis (GPA, method §5.4) on the
// calibration statistics, so that the aligned token matrices Y_r = X_r T_r are as close as
// possible. The transforms are folded into the weights so the model computes exactly the same
// function:
//   values (any orthogonal T):            W_V^r <- T^T W_V^r,   W_O^r <- W_O^r T
//   keys (2x2 rotations on RoPE planes):  W_K^r <- T^T W_K^r,   W_Q^r <- T^T W_Q^r
// Biases of q, k and v are their projection's constant column and take the same row transform;
// o_proj's bias is added after the heads and does not change (method §13).
// Key transforms must be rotations on the planes (m, m + d/2): they commute with RoPE, so
// q^T R_{t-s} k is unchanged; a reflection or a general orthogonal matrix would not be.
//
// GPA: T_1 = I and T_r = Proc(X_r -> X_1); stop there for groups of 2. Otherwise iterate (at most
// kGpaMaxIterations): every T_r = Proc(X_r -> M) with M the mean of the aligned heads, until the
// summed pairwise mean cosine improves by less than kGpaTolerance (keeping that iteration's
// transforms). Under `cos` everything is fitted on unit-normalised rows, under `dist` on raw rows;
// the convergence measure is always the mean cosine, as in the reference code.

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "io/checkpoint.h"
#include "analysis/grouping.h"
#include "analysis/headstatistics.h"

namespace gqa {

/// [code:rearrange_model.py:77-87]: tolerance 1e-5 on the loss change, at most 100 iterations.
constexpr double kGpaTolerance = 1e-5;
constexpr int kGpaMaxIterations = 100;

struct AlignmentConfig {
    Criterion criterion = Criterion::Dist;  ///< method §11 default
    bool alignKeys = true;
    bool alignValues = true;
    double gpaTolerance = kGpaTolerance;
    int gpaMaxIterations = kGpaMaxIterations;
};

struct LayerAlignment {
    Grouping groups;                             ///< canonical, original head indices
    std::vector<std::int64_t> order;             ///< new head n = old head order[n]
    std::vector<torch::Tensor> keyTransforms;    ///< per new head, [d, d] float64 rotation
    std::vector<torch::Tensor> valueTransforms;  ///< per new head, [d, d] float64 orthogonal
    std::vector<int> gpaIterations;              ///< per group and kind (keys then values)
};

/// GPA transforms for `members` (original indices; the first is the reference head).
std::vector<torch::Tensor> generalizedProcrustes(const GramStatistics& stats,
                                                 const std::vector<std::int64_t>& members,
                                                 HeadKind kind, const AlignmentConfig& config,
                                                 int* iterations = nullptr);

/// Canonicalises `groups`, derives the order and the transforms of every head.
LayerAlignment alignLayer(const LayerStatistics& stats, const Grouping& groups,
                          const AlignmentConfig& config);

/// Identity transforms and the given grouping's order (the mean-pool baseline with regrouping, or
/// a permutation-only test).
LayerAlignment permutationOnly(const Grouping& groups, std::int64_t headDim);

/// Permutes and folds one layer of an MHA checkpoint in place (float64 math, stored dtype kept).
void applyLayerAlignment(Checkpoint& checkpoint, std::int64_t layer,
                         const LayerAlignment& alignment);

/// The statistics as seen after alignment: heads permuted and transformed (Y_r = X_r T_r).
LayerStatistics alignedStatistics(const LayerStatistics& stats, const LayerAlignment& alignment);

}  // namespace gqa
