// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Per-layer key/value cache for incremental decoding. Its size is what GQA shrinks: it stores
// numKvHeads (not numHeads) heads per layer, so bytes() drops by heads / kvHeads.

#include <vector>

#include <torch/torch.h>

namespace gqa {

class KvCache {
public:
    explicit KvCache(std::int64_t numLayers) : m_keys(numLayers), m_values(numLayers) {}

    /// Number of cached positions (0 when empty).
    std::int64_t length() const;
    /// Appends keys/values [B, kvHeads, T, d] (post-RoPE keys) for `layer` and returns the full
    /// cached tensors including the new positions.
    std::pair<torch::Tensor, torch::Tensor> append(std::int64_t layer, const torch::Tensor& keys,
                                                   const torch::Tensor& values);
    /// Bytes held by all cached tensors.
    std::uint64_t bytes() const;
    void clear();

private:
    std::vector<torch::Tensor> m_keys;
    std::vector<torch::Tensor> m_values;
};

}  // namespace gqa
