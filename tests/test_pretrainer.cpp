// SPDX-License-Identifier: GPL-3.0-or-later
// Pretraining: the learning-rate schedule at known points, the token stream's batches and cache,
// that a tiny model learns, and that an interrupted run resumes onto the uninterrupted run's curve.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "model/decodermodel.h"
#include "training/lrschedule.h"
#include "training/pretrainer.h"
#include "testsupport.h"
#include "text/tokendataset.h"
#include "text/tokenizertrainer.h"
#include "training/training.h"
#include "training/trainingcheckpoint.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

/// A learnable stream over the tiny vocabulary: runs of a fixed successor rule, restarted at a
/// random token every 16 positions.
std::vector<std::int64_t> tinyStream(std::int64_t n, std::uint64_t seed) {
    auto generator = at::detail::createCPUGenerator(seed);
    const torch::Tensor restarts = torch::randint(3, 61, {n / 16 + 1}, generator, torch::kLong);
    std::vector<std::int64_t> ids(n);
    for (std::int64_t i = 0; i < n; ++i)
        ids[i] =
            i % 16 == 0 ? restarts[i / 16].item<std::int64_t>() : 3 + (ids[i - 1] * 7 + 5) % 58;
    return ids;
}

PretrainConfig tinyPretrainConfig(std::int64_t steps) {
    PretrainConfig c;
    c.model = tinyConfig();
    c.trainTokens = tinyStream(4096, 1);
    c.validationTokens = tinyStream(1024, 2);
    c.outputDir = scratchFolder("pretrain");
    c.steps = steps;
    c.batchSize = 8;
    c.seqLen = 32;
    c.peakLr = 1e-2;
    c.minLr = 1e-3;
    c.warmupSteps = 3;
    c.evalEvery = 10;
    c.evalBatches = 2;
    c.checkpointEvery = 0;
    c.seed = 7;
    return c;
}

/// Asks to stop once the report of update `step` arrives.
class CancelAtStep final : public ProgressSink {
public:
    explicit CancelAtStep(std::int64_t step) : m_step(step) {}
    bool report(const ProgressUpdate& u) override {
        for (const auto& [name, value] : u.metrics)
            if (name == "step" && std::int64_t(value) >= m_step) return false;
        return true;
    }

private:
    std::int64_t m_step;
};

TEST(LrSchedule, WarmupThenCosineAtKnownSteps) {
    const double peak = 1.0, low = 0.1;
    EXPECT_DOUBLE_EQ(warmupCosineLr(0, 10, 110, peak, low), 0.0);
    EXPECT_DOUBLE_EQ(warmupCosineLr(5, 10, 110, peak, low), 0.5);      // mid-warmup
    EXPECT_DOUBLE_EQ(warmupCosineLr(10, 10, 110, peak, low), 1.0);     // end of warmup
    EXPECT_NEAR(warmupCosineLr(60, 10, 110, peak, low), 0.55, 1e-12);  // half the decay
    EXPECT_NEAR(warmupCosineLr(35, 10, 110, peak, low),
                low + 0.5 * (peak - low) * (1.0 + std::cos(M_PI / 4.0)), 1e-12);
    EXPECT_DOUBLE_EQ(warmupCosineLr(110, 10, 110, peak, low), 0.1);  // end
    EXPECT_DOUBLE_EQ(warmupCosineLr(500, 10, 110, peak, low), 0.1);  // past the end
    EXPECT_DOUBLE_EQ(warmupCosineLr(0, 0, 100, peak, low), 1.0);     // no warmup
}

