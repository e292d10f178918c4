// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A training-free merge better than the mean (method §7.2): the merged key and value of each group
// are a linear mix of its aligned heads (mergedhead.h: the mean, or by default the principal
// directions, method §7.3), and each query head's own projections are refitted by least squares so
// that it reads the merged head as closely as the calibration statistics allow. Only the
// statistics the run file holds are used (no raw activations, no second pass).
//
// Values. Query head h of group g reads the merged value v_m = sum_r P_r v_r instead of its own
// v_h; its attention weights are unchanged, so its output W_o^h v_h is refitted as W_o^h' v_m with
//   W_o^h' = W_o^h B_h,   B_h = C_hm (C_mm + lambda I)^-1,
// C_hm = E[v_h v_m^T] = sum_r C_hr P_r^T and C_mm = sum_{r,s} P_r C_rs P_s^T (C_ij the aligned
// value cross-Gram blocks / N). B_h minimises E||v_h - B v_m||^2, and W_o^h B_h minimises
// E||W_o^h v_h - W' v_m||^2 for any W_o^h.
//
// Keys. Head h scores q_h . k_h; with the merged key it scores (A_h^T q_h) . k_m, where A_h fits
// k_h ~ A_h k_m. To stay exact under RoPE, A_h must commute with every position's rotation: on
// each RoPE plane (m, m + d/2) it is a scaled rotation [[a, -b], [b, a]], fitted in closed form
// from the plane's 2x2 blocks (the only key entries the statistics hold):
//   a = tr(C_xy) / tr(C_yy),  b = (C_xy[1,0] - C_xy[0,1]) / tr(C_yy)
// with x the plane of k_h and y that of k_m. The query rows of the plane become A_h^T (rows).
//
// Keys with partial rotary embeddings (method §13): the pass-through block [r, d) meets no
// position rotation, so A_h there is a full linear map fitted like B_h. Biases of q rows take A_h^T
// like the rows (a bias is the projection's constant column).
//
// Around the mean head, both fits contain the mean merge (B = I, A = I), so they never fit worse
// than it; the principal head fits at least as well as the mean head (Eckart-Young); with exact
// copies of a head up to a scale (values) or a scaled rotation per plane (keys) they are exact.
// lambda = kRelativeRidge * tr(C_mm) / d keeps C_mm invertible when a group's merged value spans
// fewer than d directions; it is small enough to keep exactly duplicated heads exact at 1e-10.

#include <cstdint>
#include <vector>

#include "alignment/mergedgqa.h"
#include "alignment/mergedhead.h"
#include "analysis/headstatistics.h"
#include "io/checkpoint.h"

namespace gqa {

/// Relative ridge of the value refit: a measured prototype lost exactness on duplicated heads at
/// 1e-6 (1.4e-4 instead of 7e-6 relative logit error) and not at 1e-8; 1e-10 leaves margin.
constexpr double kRelativeRidge = 1e-10;

/// Which training-free merge writes the GQA model.
enum class MergeMethod { Mean, LeastSquares };
const char* mergeMethodName(MergeMethod method);  ///< "mean", "least-squares"
/// Inverse of mergeMethodName; InputError naming the valid values otherwise.
MergeMethod parseMergeMethod(const std::string& name);

/// The merged heads and per-query-head refits of one layer whose groups are contiguous.
struct LayerRefit {
    torch::Tensor keyMix, valueMix;        ///< the merged heads, P [G, k, d, d] (mergedhead.h)
    std::vector<torch::Tensor> valueMaps;  ///< B_h [d, d] float64, per query head
    std::vector<torch::Tensor> keyMaps;    ///< A_h [d, d] float64 (block scaled rotations)
};

/// The refits from a layer's aligned statistics (alignedStatistics) for G contiguous groups.
LayerRefit leastSquaresRefit(const LayerStatistics& alignedStats, std::int64_t groups,
                             MergedHead mergedHead = kDefaultMergedHead);

/// Writes layer l of `gqa` (a mergeToGqa of `contiguousMha`): the merged K/V rows and biases and
/// the refitted q_proj (and bias) and o_proj, each in its tensor's dtype in `contiguousMha`.
void applyLayerRefit(const Checkpoint& contiguousMha, std::int64_t layer, const LayerRefit& refit,
                     Checkpoint& gqa);

/// The GQA checkpoint of a contiguous-group MHA checkpoint: the merged heads for K/V (their
/// biases likewise) and refitted q_proj/o_proj. `alignedStats` holds one entry per layer, in the
/// checkpoint's head order. Folded in float64, stored in the input's dtype.
Checkpoint leastSquaresMergeToGqa(const Checkpoint& contiguousMha,
                                  const std::vector<LayerStatistics>& alignedStats,
                                  std::int64_t groups, MergedHead mergedHead = kDefaultMergedHead);

/// The merge cost after the refit, in the units of predictMergeCost (per token, summed over the
/// query heads; relative to the heads' energy): sum_h min_B E||v_h - B v_m||^2, and for keys the
/// per-plane residual of the scaled-rotation fit. Never above predictMergeCost.
MergeCost predictLeastSquaresMergeCost(const LayerStatistics& alignedStats, std::int64_t groups,
                                       MergedHead mergedHead = kDefaultMergedHead);

}  // namespace gqa
