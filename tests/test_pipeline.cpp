// SPDX-License-Identifier: GPL-3.0-or-later
// The one conversion pipeline every front end runs (core/pipeline/): its run-folder layout, the
// calibration store's policy, the training-free alignment (one rounding, written atomically),
// the classification of training inputs, and the warm-up rule — each a place where front ends
// used to disagree.
#include <filesystem>
#include <fstream>

#include "alignment/alignment.h"
#include "alignment/mergedgqa.h"
#include "analysis/headanalysis.h"
#include "base/error.h"
#include "base/runtime.h"
#include "io/tensorconvert.h"
#include "pipeline/alignedmodel.h"
#include "pipeline/calibrationstore.h"
#include "pipeline/conversionpipeline.h"
#include "runfile/runfile.h"
#include "runfile/runfolder.h"
#include "testsupport.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

/// A tiny MHA model with a tokenizer and text (model/train.txt), in `dtype`.
std::string tinyTextModel(std::uint64_t seed, DType dtype = DType::F32) {
    ModelConfig c = tinyConfig(4);
    c.vocabSize = 300;
    const std::string model = writeRandomModel(c, seed, dtype);
    std::string text;
    for (int i = 0; i < 300; ++i)
        text += "the cat sat on the mat and the dog ran number " + std::to_string(i) + "\n";
    trainTinyTokenizer(model, text);
    return model;
}

CalibrationRequest tinyCalibration(const std::string& model, const std::string& runFile) {
    CalibrationRequest r;
    r.modelFolder = model;
    r.inputFiles = {model + "/train.txt"};
    r.sequences = 4;
    r.sequenceLength = 32;
    r.runFile = runFile;
    return r;
}

/// The tiny calibration of `model` in a scratch run file, and a request to write its GQA-2 into
/// the scratch folder `name`-out (the shared start of the AlignPipeline tests).
struct TinyAlignment {
    StoredCalibration statistics;
    AlignRequest request;
};
TinyAlignment tinyAlignment(const std::string& model, const std::string& name,
                            const std::string& outputName) {
    NullProgress quiet;
    TinyAlignment a;
    a.statistics =
        calibrateOrReuse(tinyCalibration(model, scratchFolder(name) + "/run.h5"), quiet).statistics;
    a.request.modelFolder = model;
    a.request.groups = 2;
    a.request.outputFolder = scratchFolder(name + "-out") + "/" + outputName;
    return a;
}

/// A whole conversion of the tiny `model` to GQA-2 into the scratch folder `name`: a tiny
/// calibration, training on its own text for `steps` updates, no checkpoints or evaluations.
ConversionRunConfig tinyRunConfig(const std::string& model, const std::string& name, int steps) {
    ConversionRunConfig config;
    config.modelFolder = model;
    config.groups = 2;
    config.calibrationFiles = {model + "/train.txt"};
    config.calibrationSequences = 4;
    config.calibrationLength = 32;
    config.outputFolder = scratchFolder(name) + "/run";
    config.trainingFiles = {model + "/train.txt"};
    config.training.steps = steps;
    config.training.batchSize = 2;
    config.training.seqLen = 32;
    config.training.checkpointEvery = 0;
    config.training.evalEvery = 0;
    return config;
}

/// Asks to stop when an update's stage is `stage`.
class StopAtStage final : public ProgressSink {
public:
    explicit StopAtStage(std::string stage) : m_stage(std::move(stage)) {}
    bool report(const ProgressUpdate& u) override { return u.stage != m_stage; }

private:
    std::string m_stage;
};

TEST(RunFolder, NamesEveryFileOfARunInOnePlace) {
    const RunFolder f("/runs/x");
    EXPECT_EQ(f.runFile(), "/runs/x/run.h5");
    EXPECT_EQ(f.alignedModel(), "/runs/x/aligned-mha");
    EXPECT_EQ(f.checkpoint(), conversionCheckpointFolder("/runs/x"));
    EXPECT_EQ(f.exportedModel(), conversionExportFolder("/runs/x"));
    EXPECT_EQ(f.resolvedConfig(), "/runs/x/convert-config.json");
}

