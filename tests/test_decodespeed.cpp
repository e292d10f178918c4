// SPDX-License-Identifier: GPL-3.0-or-later
// Decode-speed measurement: positive speeds, KV-cache bytes equal to the formula and proportional
// to the KV heads, the warning beyond max positions, reproducible context ids, bad settings.
#include "eval/decodespeed.h"
#include "base/error.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

DecodeSpeedConfig smallConfig(std::vector<std::int64_t> contexts) {
    DecodeSpeedConfig c;
    c.contextLengths = std::move(contexts);
    c.steps = 3;
    c.warmupSteps = 1;
    return c;
}

TEST(DecodeSpeed, ReportsPositiveSpeedsAndTheFormulasKvBytes) {
    const ModelConfig config = tinyConfig(2);
    DecoderModel model(randomCheckpoint(config, 1));  // float32
    NullProgress quiet;
    const auto r = measureDecodeSpeed(model, smallConfig({4, 16}), quiet);
    EXPECT_EQ(r.kvHeads, 2);
    EXPECT_EQ(r.elementBytes, 4u);
    // 2 (K and V) * 2 layers * 2 KV heads * head dim 8 * 4 bytes
    EXPECT_EQ(r.kvCacheBytesPerToken, 256u);
    EXPECT_EQ(r.kvCacheBytesPerToken, config.kvCacheBytesPerToken(2, 4));
    ASSERT_EQ(r.points.size(), 2u);
    for (const auto& p : r.points) {
        EXPECT_GT(p.tokensPerSecond, 0.0);
        EXPECT_NEAR(p.msPerToken, 1000.0 / p.tokensPerSecond, 1e-9 * p.msPerToken);
        EXPECT_GT(p.medianMsPerToken, 0.0);
        EXPECT_LE(p.medianMsPerToken, 3 * p.msPerToken);  // 3 steps: median <= sum = 3 * mean
        EXPECT_EQ(p.kvCacheBytes, std::uint64_t(p.contextLength) * r.kvCacheBytesPerToken);
        EXPECT_FALSE(p.beyondMaxPositions);
    }
    EXPECT_EQ(r.points[1].contextLength, 16);
    EXPECT_TRUE(r.warnings.empty());
}

TEST(DecodeSpeed, KvBytesAreProportionalToKvHeadsAndComputeDtype) {
    NullProgress quiet;
    std::vector<std::uint64_t> perToken, atLength;
    for (std::int64_t kv : {4, 2, 1}) {
        DecoderModel model(randomCheckpoint(tinyConfig(kv), 2));
        const auto r = measureDecodeSpeed(model, smallConfig({8}), quiet);
        perToken.push_back(r.kvCacheBytesPerToken);
        atLength.push_back(r.points[0].kvCacheBytes);
    }
    EXPECT_EQ(perToken[0], 2 * perToken[1]);
    EXPECT_EQ(perToken[1], 2 * perToken[2]);
    EXPECT_EQ(atLength[0], 4 * atLength[2]);
    DecoderModel wide(randomCheckpoint(tinyConfig(4), 2), torch::kFloat64);
    EXPECT_EQ(measureDecodeSpeed(wide, smallConfig({8}), quiet).kvCacheBytesPerToken,
              2 * perToken[0]);
}

TEST(DecodeSpeed, ContextsBeyondMaxPositionsAreMeasuredWithAWarning) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 3));  // max positions 128
    NullProgress quiet;
    // 600 also exercises the chunked prefill (chunks of 512).
    const auto r = measureDecodeSpeed(model, smallConfig({16, 600}), quiet);
    ASSERT_EQ(r.points.size(), 2u);
    EXPECT_FALSE(r.points[0].beyondMaxPositions);
    EXPECT_TRUE(r.points[1].beyondMaxPositions);
    EXPECT_GT(r.points[1].tokensPerSecond, 0.0);
    EXPECT_EQ(r.points[1].kvCacheBytes, 600 * r.kvCacheBytesPerToken);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find("600"), std::string::npos);
    EXPECT_NE(r.warnings[0].find("max_position_embeddings (128)"), std::string::npos);
}

TEST(DecodeSpeed, ChunkedPrefillEqualsOnePass) {
    // What the measurement prefills in chunks must be the model's ordinary computation.
    ModelConfig config = tinyConfig(2);
    config.maxPositionEmbeddings = 2048;
    DecoderModel model(randomCheckpoint(config, 4), torch::kFloat64);
    const auto ids = decodeSpeedContext(700, config.vocabSize, 0);
    const torch::Tensor tokens = torch::tensor(ids).unsqueeze(0);
    KvCache cache(config.numLayers);
    ForwardOptions options;
    options.cache = &cache;
    model.forward(tokens.slice(1, 0, 512), options);
    torch::Tensor chunked = model.forward(tokens.slice(1, 512, 700), options)[0][-1];
    torch::Tensor whole = model.forward(tokens)[0][-1];
    EXPECT_LT(relativeMaxDiff(chunked, whole), 1e-10);
}

TEST(DecodeSpeed, ContextIdsAreSeededAndInsideTheVocabulary) {
    const auto a = decodeSpeedContext(100, 61, 0), b = decodeSpeedContext(100, 61, 0);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, decodeSpeedContext(100, 61, 1));
    for (auto id : a) {
        EXPECT_GE(id, 0);
        EXPECT_LT(id, 61);
    }
}

TEST(DecodeSpeed, RefusesBadSettingsAndCancels) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 5));
    NullProgress quiet;
    auto bad = smallConfig({8});
    bad.steps = 0;
    EXPECT_THROW(measureDecodeSpeed(model, bad, quiet), InputError);
    EXPECT_THROW(measureDecodeSpeed(model, smallConfig({0}), quiet), InputError);
    EXPECT_THROW(measureDecodeSpeed(model, smallConfig({}), quiet), InputError);
    bad = smallConfig({8});
    bad.warmupSteps = -1;
    EXPECT_THROW(measureDecodeSpeed(model, bad, quiet), InputError);
    struct Stop : ProgressSink {
        bool report(const ProgressUpdate&) override { return false; }
    } stop;
    EXPECT_THROW(measureDecodeSpeed(model, smallConfig({8}), stop), Cancelled);
}

}  // namespace
}  // namespace gqa::test
