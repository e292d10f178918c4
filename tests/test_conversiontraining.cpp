// SPDX-License-Identifier: GPL-3.0-or-later
// The conversion training loop on a tiny random model: it ends as an exported, verified GQA
// model; an interrupted and resumed run repeats the uninterrupted one; a non-finite loss rolls
// back instead of corrupting the model; bad settings are refused.
#include <cmath>
#include <filesystem>

#include "pipeline/alignedmodel.h"
#include "training/conversiontraining.h"
#include "base/error.h"
#include "runfile/runfile.h"
#include "testsupport.h"
#include "training/trainingcheckpoint.h"

namespace gqa::test {
namespace {

constexpr double kResumeTolerance = 1e-5;  // float32 training, same operations in the same order

ConversionTrainingConfig tinyRun(const std::string& model, const std::string& output) {
    ConversionTrainingConfig c;
    c.studentFolder = model;
    c.outputDir = output;
    c.groups = 2;
    c.trainTokens = randomIds(2000, tinyConfig().vocabSize, 5);
    c.validationTokens = randomIds(200, tinyConfig().vocabSize, 6);
    c.steps = 12;
    c.batchSize = 2;
    c.seqLen = 16;
    c.warmupSteps = 2;
    c.learningRate = 1e-3;
    c.checkpointEvery = 4;
    c.evalEvery = 6;
    c.evalBatches = 2;
    c.loss.bildTopK = 4;
    return c;
}

class ConversionTrainingTest : public SeededTest {
protected:
    std::string model = writeRandomModel(tinyConfig(4), 21);
};

TEST_F(ConversionTrainingTest, EndsWithClosedGatesAndAVerifiedGqaExport) {
    for (GateScheme scheme : {GateScheme::Reference, GateScheme::HardConcrete}) {
        ConversionTrainingConfig c = tinyRun(model, scratchFolder("conv-end"));
        c.gates.scheme = scheme;
        NullProgress progress;
        const ConversionTrainingResult r = trainConversion(c, progress);
        EXPECT_EQ(r.steps, 12);
        ASSERT_EQ(r.history.size(), 12);
        ASSERT_EQ(r.finalGates.size(), 8u);
        for (double z : r.finalGates) EXPECT_EQ(z, 0.0);
        EXPECT_TRUE(r.exportVerified);
        EXPECT_LT(r.exportMaxLogitDiff, 1e-4);
        const Checkpoint exported = Checkpoint::load(r.exportFolder);
        EXPECT_EQ(exported.config.numKvHeads, 2);
        EXPECT_TRUE(std::isfinite(r.finalValidationLoss));
        // Gates start open: the first recorded values are near 1.
        for (double z : r.history.gates.front()) EXPECT_GT(z, 0.5) << gateSchemeName(scheme);
        // The target sparsity ramps to 1 by W = int(12 * 0.3) = 3.
        EXPECT_DOUBLE_EQ(r.history.column("target_sparsity")[0], 1.0 / 3.0);
        EXPECT_DOUBLE_EQ(r.history.column("target_sparsity")[3], 1.0);
        // Default scope kv: k_proj and v_proj train, everything else is frozen.
        const ModelConfig m = tinyConfig();
        const std::int64_t kv = 2 * m.numLayers * m.numHeads * m.headDim * m.hiddenSize;
        EXPECT_EQ(r.frozenParameters, m.parameterCount() - kv);
        EXPECT_GT(r.trainableParameters, kv);
    }
}

TEST_F(ConversionTrainingTest, ResumedRunRepeatsTheUninterruptedRun) {
    NullProgress quiet;
    const ConversionTrainingResult whole =
        trainConversion(tinyRun(model, scratchFolder("conv-whole")), quiet);

    const ConversionTrainingConfig c = tinyRun(model, scratchFolder("conv-parts"));
    StopAt stop(5);  // not a checkpoint multiple: the cancel itself must checkpoint
    EXPECT_THROW(trainConversion(c, stop), Cancelled);
    const ConversionTrainingResult resumed = trainConversion(c, quiet);
    EXPECT_TRUE(resumed.resumed);
    EXPECT_EQ(resumed.startStep, 5);
    ASSERT_EQ(resumed.history.size(), whole.history.size());
    for (const char* metric : {"loss", "kl", "bild", "sparsity"}) {
        const auto a = whole.history.column(metric), b = resumed.history.column(metric);
        for (std::size_t i = 0; i < a.size(); ++i)
            EXPECT_NEAR(a[i], b[i], kResumeTolerance * std::max(1.0, std::abs(a[i])))
                << metric << " at update " << i + 1;
    }
    for (std::size_t i = 0; i < whole.history.gates.size(); ++i)
        for (std::size_t j = 0; j < whole.history.gates[i].size(); ++j)
            EXPECT_NEAR(whole.history.gates[i][j], resumed.history.gates[i][j], kResumeTolerance);
    EXPECT_NEAR(whole.finalValidationLoss, resumed.finalValidationLoss, kResumeTolerance);
}

TEST_F(ConversionTrainingTest, NonFiniteLossRollsBackWithLowerLearningRate) {
    ConversionTrainingConfig c = tinyRun(model, scratchFolder("conv-nan"));
    c.poisonStepForTests = 7;  // the last checkpoint before it is update 4
    NullProgress progress;
    const ConversionTrainingResult r = trainConversion(c, progress);
    EXPECT_EQ(r.rollbacks, 1);
    EXPECT_EQ(r.steps, 12);
    ASSERT_EQ(r.history.size(), 12);
    for (double loss : r.history.column("loss")) EXPECT_TRUE(std::isfinite(loss));
    // Updates 5.. were redone at half the learning rate; 1..4 are unchanged.
    const ConversionTrainingResult clean =
        trainConversion(tinyRun(model, scratchFolder("conv-clean")), progress);
    const auto lrClean = clean.history.column("lr"), lrRolled = r.history.column("lr");
    EXPECT_DOUBLE_EQ(lrRolled[3], lrClean[3]);
    EXPECT_NEAR(lrRolled[4], 0.5 * lrClean[4], 1e-15);
    ASSERT_FALSE(r.warnings.empty());
    EXPECT_NE(r.warnings.front().find("rolled back to update 4"), std::string::npos);
    EXPECT_TRUE(r.exportVerified);
}

TEST_F(ConversionTrainingTest, CancelWritesACheckpointThatHoldsTheHistory) {
    const ConversionTrainingConfig c = tinyRun(model, scratchFolder("conv-cancel"));
    StopAt stop(3);
    EXPECT_THROW(trainConversion(c, stop), Cancelled);
    const auto [checkpoint, state] =
        loadTrainingCheckpoint(conversionCheckpointFolder(c.outputDir));
    EXPECT_EQ(state.step, 3);
    EXPECT_EQ(state.tensors.at("history.metrics").size(0), 3);
    EXPECT_EQ(state.tensors.at("history.gates").sizes(), torch::IntArrayRef({3, 2, 4}));
    EXPECT_TRUE(checkpoint.tensors.count("model.layers.0.self_attn.kv_layer.0.weight"));
    EXPECT_FALSE(std::filesystem::exists(conversionExportFolder(c.outputDir)));
}

TEST_F(ConversionTrainingTest, RunFileKeepsTheHistoryOfAnInterruptedRun) {
    ConversionTrainingConfig c = tinyRun(model, scratchFolder("conv-runfile"));
    c.runFile = c.outputDir + "/run.h5";
    StopAt stop(5);
    EXPECT_THROW(trainConversion(c, stop), Cancelled);
    auto stored = RunFile::open(c.runFile).readTrainingHistory();
    EXPECT_EQ(stored.history.size(), 5);
    EXPECT_EQ(stored.history.layers, 2);
    NullProgress quiet;
    const ConversionTrainingResult r = trainConversion(c, quiet);
    stored = RunFile::open(c.runFile).readTrainingHistory();
    ASSERT_EQ(stored.history.size(), 12);
    EXPECT_EQ(stored.history.column("loss"), r.history.column("loss"));
    EXPECT_EQ(stored.validation, r.validationHistory);
    const auto settings = nlohmann::json::parse(stored.settingsJson);
    EXPECT_EQ(settings.at("groups"), 2);
    EXPECT_TRUE(settings.at("result").at("export_verified").get<bool>());
}

TEST_F(ConversionTrainingTest, RefusesBadSettings) {
    NullProgress progress;
    ConversionTrainingConfig c = tinyRun(model, scratchFolder("conv-bad"));
    c.groups = 3;
    EXPECT_THROW(trainConversion(c, progress), InputError);
    c = tinyRun(model, scratchFolder("conv-bad2"));
    c.trainFiles = {"somewhere.txt"};
    EXPECT_THROW(trainConversion(c, progress), InputError);  // two kinds of data
    c = tinyRun(writeRandomModel(tinyConfig(2), 3), scratchFolder("conv-bad3"));
    c.groups = 1;
    EXPECT_THROW(trainConversion(c, progress), InputError);  // already GQA
    c = tinyRun(model, scratchFolder("conv-bad4"));
    c.trainTokens = {1, 2, 3, 999};
    EXPECT_THROW(trainConversion(c, progress), InputError);  // outside the vocabulary
}

}  // namespace
}  // namespace gqa::test

