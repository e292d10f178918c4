// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Text generation with a KV cache: the prompt is processed in one forward pass (prefill), then one
// token per step reuses the cached keys/values. Greedy when temperature is 0, otherwise sampling
// with temperature, top-k and top-p from a seeded generator (reproducible). The cache's size in
// bytes is reported because it is exactly what GQA shrinks.

#include <cstdint>
#include <vector>

#include "model/decodermodel.h"
#include "base/progress.h"

namespace gqa {

struct GenerationConfig {
    std::int64_t maxNewTokens = 64;
    double temperature = 0.0;  ///< 0 = greedy
    std::int64_t topK = 0;     ///< 0 = no top-k filter
    double topP = 1.0;         ///< 1 = no nucleus filter
    std::uint64_t seed = 0;
    bool stopAtEos = true;
};

struct GenerationResult {
    std::vector<std::int64_t> newTokens;
    std::uint64_t kvCacheBytes = 0;  ///< cache size after the last step
    double prefillSeconds = 0.0;
    double decodeTokensPerSecond = 0.0;
};

/// InputError for an empty prompt, invalid settings, or prompt + new tokens beyond the model's
/// max_position_embeddings.
GenerationResult generate(const DecoderModel& model, const std::vector<std::int64_t>& prompt,
                          const GenerationConfig& config, ProgressSink& progress);

}  // namespace gqa
