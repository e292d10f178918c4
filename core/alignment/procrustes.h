// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Orthogonal Procrustes solutions used to align one head onto another (method §5.1, §5.3).
//
// Given M = A^T B (d x d, the cross-Gram of two heads' token matrices A, B in R^{N x d}):
// - values may use any orthogonal Q: argmin ||A Q - B||_F = U V^T where M = U S V^T
//   (reflections allowed);
// - keys must commute with RoPE, so Q is block-diagonal with one 2x2 *rotation* (det +1, no
//   reflection) on each RoPE plane (m, m + d/2): rho_m = [[cos p, -sin p], [sin p, cos p]] with
//   p = atan2(M10 - M01, M00 + M11) over the plane's 2x2 block of M. A reflection or a general
//   orthogonal matrix would change attention scores after RoPE. With partial rotary embeddings
//   (the first r of d dimensions rotate, planes (m, m + r/2)), the pass-through block [r, d)
//   takes any orthogonal map (it meets no position rotation): Q = diag(plane rotations, O).

#include <torch/torch.h>

#include "analysis/headstatistics.h"

namespace gqa {

/// Q in O(d) minimising ||A Q - B|| from M = A^T B (float64 [d, d]).
torch::Tensor orthogonalProcrustes(const torch::Tensor& crossGram);
/// Block-diagonal rotation on the RoPE planes (m, m + d/2) minimising ||A R - B|| from M = A^T B.
torch::Tensor ropeRotationProcrustes(const torch::Tensor& crossGram);
/// Keys with the first `rotaryDims` dimensions in RoPE planes: plane rotations there and the
/// orthogonal Procrustes solution on the pass-through block.
torch::Tensor keyProcrustes(const torch::Tensor& crossGram, std::int64_t rotaryDims);
/// The admissible transform for this kind of head: keyProcrustes for keys (rotaryDims of the
/// head's dimensions rotate; the head dimension when 0), orthogonal for values.
torch::Tensor alignmentTransform(HeadKind kind, const torch::Tensor& crossGram,
                                 std::int64_t rotaryDims = 0);

}  // namespace gqa