namespace gqa::test {
namespace {

// Re-running a finished run says so and trains nothing; a changed setting is named with its old
// and new value; a run of another shape is refused in a sentence.
TEST_F(ConversionTrainingTest, ReRunsSayWhatTheyDo) {
    ConversionTrainingConfig c = tinyRun(model, scratchFolder("conv-rerun"));
    c.steps = 4;
    c.checkpointEvery = 0;
    NullProgress quiet;
    const ConversionTrainingResult first = trainConversion(c, quiet);
    EXPECT_FALSE(first.alreadyComplete);
    const ConversionTrainingResult again = trainConversion(c, quiet);
    EXPECT_TRUE(again.resumed);
    EXPECT_TRUE(again.alreadyComplete);
    EXPECT_TRUE(again.warnings.empty());
    EXPECT_TRUE(again.exportVerified);

    c.learningRate = 2e-3;
    const ConversionTrainingResult changed = trainConversion(c, quiet);
    ASSERT_EQ(changed.warnings.size(), 1u);
    EXPECT_NE(changed.warnings[0].find("lr 0.001 -> 0.002"), std::string::npos)
        << changed.warnings[0];

    c.groups = 1;
    try {
        trainConversion(c, quiet);
        ADD_FAILURE() << "a run of another G resumed";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("whose groups is 2, not 1"), std::string::npos)
            << e.what();
    }
}

TEST(SettingsDifferences, NamesEachChangedSettingWithBothValues) {
    const nlohmann::json saved{{"lr", 0.001}, {"steps", 10}, {"gone", true}};
    const nlohmann::json now{{"lr", 0.002}, {"steps", 10}, {"new", "x"}};
    EXPECT_EQ(settingsDifferences(saved, now),
              "gone true -> (none), lr 0.001 -> 0.002, new (none) -> \"x\"");
    EXPECT_EQ(settingsDifferences(now, now), "");
}

}  // namespace
}  // namespace gqa::test

