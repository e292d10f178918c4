// SPDX-License-Identifier: GPL-3.0-or-later
// The whole conversion on the bundled demo model, at a CPU budget of about a minute: calibrate,
// align, train the gates from 8 to 2 KV heads with distillation, export. The trained GQA model
// must beat the training-free aligned merge on held-out text (Persuasion), every gate must end
// at 0, and the export must reload. Skipped when the corpus text (scripts/test.sh prepares it) is
// absent.
#include <filesystem>

#include "alignment/alignment.h"
#include "analysis/calibration.h"
#include "training/conversiontraining.h"
#include "analysis/headanalysis.h"
#include "alignment/mergedgqa.h"
#include "eval/perplexity.h"
#include "testsupport.h"
#include "text/tokenizer.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

const fs::path kDemo = fs::path(GQA_SOURCE_DIR) / "resources" / "models" / "demo";
const fs::path kText = fs::path(GQA_SOURCE_DIR) / "data" / "corpus" / "text";
constexpr std::int64_t kGroups = 2;
constexpr std::int64_t kHeldOutTokens = 4096;  ///< of Persuasion, context 128, stride 128

double heldOutPerplexity(const Checkpoint& model, const std::vector<std::int64_t>& tokens) {
    NullProgress quiet;
    return perplexity(DecoderModel(model, torch::kFloat32), tokens, {128, 128}, quiet).perplexity;
}

TEST(DemoConversion, TrainedGqaBeatsTheTrainingFreeMergeAndExports) {
    if (!fs::exists(kText / "persuasion.txt") || !fs::exists(kText / "emma.txt"))
        GTEST_SKIP() << "corpus text absent: run scripts/get-corpus.sh and gqa-cli prepare-corpus";
    NullProgress quiet;
    Checkpoint demo = Checkpoint::load(kDemo.string());
    for (auto& [name, tensor] : demo.tensors) tensor = tensor.to(torch::kFloat32);
    demo.config.dtype = DType::F32;

    CalibrationConfig calibration;
    calibration.inputFiles = {(kText / "emma.txt").string()};
    calibration.modelFolder = kDemo.string();
    calibration.numSequences = 16;
    calibration.sequenceLength = 128;
    const CalibrationResult stats = calibrate(DecoderModel(demo), calibration, quiet);
    AnalysisConfig analysisConfig;
    analysisConfig.groupCounts = {kGroups};
    const AnalysisResult analysis = analyzeHeads(stats.layers, analysisConfig, quiet);
    const Checkpoint aligned = alignCheckpoint(
        demo, planAlignment(stats.layers, analysis, kGroups, false, AlignmentConfig{}));
    const std::string alignedFolder = scratchFolder("demo-aligned");
    aligned.save(alignedFolder, 0, kDemo.string());

    auto heldOut = Tokenizer::forModelFolder(kDemo.string(), demo.config)
                       .encode(readTextFile((kText / "persuasion.txt").string()));
    heldOut.resize(kHeldOutTokens);
    const double trainingFree = heldOutPerplexity(mergeToGqa(aligned, kGroups), heldOut);

    ConversionTrainingConfig c;
    c.studentFolder = alignedFolder;
    c.groups = kGroups;
    c.trainFiles = {(kText / "emma.txt").string(), (kText / "pride_and_prejudice.txt").string()};
    c.outputDir = scratchFolder("demo-conversion");
    c.steps = 40;
    c.batchSize = 4;
    c.seqLen = 128;
    c.warmupSteps = 4;
    c.evalEvery = 0;
    c.checkpointEvery = 0;
    const ConversionTrainingResult r = trainConversion(c, quiet);
    for (double z : r.finalGates) EXPECT_EQ(z, 0.0);
    EXPECT_TRUE(r.exportVerified);
    const Checkpoint exported = Checkpoint::load(r.exportFolder);
    EXPECT_EQ(exported.config.numKvHeads, kGroups);
    EXPECT_TRUE(fs::exists(fs::path(r.exportFolder) / "tokenizer.model"));
    const double trained = heldOutPerplexity(exported, heldOut);
    EXPECT_LT(trained, trainingFree) << "training-free " << trainingFree << ", trained " << trained;
    std::printf("demo 8 -> %lld KV heads: held-out perplexity training-free %.2f, trained %.2f\n",
                (long long)kGroups, trainingFree, trained);
}

}  // namespace
}  // namespace gqa::test
