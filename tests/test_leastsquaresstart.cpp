// SPDX-License-Identifier: GPL-3.0-or-later
// The conversion training from the least-squares merge (method §7.2, §6.1): the gated student is
// the MHA model at z = 1 and the least-squares GQA model at z = 0 (biases included), its export is
// that model; the start travels in one file beside the aligned model and fits only its G; the
// aligned folder carries it only for the least-squares merge; a training from it trains the
// refitted q/o (as many parameters as the memory plan counts), exports a verified model, and a
// resume with the other start is refused by name.
#include <filesystem>

#include "alignment/leastsquaresmerge.h"
#include "alignment/mergedgqa.h"
#include "analysis/calibration.h"
#include "base/error.h"
#include "io/safetensors.h"
#include "io/tensorconvert.h"
#include "model/decodermodel.h"
#include "pipeline/alignedmodel.h"
#include "testsupport.h"
#include "training/conversiontraining.h"
#include "training/gatedkvmodel.h"
#include "training/leastsquaresstart.h"
#include "training/trainingcheckpoint.h"
#include "training/trainingestimate.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

constexpr std::int64_t kGroups = 2;
/// The start is stored in float32: the z = 0 student is the float64 fit rounded once.
constexpr double kFloat32Stored = 1e-5;
constexpr double kExact = 1e-12;

std::vector<std::vector<std::int64_t>> sequences(std::int64_t count, std::int64_t length,
                                                 std::uint64_t seed) {
    const std::vector<std::int64_t> ids = randomIds(count * length, tinyConfig().vocabSize, seed);
    std::vector<std::vector<std::int64_t>> out(count);
    for (std::int64_t s = 0; s < count; ++s)
        out[s].assign(ids.begin() + s * length, ids.begin() + (s + 1) * length);
    return out;
}

std::vector<LayerStatistics> statisticsOf(const Checkpoint& ck) {
    NullProgress quiet;
    return calibrateTokens(DecoderModel(ck, torch::kFloat64), sequences(6, 24, 5), 3, quiet);
}

/// A tiny model with attention biases (q/k/v and o), to carry the q bias through the start.
ModelConfig biasedConfig() {
    ModelConfig c = tinyConfig();
    c.qkvBias = true;
    c.outputBias = true;
    return c;
}

/// An MHA folder (consecutive groups are its groups) with its least-squares start beside it.
struct StartFolder {
    Checkpoint mha;
    Checkpoint fitted;  ///< the least-squares GQA model, float64
    std::string folder;
};

StartFolder startFolder(const ModelConfig& config, std::uint64_t seed) {
    StartFolder s;
    s.mha = randomCheckpoint(config, seed, DType::F64);
    s.fitted = leastSquaresMergeToGqa(s.mha, statisticsOf(s.mha), kGroups);
    s.folder = scratchFolder("ls-start");
    s.mha.save(s.folder);
    writeLeastSquaresStart(s.folder, s.fitted);
    return s;
}

torch::Tensor tokens() {
    return torch::tensor(randomIds(30, tinyConfig().vocabSize, 9), torch::kLong).view({1, -1});
}

class LeastSquaresStartTest : public SeededTest {};

