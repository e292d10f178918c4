// SPDX-License-Identifier: GPL-3.0-or-later
// Head statistics and calibration: streamed statistics equal direct computations on stored
// activations, chunking does not change them, keys are taken before RoPE, and bad input is refused.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <functional>
#include <map>

#include "analysis/calibration.h"
#include "base/error.h"
#include "analysis/headstatistics.h"
#include "testsupport.h"
#include "text/tokenizer.h"
#include "text/tokenizertrainer.h"

namespace gqa::test {
namespace {
namespace F = torch::nn::functional;

std::vector<std::vector<std::int64_t>> randomSequences(std::int64_t count, std::int64_t length,
                                                       std::int64_t vocab, std::uint64_t seed) {
    torch::manual_seed(seed);
    torch::Tensor ids = torch::randint(vocab, {count, length}, torch::kLong);
    std::vector<std::vector<std::int64_t>> out(count);
    for (std::int64_t s = 0; s < count; ++s)
        for (std::int64_t t = 0; t < length; ++t) out[s].push_back(ids[s][t].item<std::int64_t>());
    return out;
}

torch::Tensor asBatch(const std::vector<std::vector<std::int64_t>>& seqs) {
    std::vector<std::int64_t> flat;
    for (const auto& s : seqs) flat.insert(flat.end(), s.begin(), s.end());
    return torch::tensor(flat, torch::kLong).view({std::int64_t(seqs.size()), -1});
}

/// Keeps every layer's full keys and values [B, KV, T, d].
struct CapturingObserver : AttentionObserver {
    std::map<std::int64_t, torch::Tensor> keys, values;
    void observe(std::int64_t layer, const torch::Tensor& k, const torch::Tensor& v) override {
        keys[layer] = k.clone();
        values[layer] = v.clone();
    }
};

/// [B, KV, T, d] -> the per-head matrices X_h [N, d] of method §1, tokens in (sequence,
/// position) order.
std::vector<torch::Tensor> perHead(const torch::Tensor& x) {
    std::vector<torch::Tensor> out;
    for (std::int64_t h = 0; h < x.size(1); ++h)
        out.push_back(x.select(1, h).reshape({-1, x.size(3)}));
    return out;
}

/// C_ij = X_i^T X_j and the same on unit rows, assembled block by block.
void expectMatchesDirect(const GramStatistics& s, const torch::Tensor& captured) {
    const auto X = perHead(captured.to(torch::kFloat64));
    // Keys keep only the entries coupling a RoPE plane (m, m + d/2) with itself.
    const std::int64_t d = s.headDim;
    torch::Tensor mask = torch::ones({d, d}, torch::kFloat64);
    if (s.ropePlanesOnly) {
        const torch::Tensor i = torch::arange(d, torch::kLong);
        mask = ((i.view({d, 1}) % (d / 2)) == (i.view({1, d}) % (d / 2))).to(torch::kFloat64);
    }
    for (std::size_t i = 0; i < X.size(); ++i)
        for (std::size_t j = 0; j < X.size(); ++j) {
            const torch::Tensor ui = X[i] / X[i].norm(2, 1, true);
            const torch::Tensor uj = X[j] / X[j].norm(2, 1, true);
            EXPECT_LT(relativeMaxDiff(s.rawBlock(i, j), X[i].t().mm(X[j]) * mask), 1e-10);
            EXPECT_LT(relativeMaxDiff(s.normalizedBlock(i, j), ui.t().mm(uj) * mask), 1e-10);
        }
    EXPECT_EQ(s.tokens, X[0].size(0));
}

TEST(HeadStatistics, ZeroVectorsStayZeroAndPermutationReordersHeadBlocks) {
    torch::Tensor x = torch::randn({5, 3, 4}, torch::kFloat64);
    x[2][1].zero_();
    GramStatistics s = GramStatistics::zeros(3, 4);
    s.accumulate(x);
    EXPECT_FALSE(s.normalized.isnan().any().item<bool>());
    // tr of a diagonal normalized block counts the head's non-zero vectors.
    EXPECT_NEAR(s.normalizedBlock(1, 1).trace().item<double>(), 4.0, 1e-12);
    EXPECT_NEAR(s.normalizedBlock(0, 0).trace().item<double>(), 5.0, 1e-12);
    const std::vector<std::int64_t> order{2, 0, 1};
    GramStatistics direct = GramStatistics::zeros(3, 4);
    direct.accumulate(x.index_select(1, torch::tensor(order, torch::kLong)));
    const GramStatistics p = s.permuted(order);
    EXPECT_LT(relativeMaxDiff(p.raw, direct.raw), 1e-14);
    EXPECT_LT(relativeMaxDiff(p.normalized, direct.normalized), 1e-14);
    EXPECT_THROW(s.permuted({0, 0, 1}), Error);
    EXPECT_STREQ(headKindName(HeadKind::Keys), "key");
    EXPECT_STREQ(headKindName(HeadKind::Values), "value");
    EXPECT_STREQ(criterionName(Criterion::Dist), "dist");
    EXPECT_STREQ(criterionName(Criterion::Cos), "cos");
}

TEST(Calibration, StatisticsEqualDirectComputationOnStoredActivations) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 11), torch::kFloat64);
    const auto seqs = randomSequences(3, 10, 61, 1);
    NullProgress quiet;
    const auto stats = calibrateTokens(model, seqs, /*batchSize=*/2, quiet);
    CapturingObserver capture;
    ForwardOptions options;
    options.observer = &capture;
    model.forward(asBatch(seqs), options);
    ASSERT_EQ(stats.size(), 2u);
    for (std::int64_t l = 0; l < 2; ++l) {
        EXPECT_TRUE(stats[l].keys.ropePlanesOnly);
        expectMatchesDirect(stats[l].keys, capture.keys[l]);
        expectMatchesDirect(stats[l].values, capture.values[l]);
    }
}

