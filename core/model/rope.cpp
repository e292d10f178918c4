// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/rope.h"

namespace gqa {

RopeTables ropeTables(const ModelConfig& config, std::int64_t start, std::int64_t length,
                      torch::ScalarType dtype, torch::Device device) {
    // Angles in float64 so that long positions keep their precision, as HF computes in float32+.
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const std::int64_t d = config.rotaryDims();
    torch::Tensor invFreq =
        1.0 / torch::pow(config.ropeTheta, torch::arange(0, d, 2, f64) / double(d));
    torch::Tensor positions = torch::arange(start, start + length, f64) / config.ropeLinearFactor;
    torch::Tensor freqs = torch::outer(positions, invFreq);  // [T, d/2]
    torch::Tensor angles = torch::cat({freqs, freqs}, -1);   // [T, d]
    return {angles.cos().to(device, dtype), angles.sin().to(device, dtype)};
}

torch::Tensor rotateHalf(const torch::Tensor& x) {
    auto halves = x.chunk(2, -1);
    return torch::cat({-halves[1], halves[0]}, -1);
}

torch::Tensor applyRope(const torch::Tensor& x, const RopeTables& tables) {
    const std::int64_t r = tables.cos.size(-1);
    if (r == x.size(-1)) return x * tables.cos + rotateHalf(x) * tables.sin;
    const torch::Tensor rotary = x.narrow(-1, 0, r);
    return torch::cat(
        {rotary * tables.cos + rotateHalf(rotary) * tables.sin, x.narrow(-1, r, x.size(-1) - r)},
        -1);
}

}  // namespace gqa
