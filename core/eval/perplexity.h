// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Perplexity of a token sequence with sliding windows, as Hugging Face's perplexity guide defines
// it: windows of `contextLength` tokens start every `stride` tokens; each window scores only the
// tokens not scored by an earlier window, so every token after the first is predicted once, with
// at least contextLength - stride tokens of left context (except in the first window).
// perplexity = exp(sum of NLL / tokens scored). Both numbers are reported with the result.

#include <cstdint>
#include <vector>

#include "model/decodermodel.h"
#include "base/progress.h"

namespace gqa {

struct PerplexityConfig {
    std::int64_t contextLength = 256;
    std::int64_t stride = 128;  ///< 0 means contextLength (disjoint windows)
};

struct PerplexityResult {
    double perplexity = 0.0;
    double meanNll = 0.0;  ///< nats per scored token
    std::int64_t tokensScored = 0;
    std::int64_t windows = 0;
    std::int64_t contextLength = 0;
    std::int64_t stride = 0;
};

/// InputError when there are fewer than 2 tokens or the settings are invalid.
PerplexityResult perplexity(const DecoderModel& model, const std::vector<std::int64_t>& tokens,
                            const PerplexityConfig& config, ProgressSink& progress);

}  // namespace gqa