TEST(Calibration, ChunkedStatisticsMergeToOnePass) {
    DecoderModel model(randomCheckpoint(tinyConfig(2), 12), torch::kFloat64);  // GQA: 2 KV heads
    const auto seqs = randomSequences(4, 12, 61, 2);
    NullProgress quiet;
    const auto all = calibrateTokens(model, seqs, 4, quiet);
    auto part = calibrateTokens(model, {seqs[0], seqs[1]}, 2, quiet);
    const auto rest = calibrateTokens(model, {seqs[2], seqs[3]}, 1, quiet);
    for (std::size_t l = 0; l < all.size(); ++l) {
        part[l].keys.merge(rest[l].keys);
        part[l].values.merge(rest[l].values);
        EXPECT_EQ(part[l].keys.heads, 2);
        EXPECT_EQ(part[l].keys.tokens, 48);
        EXPECT_LT(relativeMaxDiff(part[l].keys.raw, all[l].keys.raw), 1e-12);
        EXPECT_LT(relativeMaxDiff(part[l].keys.normalized, all[l].keys.normalized), 1e-12);
        EXPECT_LT(relativeMaxDiff(part[l].values.raw, all[l].values.raw), 1e-12);
        EXPECT_LT(relativeMaxDiff(part[l].values.normalized, all[l].values.normalized), 1e-12);
    }
}

TEST(Calibration, KeysAreTakenBeforeRope) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 13), torch::kFloat64);
    const torch::Tensor tokens = asBatch(randomSequences(2, 9, 61, 3));
    CapturingObserver capture;
    ForwardOptions options;
    options.observer = &capture;
    model.forward(tokens, options);
    const LayerWeights& w = model.layers[0];
    const torch::Tensor n =
        rmsNorm(F::embedding(tokens, model.embedTokens), w.inputNorm, model.config().normEps);
    const torch::Tensor k = F::linear(n, w.kProj).view({2, 9, 4, 8}).transpose(1, 2);
    EXPECT_LT(relativeMaxDiff(capture.keys[0], k), 1e-14);
    // And not after it: RoPE moves every position but the first.
    EXPECT_GT(relativeMaxDiff(capture.keys[0].select(2, 5), k.select(2, 0)), 1e-3);
}

struct CancelAfter : ProgressSink {
    int allowed;
    explicit CancelAfter(int n) : allowed(n) {}
    bool report(const ProgressUpdate&) override { return allowed-- > 0; }
};