// Drift: `gqa-cli train` warmed up for 32 updates while convert and the studio used
// min(32, steps / 10); now every front end leaves it on automatic and core resolves it.
TEST(ConversionWarmup, OneRuleForEveryFrontEnd) {
    ConversionTrainingConfig c;
    EXPECT_EQ(c.warmupSteps, ConversionTrainingConfig::kAutoWarmup);
    c.steps = 100;
    EXPECT_EQ(resolvedWarmupSteps(c), 10);
    c.steps = 5000;
    EXPECT_EQ(resolvedWarmupSteps(c), 32);
    c.steps = 5;
    EXPECT_EQ(resolvedWarmupSteps(c), 1);
    c.warmupSteps = 7;
    EXPECT_EQ(resolvedWarmupSteps(c), 7);
    const nlohmann::json j = {{"model", "m"},
                              {"kv_heads", 2},
                              {"output", "o"},
                              {"start", "mean-pool"},
                              {"training", {{"files", {"a.txt"}}, {"steps", 100}}}};
    const ConversionRunConfig run = conversionRunConfigFromJson(j, "/base", "run.json");
    EXPECT_EQ(resolvedWarmupSteps(run.training), 10);
}

// One device parser: the studio's estimate counted "auto" and "cuda:1" as CPU.
TEST(Devices, PlansNameTheDeviceTheUserNamed) {
    EXPECT_TRUE(plansCuda("cuda"));
    EXPECT_TRUE(plansCuda("cuda:1"));
    EXPECT_FALSE(plansCuda("cpu"));
    EXPECT_EQ(plansCuda("auto"), torch::cuda::is_available());
    EXPECT_THROW(plansCuda("gpu"), InputError);
    EXPECT_THROW(plansCuda("cuda:x"), InputError);
}

