// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Training-free GQA: replace every group's key and value heads by their mean.
//
// The input is an MHA checkpoint whose groups are contiguous (after applyLayerAlignment, or the
// original order for the mean-pool baseline of Ainslie et al., method §8). KV head g of the
// result is the mean of rows [g*k*d, (g+1)*k*d) of k_proj/v_proj folded per head (their biases
// likewise); q_proj and o_proj
// are unchanged, so query head h reads KV head h / k exactly as Hugging Face's repeat_kv does.
// The result is a standard checkpoint with num_key_value_heads = G.
//
// The merge-cost prediction is the residual the merge leaves in calibration terms: with aligned
// token matrices Y_r and their group mean M, sum_r ||Y_r - M||^2 / N, reported absolute and
// relative to sum_r ||Y_r||^2 / N (0 = free merge, 1 = all signal lost).

#include <cstdint>
#include <vector>

#include "alignment/alignment.h"
#include "io/checkpoint.h"
#include "analysis/headstatistics.h"

namespace gqa {

/// InputError unless the checkpoint is MHA and `groups` divides its head count.
Checkpoint mergeToGqa(const Checkpoint& contiguousMha, std::int64_t groups);

/// Permutes and aligns every layer (copy of `mha`, same dtype).
Checkpoint alignCheckpoint(const Checkpoint& mha, const std::vector<LayerAlignment>& layers);

struct MergeCost {
    double keyResidual = 0.0, valueResidual = 0.0;  ///< per token, summed over heads
    double keyRelative = 0.0, valueRelative = 0.0;  ///< residual / energy
};

/// Cost of merging the contiguous groups of `groups` heads in statistics already aligned
/// (alignedStatistics) or in the original order (baseline).
MergeCost predictMergeCost(const LayerStatistics& contiguousStats, std::int64_t groups);

}  // namespace gqa