TEST(TokenDataset, BatchesAreShiftedWindowsAndSeedDeterministic) {
    std::vector<std::int64_t> ids(200);
    for (std::int64_t i = 0; i < 200; ++i) ids[i] = i;
    const TokenDataset data(ids);
    auto g1 = at::detail::createCPUGenerator(3), g2 = at::detail::createCPUGenerator(3);
    const TokenBatch a = data.sampleBatch(4, 10, g1), b = data.sampleBatch(4, 10, g2);
    EXPECT_TRUE(torch::equal(a.inputs, b.inputs));
    EXPECT_EQ(a.inputs.sizes(), (std::vector<std::int64_t>{4, 10}));
    EXPECT_TRUE(torch::equal(a.targets, a.inputs + 1));  // ids[i] = i
    // Restoring the generator state replays the same batch.
    const torch::Tensor state = g1.get_state();
    const TokenBatch next = data.sampleBatch(4, 10, g1);
    g2.set_state(state);
    EXPECT_TRUE(torch::equal(next.inputs, data.sampleBatch(4, 10, g2).inputs));
    // 199 / 10 = 19 whole windows in batches of 8: 8 + 8 + 3.
    const auto fixed = data.fixedBatches(8, 10, 0);
    ASSERT_EQ(fixed.size(), 3u);
    EXPECT_EQ(fixed[2].inputs.size(0), 3);
    EXPECT_EQ(fixed[1].inputs[0][0].item<std::int64_t>(), 80);
    EXPECT_THROW(TokenDataset(std::vector<std::int64_t>{1, 2}).sampleBatch(1, 5, g1), InputError);
}

TEST(TokenDataset, CacheRoundTripsAndRejectsOtherFingerprints) {
    const std::string path = scratchFolder("cache") + "/ids.bin";
    const std::vector<std::int64_t> small{1, 5, 65535}, large{1, 70000, 3};
    std::vector<std::int64_t> back;
    writeTokenCache(path, small, 42);
    EXPECT_EQ(fs::file_size(path), 32u + 3u * 2u);  // uint16 ids
    ASSERT_TRUE(readTokenCache(path, 42, back));
    EXPECT_EQ(back, small);
    EXPECT_FALSE(readTokenCache(path, 43, back));
    writeTokenCache(path, large, 42);
    EXPECT_EQ(fs::file_size(path), 32u + 3u * 4u);  // int32 ids
    ASSERT_TRUE(readTokenCache(path, 42, back));
    EXPECT_EQ(back, large);
}

TEST(TokenDataset, TokenizesFilesWithOneBosEachAndReusesTheCache) {
    const std::string folder = scratchFolder("texts");
    std::ofstream(folder + "/a.txt") << "the cat sat on the mat\n";
    std::ofstream(folder + "/b.txt") << "the dog ran to the garden\n";
    std::ofstream words(folder + "/words.txt");
    for (int i = 0; i < 200; ++i) words << "the cat sat on the mat and the dog ran " << i << "\n";
    words.close();
    NullProgress quiet;
    trainSentencePieceBpe({{folder + "/words.txt"}, folder + "/tokenizer.model", 300}, quiet);
    const std::vector<std::string> files{folder + "/a.txt", folder + "/b.txt"};
    const std::string cache = folder + "/ids.bin";
    const TokenDataset first =
        TokenDataset::fromTextFiles(files, folder + "/tokenizer.model", cache, quiet);
    ASSERT_TRUE(fs::exists(cache));
    EXPECT_EQ((first.ids() == 1).sum().item<std::int64_t>(), 2);  // one BOS per file
    EXPECT_EQ(first.ids()[0].item<std::int64_t>(), 1);
    const TokenDataset again =
        TokenDataset::fromTextFiles(files, folder + "/tokenizer.model", cache, quiet);
    EXPECT_TRUE(torch::equal(first.ids(), again.ids()));
    std::ofstream(folder + "/b.txt") << "the dog\n";  // changed input: the cache is stale
    EXPECT_LT(TokenDataset::fromTextFiles(files, folder + "/tokenizer.model", cache, quiet).size(),
              first.size());
}

TEST(Training, TiedEmbeddingsAreOneParameterAndNormsDoNotDecay) {
    DecoderModel tied(randomCheckpoint(tinyConfig(4, true), 1));
    const TrainableParameters p = makeTrainable(tied);
    EXPECT_EQ(p.all.size(), 1u + 2u * 9u + 1u);
    EXPECT_EQ(p.noDecay.size(), 2u * 2u + 1u);
    EXPECT_TRUE(tied.lmHead.is_same(tied.embedTokens));
    EXPECT_TRUE(tied.embedTokens.requires_grad());
    DecoderModel untied(randomCheckpoint(tinyConfig(), 1));
    EXPECT_EQ(makeTrainable(untied).all.size(), 1u + 2u * 9u + 2u);
}