TEST(Calibration, CancelThrowsCancelled) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 14), torch::kFloat64);
    const auto seqs = randomSequences(4, 6, 61, 4);
    CancelAfter immediately(0), afterFirstBatch(2);
    EXPECT_THROW(calibrateTokens(model, seqs, 1, immediately), Cancelled);
    EXPECT_THROW(calibrateTokens(model, seqs, 1, afterFirstBatch), Cancelled);
}

/// A tiny BPE tokenizer, trained once per test binary.
const std::string& tokenizerFolder() {
    static const std::string folder = [] {
        const std::string dir = scratchFolder("calib-tokenizer");
        std::ostringstream out;
        const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog"};
        for (int i = 0; i < 800; ++i) out << words[(i * 5) % 8] << (i % 7 == 0 ? ".\n" : " ");
        trainTinyTokenizer(dir, out.str());
        return dir;
    }();
    return folder;
}

std::string writeFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

std::string messageOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "(no InputError)";
}

// One check for every user of token sequences (calibration, the layer-wise fit): batches of the
// given size in order, and each kind of bad input refused with who needed the sequences.
TEST(Calibration, TokenBatchesKeepTheOrderAndRefuseBadSequences) {
    const ModelConfig c = tinyConfig();  // vocabulary 61, 128 positions
    const auto seqs = randomSequences(5, 6, c.vocabSize, 7);
    const auto batches = checkedTokenBatches(seqs, 2, c, "calibration");
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_EQ(batches[0].sizes(), (std::vector<std::int64_t>{2, 6}));
    EXPECT_EQ(batches[2].sizes(), (std::vector<std::int64_t>{1, 6}));
    EXPECT_TRUE(torch::equal(torch::cat(batches), asBatch(seqs)));

    auto refusal = [&](std::vector<std::vector<std::int64_t>> s, std::int64_t batch) {
        return messageOf([&] { checkedTokenBatches(s, batch, c, "the layer-wise fit"); });
    };
    EXPECT_NE(refusal({}, 2).find("the layer-wise fit needs at least one"), std::string::npos);
    EXPECT_NE(refusal(seqs, 0).find("batch size must be at least 1"), std::string::npos);
    EXPECT_NE(refusal({{}}, 1).find("must not be empty"), std::string::npos);
    EXPECT_NE(refusal({std::vector<std::int64_t>(129, 1)}, 1).find("max_position_embeddings (128)"),
              std::string::npos);
    EXPECT_NE(refusal({{1, 2}, {1, 2, 3}}, 1).find("the same length"), std::string::npos);
    EXPECT_NE(refusal({{1, 61}}, 1).find("token id 61 is outside"), std::string::npos);
    EXPECT_NE(refusal({{-1, 2}}, 1).find("token id -1 is outside"), std::string::npos);
}

TEST(Calibration, SequencesAreBosPlusConsecutiveTextAndShortDocumentsAreSkipped) {
    const Tokenizer tok = Tokenizer::load(tokenizerFolder() + "/tokenizer.model");
    const std::string dir = scratchFolder("calib-text");
    const std::string text = "the cat sat on the mat and the dog sat on a cat. ";
    const std::string txt = writeFile(dir + "/a.txt", text + text + text);
    const std::string jsonl = writeFile(
        dir + "/b.jsonl", "{\"text\": \"a cat\"}\n\n{\"text\": \"" + text + text + "\"}\n");
    CalibrationConfig config;
    config.inputFiles = {jsonl, txt};
    config.sequenceLength = 9;
    config.numSequences = 3;
    NullProgress quiet;
    const auto seqs = calibrationSequences(config, tok, quiet);
    ASSERT_EQ(seqs.size(), 3u);
    const auto jsonTokens = tok.encodePlain(text + text);
    const auto txtTokens = tok.encodePlain(text + text + text);
    for (const auto& s : seqs) {
        ASSERT_EQ(s.size(), 9u);
        EXPECT_EQ(s[0], tok.bosId());
    }
    // The short first line is skipped; the second gives its first 8 tokens; a.txt the rest.
    EXPECT_TRUE(std::equal(seqs[0].begin() + 1, seqs[0].end(), jsonTokens.begin()));
    EXPECT_TRUE(std::equal(seqs[1].begin() + 1, seqs[1].end(), txtTokens.begin()));
    EXPECT_TRUE(std::equal(seqs[2].begin() + 1, seqs[2].end(), txtTokens.begin() + 8));
}