TEST(CalibrationStore, ReusesMatchingStatisticsAndRefusesAnotherModelsRunFile) {
    const std::string a = tinyTextModel(3), b = tinyTextModel(4);
    const std::string run = scratchFolder("calstore") + "/sub/run.h5";
    NullProgress quiet;
    const CalibrationOutcome first = calibrateOrReuse(tinyCalibration(a, run), quiet);
    EXPECT_FALSE(first.reused);
    EXPECT_EQ(first.statistics.layers.size(), 2u);
    const CalibrationOutcome again = calibrateOrReuse(tinyCalibration(a, run), quiet);
    EXPECT_TRUE(again.reused);

    // Another model's run file is never overwritten silently.
    CalibrationRequest other = tinyCalibration(b, run);
    try {
        calibrateOrReuse(other, quiet);
        ADD_FAILURE() << "another model's run file was used";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(calibrateOrReuse(tinyCalibration(a, run), quiet).reused);  // unchanged
    other.foreignRunFile = ForeignRunFile::Replace;
    const CalibrationOutcome replaced = calibrateOrReuse(other, quiet);
    EXPECT_FALSE(replaced.reused);
    ASSERT_FALSE(replaced.warnings.empty());
    EXPECT_NO_THROW(storedCalibrationFor(run, b));
    EXPECT_THROW(storedCalibrationFor(run, a), InputError);

    // A file that is not a run file: refused, or replaced on request.
    const std::string junk = scratchFolder("calstore-junk") + "/run.h5";
    std::ofstream(junk) << "not hdf5";
    EXPECT_THROW(calibrateOrReuse(tinyCalibration(a, junk), quiet), InputError);
    CalibrationRequest replace = tinyCalibration(a, junk);
    replace.foreignRunFile = ForeignRunFile::Replace;
    EXPECT_FALSE(calibrateOrReuse(replace, quiet).reused);
    EXPECT_TRUE(calibrateOrReuse(tinyCalibration(a, junk), quiet).reused);
}

// Drift: `gqa-cli align` aligned bfloat16 weights in bfloat16 (rounded) and merged them (rounded
// again); the pipeline widens first and rounds once.
TEST(AlignPipeline, RoundsABfloat16ModelOnce) {
    const std::string model = tinyTextModel(5, DType::BF16);
    NullProgress quiet;
    const auto [stats, request] = tinyAlignment(model, "align-bf16", "gqa");
    const AlignResult result = writeAlignedModel(request, stats.layers, quiet);
    EXPECT_EQ(result.outputDtype, DType::BF16);
    const Checkpoint written = Checkpoint::load(result.folder);
    EXPECT_EQ(written.config.dtype, DType::BF16);
    EXPECT_EQ(written.config.numKvHeads, 2);

    AnalysisConfig analysis;
    analysis.groupCounts = {2};
    const auto plan = planAlignment(stats.layers, analyzeHeads(stats.layers, analysis, quiet), 2,
                                    false, AlignmentConfig{});
    const Checkpoint original = Checkpoint::load(model);
    const Checkpoint once = convertedTo(
        mergeToGqa(alignCheckpoint(convertedTo(original, DType::F32), plan), 2), DType::BF16);
    const Checkpoint twice = mergeToGqa(alignCheckpoint(original, plan), 2);
    bool roundingDiffers = false;
    for (const auto& [name, tensor] : once.tensors) {
        EXPECT_TRUE(torch::equal(written.at(name), tensor)) << name;
        roundingDiffers = roundingDiffers || !torch::equal(twice.at(name), tensor);
    }
    EXPECT_TRUE(roundingDiffers) << "the test cannot tell one rounding from two";
}

// Drift: `gqa-cli align` wrote its output folder in place; an interrupted write must leave the
// previous folder as it was.
TEST(AlignPipeline, AnInterruptedWriteLeavesThePreviousFolder) {
    const std::string model = tinyTextModel(6);
    NullProgress quiet;
    auto [stats, request] = tinyAlignment(model, "align-atomic", "aligned");
    request.keepMha = true;
    writeAlignedModel(request, stats.layers, quiet);
    const Checkpoint before = Checkpoint::load(request.outputFolder);
    EXPECT_EQ(before.config.numKvHeads, 4);

    request.keepMha = false;  // now a GQA model, interrupted after its files are written
    StopAtStage stop("verifying the written model");
    EXPECT_THROW(writeAlignedModel(request, stats.layers, stop), Cancelled);
    EXPECT_EQ(Checkpoint::load(request.outputFolder).config.numKvHeads, 4);
    EXPECT_FALSE(fs::exists(request.outputFolder + ".tmp"));
    EXPECT_EQ(writeAlignedModel(request, stats.layers, quiet).kvHeads, 2);
}

TEST(TrainingInputs, JsonlIsPromptAnswerDataAndMixingIsRefused) {
    ConversionTrainingConfig c;
    assignTrainingInputs({"a.txt", "b.txt"}, c);
    EXPECT_EQ(c.trainFiles.size(), 2u);
    EXPECT_TRUE(c.trainJsonl.empty());
    assignTrainingInputs({"qa.jsonl"}, c);
    EXPECT_TRUE(c.trainFiles.empty());
    EXPECT_EQ(c.trainJsonl, "qa.jsonl");
    EXPECT_THROW(assignTrainingInputs({"a.txt", "qa.jsonl"}, c), InputError);
    EXPECT_THROW(assignTrainingInputs({"p.jsonl", "q.jsonl"}, c), InputError);
    EXPECT_THROW(assignTrainingInputs({}, c), InputError);
}

// Drift: the studio passed a .jsonl training file as plain text. Through the pipeline it trains
// on prompt/answer examples: no plain-text token cache is written.
TEST(ConversionPipeline, TrainsOnAJsonlFileAsPromptAnswerExamples) {
    const std::string model = tinyTextModel(7);
    const std::string jsonl = model + "/qa.jsonl";
    {
        std::ofstream out(jsonl);
        for (int i = 0; i < 40; ++i)
            out << "{\"instruction\": \"the cat sat on the mat\", \"input\": \"number " << i
                << "\", \"output\": \"the dog ran\"}\n";
    }
    ConversionRunConfig config = tinyRunConfig(model, "pipeline-jsonl", 2);
    config.trainingFiles = {jsonl};
    NullProgress quiet;
    const ConversionRunResult r = runConversionPipeline(config, quiet);
    const RunFolder folder(config.outputFolder);
    EXPECT_EQ(r.runFile, folder.runFile());
    EXPECT_TRUE(r.trained.exportVerified);
    EXPECT_EQ(Checkpoint::load(folder.exportedModel()).config.numKvHeads, 2);
    EXPECT_TRUE(fs::exists(folder.alignedModel()));
    EXPECT_FALSE(fs::exists(folder.trainTokens()));
}

// The groups a run trained are in its run file with their source, so that the report shows them
// instead of searching again (the studio's edited groups were otherwise lost after training).
TEST(ConversionPipeline, RecordsTheGivenGroupsAndTheirSourceInTheRunFile) {
    const std::string model = tinyTextModel(8);
    ConversionRunConfig config = tinyRunConfig(model, "pipeline-given-groups", 1);
    const Grouping unusual{{0, 3}, {1, 2}};  // not consecutive, so not what a default would give
    config.givenGroupings = {unusual, {{0, 2}, {1, 3}}};
    NullProgress quiet;
    runConversionPipeline(config, quiet);
    const auto stored =
        RunFile::open(RunFolder(config.outputFolder).runFile()).readTrainingHistory();
    const nlohmann::json settings = nlohmann::json::parse(stored.settingsJson);
    EXPECT_EQ(settings.at("grouping_source"), "given");
    EXPECT_EQ(settings.at("groupings").get<std::vector<Grouping>>(), config.givenGroupings);

    // The mean-pool baseline records consecutive heads.
    config.start = TrainingStart::MeanPool;
    config.givenGroupings.clear();
    config.outputFolder = scratchFolder("pipeline-meanpool-groups") + "/run";
    runConversionPipeline(config, quiet);
    const nlohmann::json meanPool = nlohmann::json::parse(
        RunFile::open(RunFolder(config.outputFolder).runFile()).readTrainingHistory().settingsJson);
    EXPECT_EQ(meanPool.at("grouping_source"), "consecutive");
    EXPECT_EQ(meanPool.at("groupings").get<std::vector<Grouping>>(),
              (std::vector<Grouping>{{{0, 1}, {2, 3}}, {{0, 1}, {2, 3}}}));
}

TEST(ConversionRunConfigJson, RoundTripsAndRefusesUnknownKeys) {
    const nlohmann::json j = {{"model", "models/m"},
                              {"kv_heads", 2},
                              {"output", "runs/r"},
                              {"calibration", {{"files", {"cal.txt"}}, {"sequences", 8}}},
                              {"training",
                               {{"files", {"a.txt"}},
                                {"kl_weight", 0.5},
                                {"warmup", 3},
                                {"gate_scheme", "hard-concrete"}}}};
    const ConversionRunConfig c = conversionRunConfigFromJson(j, "/base", "run.json");
    EXPECT_EQ(c.modelFolder, "/base/models/m");
    EXPECT_EQ(c.calibrationFiles, std::vector<std::string>{"/base/cal.txt"});
    EXPECT_EQ(c.training.loss.klWeight, 0.5);
    EXPECT_EQ(c.training.warmupSteps, 3);
    EXPECT_EQ(c.training.gates.scheme, GateScheme::HardConcrete);
    const nlohmann::json resolved = conversionRunConfigJson(c);
    EXPECT_EQ(conversionRunConfigJson(conversionRunConfigFromJson(resolved, "/elsewhere", "r")),
              resolved);

    nlohmann::json typo = j;
    typo["training"]["kl_wieght"] = 1.0;
    try {
        conversionRunConfigFromJson(typo, "/base", "run.json");
        ADD_FAILURE() << "a typo was accepted";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("kl_wieght"), std::string::npos) << e.what();
    }
    nlohmann::json wrongType = j;
    wrongType["training"]["steps"] = "many";
    EXPECT_THROW(conversionRunConfigFromJson(wrongType, "/base", "run.json"), InputError);
}

}  // namespace
}  // namespace gqa::test
