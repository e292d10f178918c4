// SPDX-License-Identifier: GPL-3.0-or-later
// Generation with the KV cache equals recomputing the full prefix; sampling is seeded.
#include "base/error.h"
#include "model/generation.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

TEST(Generation, GreedyWithCacheEqualsFullPrefixRecompute) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(2), 3);
    DecoderModel model(ck, torch::kFloat64);
    const std::vector<std::int64_t> prompt{1, 5, 9, 14};
    GenerationConfig config;
    config.maxNewTokens = 12;
    config.stopAtEos = false;
    NullProgress quiet;
    const auto result = generate(model, prompt, config, quiet);
    ASSERT_EQ(result.newTokens.size(), 12u);
    std::vector<std::int64_t> seq = prompt;
    for (std::int64_t step = 0; step < 12; ++step) {
        torch::Tensor logits = model.forward(torch::tensor(seq).unsqueeze(0))[0][-1];
        seq.push_back(logits.argmax().item<std::int64_t>());
    }
    EXPECT_EQ(std::vector<std::int64_t>(seq.begin() + 4, seq.end()), result.newTokens);
    // Cache holds prompt + 11 decoded positions (the last token is never fed back).
    EXPECT_EQ(result.kvCacheBytes, 2u * 2 /*layers*/ * 2 /*kv heads*/ * 8 * (4 + 11) * 8);
}

TEST(Generation, GqaCacheIsSmallerByTheGroupSize) {
    GenerationConfig config;
    config.maxNewTokens = 5;
    config.stopAtEos = false;
    NullProgress quiet;
    const auto mha =
        generate(DecoderModel(randomCheckpoint(tinyConfig(4), 1)), {1, 2}, config, quiet);
    const auto gqa =
        generate(DecoderModel(randomCheckpoint(tinyConfig(1), 1)), {1, 2}, config, quiet);
    EXPECT_EQ(mha.kvCacheBytes, 4 * gqa.kvCacheBytes);
}

TEST(Generation, SamplingIsReproducibleWithASeed) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 5));
    GenerationConfig config;
    config.maxNewTokens = 20;
    config.temperature = 1.0;
    config.topK = 10;
    config.topP = 0.9;
    config.stopAtEos = false;
    config.seed = 42;
    NullProgress quiet;
    const auto a = generate(model, {1, 3}, config, quiet);
    const auto b = generate(model, {1, 3}, config, quiet);
    EXPECT_EQ(a.newTokens, b.newTokens);
    config.seed = 43;
    EXPECT_NE(generate(model, {1, 3}, config, quiet).newTokens, a.newTokens);
}

TEST(Generation, StopsAtEos) {
    Checkpoint ck = randomCheckpoint(tinyConfig(), 7);
    ck.config.eosTokenId = 0;
    ck.set("model.norm.weight", torch::zeros({32}));  // hidden = 0: all logits tie, greedy picks 0
    GenerationConfig config;
    config.maxNewTokens = 10;
    NullProgress quiet;
    const auto result = generate(DecoderModel(ck), {1, 4, 6}, config, quiet);
    EXPECT_EQ(result.newTokens, (std::vector<std::int64_t>{0}));
}

TEST(Generation, RejectsBadRequests) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 9));
    NullProgress quiet;
    GenerationConfig config;
    EXPECT_THROW(generate(model, {}, config, quiet), InputError);
    config.maxNewTokens = 1000;  // beyond max_position_embeddings = 128
    EXPECT_THROW(generate(model, {1}, config, quiet), InputError);
}

}  // namespace
}  // namespace gqa::test