TEST(Calibration, TooLittleTextAndBadJsonLinesAreInputErrors) {
    const Tokenizer tok = Tokenizer::load(tokenizerFolder() + "/tokenizer.model");
    const std::string dir = scratchFolder("calib-bad");
    NullProgress quiet;
    CalibrationConfig config;
    config.inputFiles = {writeFile(dir + "/short.txt", "the cat sat on the mat")};
    config.sequenceLength = 64;
    config.numSequences = 2;
    EXPECT_NE(messageOf([&] { calibrationSequences(config, tok, quiet); }).find("only 0 sequence"),
              std::string::npos);
    config.inputFiles = {writeFile(dir + "/bad.jsonl", "{\"text\": \"a\"}\n{\"txt\": 1}\n")};
    EXPECT_NE(messageOf([&] { calibrationSequences(config, tok, quiet); }).find("bad.jsonl:2:"),
              std::string::npos);
    config.inputFiles = {writeFile(dir + "/broken.jsonl", "\n\n{not json\n")};
    EXPECT_NE(messageOf([&] { calibrationSequences(config, tok, quiet); }).find("broken.jsonl:3:"),
              std::string::npos);
    config.inputFiles = {dir + "/missing.txt"};
    EXPECT_THROW(calibrationSequences(config, tok, quiet), InputError);
}

TEST(Calibration, CalibrateRecordsSettingsAndWarnsAboutSmallSamples) {
    const Tokenizer tok = Tokenizer::load(tokenizerFolder() + "/tokenizer.model");
    ModelConfig c = tinyConfig();
    c.vocabSize = tok.vocabSize();
    DecoderModel model(randomCheckpoint(c, 15), torch::kFloat64);
    const std::string dir = scratchFolder("calib-run");
    std::string text;
    for (int i = 0; i < 20; ++i) text += "the dog sat on a mat and the cat ran. ";
    CalibrationConfig config;
    config.inputFiles = {writeFile(dir + "/c.txt", text)};
    config.tokenizer = &tok;
    config.numSequences = 5;
    config.sequenceLength = 16;
    config.batchSize = 2;
    NullProgress quiet;
    const CalibrationResult r = calibrate(model, config, quiet);
    EXPECT_EQ(r.tokens, 80);
    EXPECT_EQ(r.settings.tokens, 80);
    EXPECT_EQ(r.settings.sequenceLength, 16);
    EXPECT_EQ(r.settings.inputChecksum, filesChecksum(config.inputFiles));
    ASSERT_EQ(r.layers.size(), 2u);
    EXPECT_EQ(r.layers[1].values.tokens, 80);
    EXPECT_FALSE(r.warnings.empty());
    EXPECT_EQ(defaultSequenceLength(c), std::min<std::int64_t>(2048, c.maxPositionEmbeddings));
}

// Measurement harness, not a test: GQA_CALIB_BENCH_MODEL=<folder> GQA_CALIB_BENCH_SEQUENCES=<n>
// [GQA_CALIB_BENCH_LENGTH=256] run with --gtest_also_run_disabled_tests under /usr/bin/time -v.
TEST(Calibration, DISABLED_MeasureTimeAndMemory) {
    const char* folder = std::getenv("GQA_CALIB_BENCH_MODEL");
    if (!folder) GTEST_SKIP() << "GQA_CALIB_BENCH_MODEL not set";
    const char* count = std::getenv("GQA_CALIB_BENCH_SEQUENCES");
    const char* length = std::getenv("GQA_CALIB_BENCH_LENGTH");
    DecoderModel model(Checkpoint::load(folder), torch::kFloat32);
    const auto seqs =
        randomSequences(count ? std::atoll(count) : 16, length ? std::atoll(length) : 256,
                        model.config().vocabSize, 5);
    NullProgress quiet;
    const auto start = std::chrono::steady_clock::now();
    const auto stats = calibrateTokens(model, seqs, CalibrationConfig::kReferenceBatchSize, quiet);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("calibrated %zu sequences x %zu tokens, %zu layers in %.2f s (%.0f tokens/s)\n",
                seqs.size(), seqs[0].size(), stats.size(), s,
                double(seqs.size() * seqs[0].size()) / s);
}

}  // namespace
}  // namespace gqa::test
