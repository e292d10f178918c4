// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Inputs shared by the Gloo communicator tests (test_gloocommunicator.cpp) and their worker
// process (gloo_worker.cpp): what each rank contributes, reproducible from the rank alone so that
// every rank can compute the expected sum.

#include <vector>

#include <torch/torch.h>

namespace gqa::test {

/// Mixed shapes and dtypes, one non-contiguous view, one empty tensor, and two 16 MiB matrices
/// so that float32 needs more than one 25 MiB bucket.
inline std::vector<torch::Tensor> glooCaseTensors(int rank) {
    torch::manual_seed(100 + rank);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    return {torch::randn({3}, f32),       torch::randn({2048, 2048}, f32),
            torch::randn({11, 13}, f64),  torch::randn({7, 5}, f32).t(),  // non-contiguous
            torch::randn({0}, f32),       torch::randn({2048, 2048}, f32),
            torch::randn({4, 4, 4}, f64), torch::randn({1}, f32)};
}

/// The element-wise sum over ranks 0..worldSize-1 of glooCaseTensors.
inline std::vector<torch::Tensor> glooCaseSum(int worldSize) {
    std::vector<torch::Tensor> sum = glooCaseTensors(0);
    for (int r = 1; r < worldSize; ++r) {
        const std::vector<torch::Tensor> more = glooCaseTensors(r);
        for (std::size_t i = 0; i < sum.size(); ++i) sum[i] = sum[i] + more[i];
    }
    return sum;
}

/// Whether a and b agree element-wise (tolerance of a sum of a few float32 terms).
inline bool glooCaseClose(const std::vector<torch::Tensor>& a,
                          const std::vector<torch::Tensor>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].sizes() != b[i].sizes() || a[i].scalar_type() != b[i].scalar_type() ||
            !torch::allclose(a[i], b[i], 1e-5, 1e-5))
            return false;
    return true;
}

}  // namespace gqa::test