namespace gqa::test {
namespace {
// The aligned folder is float32 (exact folding); the export must still use the original's dtype,
// or a bfloat16 model's GQA export would be as large as its MHA.
TEST(AlignedModel, KeepsTheOriginalDtypeForTheExport) {
    ModelConfig c = tinyConfig(4);
    c.vocabSize = 300;
    const std::string model = writeRandomModel(c, 5, DType::BF16);
    std::string text;
    for (int i = 0; i < 300; ++i)
        text += "the cat sat on the mat number " + std::to_string(i) + "\n";
    trainTinyTokenizer(model, text);
    const std::string out = scratchFolder("aligned-dtype");
    AlignedModelConfig prepare;
    prepare.modelFolder = model;
    prepare.groups = 2;
    prepare.calibrationFiles = {model + "/train.txt"};
    prepare.calibrationSequences = 4;
    prepare.calibrationLength = 32;
    prepare.runFile = out + "/run.h5";
    prepare.outputFolder = out + "/aligned";
    NullProgress quiet;
    const AlignedModelResult aligned = prepareAlignedModel(prepare, quiet);
    EXPECT_EQ(aligned.originalDtype, DType::BF16);
    EXPECT_EQ(Checkpoint::load(aligned.folder).config.dtype, DType::F32);
    EXPECT_TRUE(prepareAlignedModel(prepare, quiet).reusedCalibration);
}
}  // namespace
}  // namespace gqa::test