TEST(Pretrain, TinyModelLearnsTheStream) {
    const PretrainConfig config = tinyPretrainConfig(30);
    NullProgress quiet;
    const PretrainResult r = pretrain(config, quiet);
    ASSERT_EQ(r.lossHistory.size(), 30u);
    EXPECT_NEAR(r.lossHistory.front(), std::log(61.0), 0.3);  // starts near uniform
    EXPECT_LT(r.finalLoss, r.lossHistory.front() - 1.5);
    ASSERT_EQ(r.validationHistory.size(), 3u);  // steps 10, 20, 30
    EXPECT_LT(r.finalValidationLoss, r.validationHistory.front().second);
    EXPECT_GT(r.tokensPerSecond, 0.0);
    const Checkpoint model = Checkpoint::load(r.modelFolder);
    EXPECT_EQ(model.config.numLayers, 2);
}

TEST(Pretrain, InterruptedAndResumedRunMatchesAnUninterruptedOne) {
    NullProgress quiet;
    const PretrainResult straight = pretrain(tinyPretrainConfig(20), quiet);

    const PretrainConfig config = tinyPretrainConfig(20);
    CancelAtStep cancelAt10(10);
    EXPECT_THROW(pretrain(config, cancelAt10), Cancelled);
    EXPECT_FALSE(fs::exists(fs::path(config.outputDir) / "model"));
    const PretrainResult resumed = pretrain(config, quiet);  // same command again
    EXPECT_TRUE(resumed.resumed);
    EXPECT_EQ(resumed.startStep, 10);
    ASSERT_EQ(resumed.lossHistory.size(), straight.lossHistory.size());
    for (std::size_t i = 0; i < straight.lossHistory.size(); ++i)
        EXPECT_NEAR(resumed.lossHistory[i], straight.lossHistory[i],
                    1e-5 * std::abs(straight.lossHistory[i]))
            << "step " << i + 1;
    const Checkpoint a = Checkpoint::load(straight.modelFolder);
    const Checkpoint b = Checkpoint::load(resumed.modelFolder);
    for (const std::string& name : a.order)
        EXPECT_LT(relativeMaxDiff(b.at(name), a.at(name)), 1e-5) << name;
}

TEST(Pretrain, CancelledRunLeavesALoadableCheckpoint) {
    const PretrainConfig config = tinyPretrainConfig(20);
    CancelAtStep cancelAt3(3);
    EXPECT_THROW(pretrain(config, cancelAt3), Cancelled);
    const std::string folder = findTrainingCheckpoint(pretrainCheckpointFolder(config.outputDir));
    ASSERT_FALSE(folder.empty());
    const auto [model, state] = loadTrainingCheckpoint(folder);
    EXPECT_EQ(state.step, 3);
    EXPECT_EQ(state.lossHistory.size(), 3u);
    EXPECT_TRUE(state.generatorState.defined());
    DecoderModel loaded(model);
    EXPECT_EQ(loaded.forward(torch::tensor({{1, 2, 3}})).size(2), 61);
}

TEST(Pretrain, RefusesBadSettingsAndAnotherModelShapeOnResume) {
    NullProgress quiet;
    PretrainConfig tooLong = tinyPretrainConfig(2);
    tooLong.seqLen = 1000;  // > max_position_embeddings
    EXPECT_THROW(pretrain(tooLong, quiet), InputError);
    PretrainConfig outOfVocab = tinyPretrainConfig(2);
    outOfVocab.trainTokens.push_back(61);
    EXPECT_THROW(pretrain(outOfVocab, quiet), InputError);

    PretrainConfig first = tinyPretrainConfig(2);
    pretrain(first, quiet);
    PretrainConfig other = first;
    other.model.intermediateSize = 64;
    EXPECT_THROW(pretrain(other, quiet), InputError);
}

}  // namespace
}  // namespace gqa::test
