// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/generation.h"

#include <chrono>

#include "base/error.h"

namespace gqa {
namespace {

std::int64_t pickToken(const torch::Tensor& logitsRow, const GenerationConfig& config,
                       torch::Generator& generator) {
    if (config.temperature <= 0.0) return logitsRow.argmax().item<std::int64_t>();
    torch::Tensor logits = logitsRow.to(torch::kFloat64) / config.temperature;
    if (config.topK > 0 && config.topK < logits.size(0)) {
        const double kth = std::get<0>(logits.topk(config.topK)).min().item<double>();
        logits = logits.masked_fill(logits < kth, -std::numeric_limits<double>::infinity());
    }
    torch::Tensor probs = torch::softmax(logits, -1);
    if (config.topP < 1.0) {
        auto [sorted, order] = probs.sort(/*dim=*/-1, /*descending=*/true);
        torch::Tensor before = sorted.cumsum(-1) - sorted;  // mass strictly above each token
        sorted = sorted.masked_fill(before >= config.topP, 0.0);
        probs = torch::zeros_like(probs).scatter(0, order, sorted);
    }
    return torch::multinomial(probs, 1, /*replacement=*/false, generator).item<std::int64_t>();
}

}  // namespace

GenerationResult generate(const DecoderModel& model, const std::vector<std::int64_t>& prompt,
                          const GenerationConfig& config, ProgressSink& progress) {
    if (prompt.empty()) throw InputError("generation needs a non-empty prompt");
    if (config.maxNewTokens < 0) throw InputError("max new tokens must not be negative");
    if (config.topP <= 0.0 || config.topP > 1.0) throw InputError("top-p must be in (0, 1]");
    const auto total = static_cast<std::int64_t>(prompt.size()) + config.maxNewTokens;
    if (total > model.config().maxPositionEmbeddings)
        throw InputError("prompt plus new tokens (" + std::to_string(total) +
                         ") exceed the model's max_position_embeddings (" +
                         std::to_string(model.config().maxPositionEmbeddings) + ")");

    torch::NoGradGuard noGrad;
    torch::Generator generator = at::detail::createCPUGenerator(config.seed);
    using Clock = std::chrono::steady_clock;
    KvCache cache(model.config().numLayers);
    ForwardOptions options;
    options.cache = &cache;

    GenerationResult result;
    const auto start = Clock::now();
    torch::Tensor logits = model.forward(torch::tensor(prompt, torch::kLong).unsqueeze(0), options);
    const auto decodeStart = Clock::now();
    result.prefillSeconds = std::chrono::duration<double>(decodeStart - start).count();
    for (std::int64_t step = 0; step < config.maxNewTokens; ++step) {
        const std::int64_t next = pickToken(logits[0][-1].to(torch::kCPU), config, generator);
        result.newTokens.push_back(next);
        reportOrCancel(progress,
                       {double(step + 1) / double(config.maxNewTokens), "generating", {}});
        if (config.stopAtEos && model.config().eosTokenId && next == *model.config().eosTokenId)
            break;
        if (step + 1 == config.maxNewTokens) break;
        logits = model.forward(torch::tensor({next}, torch::kLong).unsqueeze(0), options);
    }
    const double decodeSeconds = std::chrono::duration<double>(Clock::now() - decodeStart).count();
    result.kvCacheBytes = cache.bytes();
    if (decodeSeconds > 0)
        result.decodeTokensPerSecond = double(result.newTokens.size()) / decodeSeconds;
    return result;
}

}  // namespace gqa
