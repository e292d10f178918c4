// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Calibration statistics of attention heads: everything the similarity, grouping, alignment and
// merge-cost computations need, accumulated in float64 without keeping any activation (each
// batch's products are formed in the activations' precision, float32 at least, then summed in
// float64).
//
// For one layer and one kind (keys before RoPE, or values), let X be the [N, H*d] matrix of all
// calibration tokens' per-head vectors side by side (head h in columns [h*d, (h+1)*d)), and X^ the
// same with every head's d-vector scaled to unit length (zero vectors stay zero). Then
//   raw        = X^T X      [H*d, H*d]; block (i, j) is C_ij = X_i^T X_j
//   normalized = X^^T X^    [H*d, H*d]; block (i, j) is N * C^_ij of method §3
//   tokens     = N
// Both are sums over tokens, so statistics of several chunks add up to those of one pass, and the
// memory is (H*d)^2 per matrix whatever N is. Method §3, "What is stored": these
// reproduce the reference code's similarities and GPA exactly.
//
// Keys are only ever transformed by 2x2 rotations on the RoPE planes (m, m + d/2), and every key
// quantity (similarity, GPA, merge cost) reads only the entries of C_ij that couple a plane with
// itself. With partial rotary embeddings (Phi, StableLM: only the first r = rotaryDims of d
// dimensions rotate, planes (m, m + r/2)) the pass-through block [r, d) is read whole, so such keys
// are accumulated in full. With `ropePlanesOnly` set (as calibration does for keys), only those
// entries are accumulated, in d/2 batched (2H x 2H) products instead of one (Hd x Hd) product: 2/d
// of the work (1/16 at d = 32). All other entries stay zero.

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "analysis/headkinds.h"

namespace gqa {

struct GramStatistics {
    std::int64_t heads = 0;
    std::int64_t headDim = 0;
    std::int64_t tokens = 0;
    torch::Tensor raw;            ///< [H*d, H*d] float64, CPU
    torch::Tensor normalized;     ///< [H*d, H*d] float64, CPU
    bool ropePlanesOnly = false;  ///< only the RoPE-plane entries are accumulated (keys)
    /// Keys: the leading dimensions of each head in RoPE planes; 0 means all (headDim).
    std::int64_t rotaryDims = 0;
    std::int64_t rotaryDimensions() const { return rotaryDims > 0 ? rotaryDims : headDim; }

    /// Zero statistics for H heads of dimension d.
    static GramStatistics zeros(std::int64_t heads, std::int64_t headDim,
                                bool ropePlanesOnly = false, std::int64_t rotaryDims = 0);
    /// Adds tokens x [N, H, d] (any float dtype/device; accumulated in float64).
    void accumulate(const torch::Tensor& perHeadVectors);
    /// Adds another accumulator of the same shape (chunked or distributed calibration).
    void merge(const GramStatistics& other);

    /// d x d block (i, j) of `raw` or `normalized`.
    torch::Tensor rawBlock(std::int64_t i, std::int64_t j) const;
    torch::Tensor normalizedBlock(std::int64_t i, std::int64_t j) const;
    /// The statistics of the heads reordered by `order` (new head n = old head order[n]).
    GramStatistics permuted(const std::vector<std::int64_t>& order) const;
};

struct LayerStatistics {
    GramStatistics keys;    ///< pre-RoPE keys (k_proj output), per KV head
    GramStatistics values;  ///< v_proj output, per KV head
};

}  // namespace gqa
