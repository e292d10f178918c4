// SPDX-License-Identifier: GPL-3.0-or-later
#include "eval/decodespeed.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "base/error.h"

namespace gqa {
namespace {
/// Prefill chunk: scores of one chunk are [heads, 512, N]: 512 MiB at N = 4096 and 64 heads in
/// float32, instead of 4 GiB for one pass. Chosen for this memory bound, not measured.
constexpr std::int64_t kPrefillChunk = 512;

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}
}  // namespace

std::vector<std::int64_t> decodeSpeedContext(std::int64_t length, std::int64_t vocabSize,
                                             std::uint64_t seed) {
    std::mt19937_64 generator(seed);  // fully specified by the standard: the same everywhere
    std::vector<std::int64_t> ids(length);
    for (auto& id : ids) id = std::int64_t(generator() % std::uint64_t(vocabSize));
    return ids;
}

DecodeSpeedResult measureDecodeSpeed(const DecoderModel& model, const DecodeSpeedConfig& config,
                                     ProgressSink& progress) {
    if (config.steps < 1) throw InputError("decode speed needs at least 1 timed step");
    if (config.warmupSteps < 0) throw InputError("warm-up steps must not be negative");
    if (config.contextLengths.empty()) throw InputError("decode speed needs a context length");
    for (std::int64_t n : config.contextLengths)
        if (n < 1) throw InputError("decode context lengths must be at least 1");

    const ModelConfig& mc = model.config();
    DecodeSpeedResult result;
    result.kvHeads =
        model.layers.empty() ? mc.numKvHeads : model.layers[0].kProj.size(0) / mc.headDim;
    result.elementBytes = torch::elementSize(model.dtype());
    result.kvCacheBytesPerToken = mc.kvCacheBytesPerToken(result.kvHeads, result.elementBytes);

    torch::NoGradGuard noGrad;
    const std::int64_t perLength = config.warmupSteps + config.steps;
    const double total = double(config.contextLengths.size());
    for (std::size_t p = 0; p < config.contextLengths.size(); ++p) {
        DecodeSpeedPoint point;
        point.contextLength = config.contextLengths[p];
        point.beyondMaxPositions = point.contextLength + perLength > mc.maxPositionEmbeddings;
        const std::string stage = "decode speed at " + std::to_string(point.contextLength);
        const torch::Tensor context = torch::tensor(
            decodeSpeedContext(point.contextLength, mc.vocabSize, config.seed), torch::kLong);

        KvCache cache(mc.numLayers);
        ForwardOptions options;
        options.cache = &cache;
        const auto prefillStart = Clock::now();
        torch::Tensor logits;
        for (std::int64_t begin = 0; begin < point.contextLength; begin += kPrefillChunk) {
            const std::int64_t end = std::min(begin + kPrefillChunk, point.contextLength);
            logits = model.forward(context.slice(0, begin, end).unsqueeze(0), options);
            reportOrCancel(
                progress,
                {(double(p) + 0.5 * end / point.contextLength) / total, stage + " (prefill)", {}});
        }
        std::int64_t next = logits[0][-1].argmax().item<std::int64_t>();
        point.prefillSeconds = secondsSince(prefillStart);
        point.kvCacheBytes = cache.bytes();

        std::vector<double> stepSeconds;
        for (std::int64_t step = 0; step < perLength; ++step) {
            const auto stepStart = Clock::now();
            logits = model.forward(torch::tensor({next}, torch::kLong).unsqueeze(0), options);
            next = logits[0][-1].argmax().item<std::int64_t>();
            if (step >= config.warmupSteps) stepSeconds.push_back(secondsSince(stepStart));
        }
        const double seconds = std::accumulate(stepSeconds.begin(), stepSeconds.end(), 0.0);
        point.tokensPerSecond = double(config.steps) / seconds;
        point.msPerToken = 1000.0 * seconds / double(config.steps);
        std::sort(stepSeconds.begin(), stepSeconds.end());
        const std::size_t mid = stepSeconds.size() / 2;
        point.medianMsPerToken =
            500.0 * (stepSeconds[(stepSeconds.size() - 1) / 2] + stepSeconds[mid]);
        result.points.push_back(point);
        reportOrCancel(progress,
                       {double(p + 1) / total, stage, {{"tokens/s", point.tokensPerSecond}}});
        if (point.beyondMaxPositions)
            result.warnings.push_back(
                "decode context " + std::to_string(point.contextLength) + " (+" +
                std::to_string(perLength) + " decoded) is beyond max_position_embeddings (" +
                std::to_string(mc.maxPositionEmbeddings) +
                "): measured for speed only, RoPE extended past the trained positions");
    }
    return result;
}

}  // namespace gqa