TEST_F(LeastSquaresStartTest, GatedStudentIsTheMhaModelAtOneAndTheFittedModelAtZero) {
    for (const ModelConfig& config : {tinyConfig(), biasedConfig()}) {
        const StartFolder s = startFolder(config, 41);
        Checkpoint student = Checkpoint::load(s.folder);
        addLeastSquaresStart(s.folder, kGroups, student);
        const GatedKvModel gated(student, kGroups, torch::kFloat64);
        ASSERT_TRUE(gated.refitsQueries());
        EXPECT_EQ(gated.mergedQueryBiases[0].defined(), config.qkvBias);
        const std::int64_t L = config.numLayers, H = config.numHeads;
        const torch::Tensor ones = torch::ones({L, H}, torch::kFloat64);
        const torch::Tensor zeros = torch::zeros({L, H}, torch::kFloat64);
        const torch::Tensor mha = DecoderModel(s.mha, torch::kFloat64).forward(tokens());
        const torch::Tensor fitted = DecoderModel(s.fitted, torch::kFloat64).forward(tokens());
        const torch::Tensor atOne = gated.forward(tokens(), ones, torch::kFloat64);
        const torch::Tensor atZero = gated.forward(tokens(), zeros, torch::kFloat64);
        EXPECT_LT(relativeMaxDiff(atOne, mha), kExact);
        EXPECT_LT(relativeMaxDiff(atZero, fitted), kFloat32Stored);
        // The export is the student at z = 0, a standard GQA checkpoint.
        const Checkpoint exported = gated.exportGqa(DType::F64);
        EXPECT_EQ(exported.config.numKvHeads, kGroups);
        EXPECT_LT(
            relativeMaxDiff(DecoderModel(exported, torch::kFloat64).forward(tokens()), atZero),
            kExact);
        // Without the start the same folder's student moves onto the mean merge instead.
        const GatedKvModel mean(Checkpoint::load(s.folder), kGroups, torch::kFloat64);
        EXPECT_FALSE(mean.refitsQueries());
        const torch::Tensor meanAtZero = mean.forward(tokens(), zeros, torch::kFloat64);
        EXPECT_LT(relativeMaxDiff(
                      meanAtZero,
                      DecoderModel(mergeToGqa(s.mha, kGroups), torch::kFloat64).forward(tokens())),
                  kExact);
        EXPECT_GT(relativeMaxDiff(meanAtZero, atZero), 1e-3) << "the refit changes nothing";
        // Half-way gates blend both ends: neither the MHA model nor the fit.
        const torch::Tensor half = gated.forward(tokens(), ones * 0.5, torch::kFloat64);
        EXPECT_GT(relativeMaxDiff(half, mha), 1e-4);
        EXPECT_GT(relativeMaxDiff(half, atZero), 1e-4);
    }
}

TEST_F(LeastSquaresStartTest, TheStartFitsOnlyItsModelAndItsGroups) {
    const StartFolder s = startFolder(tinyConfig(), 42);
    Checkpoint student = Checkpoint::load(s.folder);
    try {
        addLeastSquaresStart(s.folder, 4, student);
        FAIL() << "a start for 2 KV heads was used for 4";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("fitted for 2 KV heads, not 4"), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(hasLeastSquaresStartFor(s.folder, 2));
    EXPECT_FALSE(hasLeastSquaresStartFor(s.folder, 4));  // an unset start merge falls to the mean
    const std::string bare = scratchFolder("no-start");
    s.mha.save(bare);
    EXPECT_FALSE(hasLeastSquaresStart(bare));
    EXPECT_THROW(addLeastSquaresStart(bare, kGroups, student), InputError);
    // A safetensors file of that name without the start's metadata is refused, not read.
    const torch::Tensor t = torch::zeros({2});
    writeSafetensors((fs::path(bare) / kLeastSquaresStartFile).string(), {viewOf("x", t)});
    EXPECT_THROW(addLeastSquaresStart(bare, kGroups, student), InputError);
    // A start of another model's shape: refused naming the tensor when the student is built.
    const StartFolder wide = startFolder(tinyConfig(), 43);
    ModelConfig other = tinyConfig();
    other.intermediateSize = 40;
    Checkpoint foreign = randomCheckpoint(other, 44, DType::F64);
    addLeastSquaresStart(wide.folder, kGroups, foreign);
    EXPECT_NO_THROW(GatedKvModel(foreign, kGroups, torch::kFloat64));  // q/k/v/o still fit
    foreign.set(mergedOutputName(1), torch::zeros({3, 3}, torch::kFloat64));
    EXPECT_THROW(GatedKvModel(foreign, kGroups, torch::kFloat64), InputError);
}

TEST_F(LeastSquaresStartTest, TheAlignedFolderCarriesTheStartOnlyForTheLeastSquaresMerge) {
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 45, DType::F32);
    const std::string original = scratchFolder("ls-original");
    mha.save(original);
    const auto stats = statisticsOf(convertedTo(mha, DType::F64));
    for (MergeMethod merge : {MergeMethod::LeastSquares, MergeMethod::Mean}) {
        AlignRequest request;
        request.modelFolder = original;
        request.groups = kGroups;
        request.keepMha = true;
        request.merge = merge;
        request.outputFolder = scratchFolder("ls-aligned");
        NullProgress quiet;
        writeAlignedModel(request, stats, quiet);
        EXPECT_EQ(hasLeastSquaresStart(request.outputFolder), merge == MergeMethod::LeastSquares);
        // The model itself stays a standard MHA checkpoint: no start tensor in it.
        const Checkpoint written = Checkpoint::load(request.outputFolder);
        EXPECT_EQ(written.tensors.size(), mha.tensors.size());
        EXPECT_EQ(written.config.numKvHeads, mha.config.numHeads);
    }
}

