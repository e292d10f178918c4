// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Rotary position embedding in the Hugging Face "rotate_half" layout over the first r =
// rotaryDims() dimensions of a head (r = d unless partial_rotary_factor < 1): dimension m (m < r/2)
// is paired with m + r/2, and the plane (m, m + r/2) is rotated by the angle t * theta^(-2m/r) at
// position t (t divided by the linear rope-scaling factor when one is set). Dimensions r..d-1
// pass through unrotated (Phi, StableLM).

#include <torch/torch.h>

#include "io/modelconfig.h"

namespace gqa {

struct RopeTables {
    torch::Tensor cos;  ///< [T, r]
    torch::Tensor sin;  ///< [T, r]
};

/// cos/sin tables for positions [start, start + length), in `dtype` on `device`.
RopeTables ropeTables(const ModelConfig& config, std::int64_t start, std::int64_t length,
                      torch::ScalarType dtype, torch::Device device);

/// Applies the rotation to the first r dimensions of x [B, heads, T, d].
torch::Tensor applyRope(const torch::Tensor& x, const RopeTables& tables);

/// (x1, x2) -> (-x2, x1) over the two halves of the last dimension.
torch::Tensor rotateHalf(const torch::Tensor& x);

}  // namespace gqa
