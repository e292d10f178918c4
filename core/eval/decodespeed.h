// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Inference cost of a model: KV-cache bytes per token and greedy decode speed at given context
// lengths, the two numbers GQA is meant to improve.
//
// Per context length N: a context of N random ids (std::mt19937_64 seeded with `seed`, id =
// draw % vocab, so every model with the same vocabulary sees the same ids) is prefilled into a
// KV cache in chunks of kPrefillChunk tokens (bounds the attention scores' memory; the result is
// the same as one pass), then `warmupSteps` greedy single-token steps run untimed and `steps`
// more are timed. One step = a forward of one token with the cache + argmax read back to the
// host (which also synchronises a GPU). tokens/s = steps / seconds of all timed steps, ms/token
// its inverse; the median step time is reported too, as it resists other processes taking the
// CPU for a moment. The timed steps attend to N + warmupSteps .. N + warmupSteps + steps - 1
// cached positions.
//
// KV-cache bytes per token = ModelConfig::kvCacheBytesPerToken(kv heads, element size of the
// compute dtype) = 2 * layers * kvHeads * headDim * elementBytes; the bytes reported at length N
// are those the cache actually holds after the prefill (N times that). Contexts longer than
// max_position_embeddings are allowed here (RoPE extends to any position; the model's outputs
// there are meaningless but the cost is real) and produce a warning in the result.

#include <cstdint>
#include <string>
#include <vector>

#include "model/decodermodel.h"
#include "base/progress.h"

namespace gqa {

struct DecodeSpeedConfig {
    std::vector<std::int64_t> contextLengths{256, 1024, 4096};
    std::int64_t steps = 32;       ///< timed decode steps per context length
    std::int64_t warmupSteps = 2;  ///< untimed steps before them
    std::uint64_t seed = 0;        ///< of the random context ids
};

struct DecodeSpeedPoint {
    std::int64_t contextLength = 0;
    double tokensPerSecond = 0.0;
    double msPerToken = 0.0;        ///< mean over the timed steps
    double medianMsPerToken = 0.0;  ///< median of the timed steps
    double prefillSeconds = 0.0;
    std::uint64_t kvCacheBytes = 0;   ///< held by the cache after the prefill of N tokens
    bool beyondMaxPositions = false;  ///< N + warm-up + steps > max_position_embeddings
};

struct DecodeSpeedResult {
    std::int64_t kvHeads = 0;
    std::size_t elementBytes = 0;  ///< of the compute dtype
    std::uint64_t kvCacheBytesPerToken = 0;
    std::vector<DecodeSpeedPoint> points;  ///< in the order of contextLengths
    std::vector<std::string> warnings;
};

/// InputError for a context length < 1, steps < 1 or negative warm-up steps.
DecodeSpeedResult measureDecodeSpeed(const DecoderModel& model, const DecodeSpeedConfig& config,
                                     ProgressSink& progress);

/// The random context ids of a measurement (exposed so that tests and callers can reproduce it).
std::vector<std::int64_t> decodeSpeedContext(std::int64_t length, std::int64_t vocabSize,
                                             std::uint64_t seed);

}  // namespace gqa
