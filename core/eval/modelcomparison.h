// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Comparing an original model with its conversion, the one way every front end does it (the
// wizard's Evaluate page, the run report, `gqa-cli eval`): held-out perplexity under one stated
// protocol (sliding windows of min(256, max positions) tokens with a stride of half that, the
// first maxTokens tokens of the text, tokenized with the first model's tokenizer; method §9),
// and the KV-cache bytes per token in each model's stored dtype (what a deployment holds),
// whatever dtype the perplexity is computed in.

#include <cstdint>
#include <string>
#include <vector>

#include "base/progress.h"
#include "eval/perplexity.h"
#include "io/modelconfig.h"

namespace gqa {

/// The context length of the comparison protocol (capped at the model's positions).
constexpr std::int64_t kComparisonContextLength = 256;
/// Tokens of held-out text the studio and the report score by default.
constexpr std::int64_t kComparisonMaxTokens = 8192;

/// Bytes per token of the KV cache of `config` (its num_key_value_heads) in its stored dtype.
std::uint64_t storedKvCacheBytesPerToken(const ModelConfig& config);

/// The protocol's windows for a model with this config.
PerplexityConfig comparisonPerplexityConfig(const ModelConfig& config);

struct ComparedModel {
    std::string folder;
    std::int64_t kvHeads = 0;
    std::uint64_t kvCacheBytesPerToken = 0;  ///< stored dtype
    PerplexityResult perplexity;             ///< perplexity.perplexity is NaN without text
};

struct ModelComparison {
    std::vector<ComparedModel> models;
    std::string textFile;
    std::int64_t tokens = 0;  ///< tokens of text scored by each model (before the first)
    PerplexityConfig protocol;
    /// "perplexity on the first 8192 tokens of persuasion.txt, windows of 256 tokens, stride 128":
    /// the sentence to show next to the numbers.
    std::string protocolText() const;
};

struct ComparisonConfig {
    std::vector<std::string> modelFolders;  ///< the first one's tokenizer scores all
    std::string textFile;                   ///< empty: KV bytes only
    std::int64_t maxTokens = kComparisonMaxTokens;
    std::string device = "cpu";
};

/// InputError for missing models or text and for models whose vocabularies differ; Cancelled.
ModelComparison compareModels(const ComparisonConfig& config, ProgressSink& progress);

}  // namespace gqa
