// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/kvcache.h"

namespace gqa {

std::int64_t KvCache::length() const {
    return (m_keys.empty() || !m_keys[0].defined()) ? 0 : m_keys[0].size(2);
}

std::pair<torch::Tensor, torch::Tensor> KvCache::append(std::int64_t layer,
                                                        const torch::Tensor& keys,
                                                        const torch::Tensor& values) {
    torch::Tensor& k = m_keys.at(layer);
    torch::Tensor& v = m_values.at(layer);
    k = k.defined() ? torch::cat({k, keys}, 2) : keys;
    v = v.defined() ? torch::cat({v, values}, 2) : values;
    return {k, v};
}

std::uint64_t KvCache::bytes() const {
    std::uint64_t total = 0;
    for (const auto* list : {&m_keys, &m_values})
        for (const torch::Tensor& t : *list)
            if (t.defined()) total += t.numel() * t.element_size();
    return total;
}

void KvCache::clear() {
    for (auto& t : m_keys) t = torch::Tensor();
    for (auto& t : m_values) t = torch::Tensor();
}

}  // namespace gqa
