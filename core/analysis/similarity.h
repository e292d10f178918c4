// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Head-by-head similarity matrices of one layer, from calibration statistics (method §4.2).
//
// For every pair j < i, head i is aligned onto head j with the admissible Procrustes transform Q
// (procrustes.h; identity for "before"), then scored:
//   cos:  S_ij = (1/N) sum_t cos(x_i,t Q, x_j,t) = tr(Q^T C^_ij)            (C^ = normalized / N)
//   dist: S_ij = -(1/N) sum_t ||x_i,t Q - x_j,t||^2
//              = -(tr C_ii + tr C_jj - 2 tr(Q^T C_ij)) / N
// Under `cos` the transform is fitted on the unit-normalised data (C^), under `dist` on the raw
// data (C), as the reference code does. S is symmetric with a zero diagonal.

#include <torch/torch.h>

#include "analysis/headstatistics.h"

namespace gqa {

struct SimilarityMatrices {
    torch::Tensor before;  ///< [H, H] float64, no alignment
    torch::Tensor after;   ///< [H, H] float64, after pairwise Procrustes alignment
};

SimilarityMatrices headSimilarity(const GramStatistics& stats, HeadKind kind, Criterion criterion);

/// Mean of the off-diagonal entries (the per-layer summary the studio plots).
double meanOffDiagonal(const torch::Tensor& similarity);

}  // namespace gqa