ConversionTrainingConfig shortRun(const std::string& folder, const std::string& output) {
    ConversionTrainingConfig c;
    c.studentFolder = folder;
    c.outputDir = output;
    c.groups = kGroups;
    c.trainTokens = randomIds(2000, tinyConfig().vocabSize, 5);
    c.steps = 4;
    c.batchSize = 2;
    c.seqLen = 16;
    c.warmupSteps = 1;
    c.learningRate = 1e-2;
    c.checkpointEvery = 0;
    c.evalEvery = 0;
    c.loss.bildTopK = 4;
    return c;
}

TEST_F(LeastSquaresStartTest, TrainingFromTheStartTrainsTheRefitsAndRefusesAnotherStartOnResume) {
    const StartFolder s = startFolder(tinyConfig(), 46);
    NullProgress quiet;
    const std::string lsRun = scratchFolder("ls-run"), meanRun = scratchFolder("mean-run");
    ConversionTrainingConfig ls = shortRun(s.folder, lsRun);  // unset: the folder's start
    const ConversionTrainingResult fromStart = trainConversion(ls, quiet);
    EXPECT_EQ(fromStart.startMerge, MergeMethod::LeastSquares);
    EXPECT_TRUE(fromStart.exportVerified);
    ConversionTrainingConfig mean = shortRun(s.folder, meanRun);
    mean.startMerge = MergeMethod::Mean;
    const ConversionTrainingResult fromMean = trainConversion(mean, quiet);
    EXPECT_EQ(fromMean.startMerge, MergeMethod::Mean);

    // The refitted q_proj and o_proj of every layer train too, as the memory plan counts.
    const ModelConfig& c = s.mha.config;
    const std::int64_t qo = 2 * c.numLayers * c.numHeads * c.headDim * c.hiddenSize;
    EXPECT_EQ(fromStart.trainableParameters - fromMean.trainableParameters, qo);
    TrainingShape shape;
    shape.groups = kGroups;
    shape.refitsQueries = true;
    EXPECT_EQ(planTraining(c, shape, 0.0).trainableParameters, fromStart.trainableParameters);

    // They moved, and the training checkpoint keeps them under their own names.
    const auto [checkpoint, state] =
        loadTrainingCheckpoint(findTrainingCheckpoint(conversionCheckpointFolder(lsRun)));
    Checkpoint start = Checkpoint::load(s.folder);
    addLeastSquaresStart(s.folder, kGroups, start);
    EXPECT_GT(relativeMaxDiff(checkpoint.at(mergedQueryName(0)),
                              start.at(mergedQueryName(0)).to(torch::kFloat32)),
              1e-4);
    // The export is the trained model at z = 0, with the trained refits as q_proj/o_proj.
    const Checkpoint exported = Checkpoint::load(fromStart.exportFolder);
    EXPECT_TRUE(
        torch::allclose(exported.at(tensorName(c, 1, LayerTensor::OWeight)).to(torch::kFloat32),
                        checkpoint.at(mergedOutputName(1)).to(torch::kFloat32)));

    // Continuing the run towards the other merge is refused, naming the setting.
    ls.startMerge = MergeMethod::Mean;
    ls.steps = 6;
    try {
        trainConversion(ls, quiet);
        FAIL() << "a run from the least-squares start resumed towards the mean merge";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("start_merge"), std::string::npos) << e.what();
    }
    // Asking for the least-squares start where there is none says how to get one.
    const std::string bare = scratchFolder("ls-bare");
    s.mha.save(bare);
    ConversionTrainingConfig missing = shortRun(bare, scratchFolder("ls-missing"));
    missing.startMerge = MergeMethod::LeastSquares;
    EXPECT_THROW(trainConversion(missing, quiet), InputError);
}

}  // namespace
}  // namespace gqa::test
