// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The merged key or value head of a group as a linear mix of the group's aligned heads
// (method §7.3): y_g = sum_r P[g, r] x_{g k + r}, P[g, r] a d x d matrix.
//
// - Mean: P[g, r] = I / k, the paper's merge.
// - Principal: the d directions of the group's stacked statistics E[x x^T] (k d x k d) that carry
//   the most signal. By Eckart-Young they minimise sum_h min_B E||x_h - B y||^2 over every linear
//   y of dimension d, which is exactly the least-squares merge's fit objective, so the refit
//   around the principal head never fits worse than around the mean (on calibration statistics).
//   - Keys on RoPE planes: the mix must commute with every position's rotation, so a member's
//     plane takes a complex scale (a scaled rotation). Plane by plane, the members' planes form a
//     complex vector z in C^k; its mix is the top eigenvector of the Hermitian covariance
//     E[z z^H], built from the plane blocks that the key statistics hold.
//   - Pass-through dimensions of partial-rotary keys, and values: real principal directions.
//   The principal basis is then turned (orthogonal Procrustes; for a plane, one phase) towards
//   the group mean and scaled by 1/sqrt(k): for copies of one head the principal head is exactly
//   their mean, and the gated training's blend of a head towards its merged head (method §6.1)
//   stays between like quantities.

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "analysis/headkinds.h"
#include "analysis/headstatistics.h"

namespace gqa {

enum class MergedHead { Mean, Principal };

/// The merged head of the least-squares merge: measured against the mean on the demo model
/// (docs/benchmarks.md, "The merged head: mean or principal").
constexpr MergedHead kDefaultMergedHead = MergedHead::Principal;

const char* mergedHeadName(MergedHead choice);  ///< "mean", "principal"
/// Inverse of mergedHeadName; InputError naming the valid values otherwise.
MergedHead parseMergedHead(const std::string& name);

/// The second moments between heads, E[x_a x_b^T] as [H, H, d, d] (a view of statistics.raw / N).
torch::Tensor headBlockMoments(const GramStatistics& statistics);

/// The mix P [G, k, d, d] (float64) of `groups` contiguous groups, from statistics of heads
/// already aligned (alignedStatistics). Keys mix their statistics.rotaryDimensions() in planes.
torch::Tensor mergedHeadMix(const GramStatistics& statistics, HeadKind kind, std::int64_t groups,
                            MergedHead choice);

/// The merged rows of a k_proj/v_proj weight [H*d, D] or bias [H*d]: [G*d, D] or [G*d], float64.
torch::Tensor mixHeadRows(const torch::Tensor& perHeadRows, const torch::Tensor& mix);

}  // namespace gqa
