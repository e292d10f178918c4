// SPDX-License-Identifier: GPL-3.0-or-later
#include "eval/modelcomparison.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "base/dtype.h"
#include "base/error.h"
#include "base/runtime.h"
#include "io/checkpoint.h"
#include "model/decodermodel.h"
#include "text/tokenizer.h"

namespace gqa {
namespace fs = std::filesystem;

std::uint64_t storedKvCacheBytesPerToken(const ModelConfig& config) {
    return config.kvCacheBytesPerToken(config.numKvHeads, dtypeSize(config.dtype));
}

PerplexityConfig comparisonPerplexityConfig(const ModelConfig& config) {
    PerplexityConfig p;
    p.contextLength = std::min(kComparisonContextLength, config.maxPositionEmbeddings);
    p.stride = std::max<std::int64_t>(1, p.contextLength / 2);
    return p;
}

std::string ModelComparison::protocolText() const {
    if (textFile.empty()) return "no perplexity (no held-out text)";
    return "perplexity on the first " + std::to_string(tokens) + " tokens of " +
           fs::path(textFile).filename().string() + ", windows of " +
           std::to_string(protocol.contextLength) + " tokens, stride " +
           std::to_string(protocol.stride);
}

ModelComparison compareModels(const ComparisonConfig& config, ProgressSink& progress) {
    if (config.modelFolders.empty()) throw InputError("no model to compare");
    ModelComparison result;
    std::vector<ModelConfig> configs;
    for (const std::string& folder : config.modelFolders)
        configs.push_back(ModelConfig::fromFile((fs::path(folder) / "config.json").string()));
    std::vector<std::int64_t> tokens;
    if (!config.textFile.empty()) {
        for (std::size_t m = 1; m < configs.size(); ++m)
            if (configs[m].vocabSize != configs[0].vocabSize)
                throw InputError(config.modelFolders[m] + ": its vocabulary differs from " +
                                 config.modelFolders[0] + "'s; they cannot share one text");
        tokens = Tokenizer::forModelFolder(config.modelFolders[0], configs[0])
                     .encode(readTextFile(config.textFile));
        if (config.maxTokens > 0 && std::int64_t(tokens.size()) > config.maxTokens)
            tokens.resize(std::size_t(config.maxTokens));
        result.textFile = config.textFile;
        result.tokens = std::int64_t(tokens.size());
        result.protocol = comparisonPerplexityConfig(configs[0]);
    }
    const torch::Device device = parseDevice(config.device);
    const double share = 1.0 / double(config.modelFolders.size());
    for (std::size_t m = 0; m < config.modelFolders.size(); ++m) {
        ComparedModel row;
        row.folder = config.modelFolders[m];
        row.kvHeads = configs[m].numKvHeads;
        row.kvCacheBytesPerToken = storedKvCacheBytesPerToken(configs[m]);
        row.perplexity.perplexity = std::nan("");
        if (!tokens.empty()) {
            ScaledProgress part(progress, share * double(m), share * double(m + 1));
            const DecoderModel model(Checkpoint::load(row.folder, part), torch::kFloat32, device);
            row.perplexity = perplexity(model, tokens, result.protocol, part);
        }
        result.models.push_back(row);
    }
    return result;
}

}  // namespace gqa
