// SPDX-License-Identifier: GPL-3.0-or-later
// The gated student of the conversion training: its two extremes are exact models (method §6.1),
// its gradients reach the gates and the merged heads, and the export reloads as the z = 0 model.
#include "base/error.h"
#include "training/gatedkvmodel.h"
#include "training/gqaexport.h"
#include "alignment/mergedgqa.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr double kFloat64Tight = 1e-12;

torch::Tensor sampleTokens(const ModelConfig& c) {
    return torch::randint(c.vocabSize, {2, 9}, torch::kLong);
}

class GatedKvModelTest : public SeededTest {
protected:
    Checkpoint mha = randomCheckpoint(tinyConfig(4), 11);
    ModelConfig c = mha.config;
};

TEST_F(GatedKvModelTest, AllGatesOpenIsTheMhaModel) {
    const GatedKvModel gated(mha, 2, torch::kFloat64);
    const DecoderModel plain(mha, torch::kFloat64);
    const torch::Tensor tokens = sampleTokens(c);
    const torch::Tensor ones = torch::ones({c.numLayers, c.numHeads}, torch::kFloat64);
    EXPECT_LT(relativeMaxDiff(gated.forward(tokens, ones, torch::kFloat64), plain.forward(tokens)),
              kFloat64Tight);
}

TEST_F(GatedKvModelTest, AllGatesClosedIsTheMeanMergedGqaModel) {
    // float64 weights: mergeToGqa stores its means in the checkpoint's dtype.
    const Checkpoint mha64 = randomCheckpoint(tinyConfig(4), 11, DType::F64);
    for (std::int64_t groups : {1, 2, 4}) {
        const GatedKvModel gated(mha64, groups, torch::kFloat64);
        const DecoderModel merged(mergeToGqa(mha64, groups), torch::kFloat64);
        const torch::Tensor tokens = sampleTokens(c);
        const torch::Tensor zeros = torch::zeros({c.numLayers, c.numHeads}, torch::kFloat64);
        EXPECT_LT(
            relativeMaxDiff(gated.forward(tokens, zeros, torch::kFloat64), merged.forward(tokens)),
            kFloat64Tight)
            << "G = " << groups;
    }
}

TEST_F(GatedKvModelTest, ExportedCheckpointIsTheClosedGateModel) {
    GatedKvModel gated(mha, 2, torch::kFloat64);
    // Trained merged heads differ from the mean: the export must carry them, not re-average.
    gated.mergedKeys[1] = gated.mergedKeys[1] + 0.3;
    const Checkpoint exported = gated.exportGqa(DType::F64);
    EXPECT_EQ(exported.config.numKvHeads, 2);
    EXPECT_EQ(exported.at(layerTensorName(0, "self_attn.k_proj.weight")).size(0), 2 * c.headDim);
    const DecoderModel reloaded(exported, torch::kFloat64);
    const torch::Tensor tokens = sampleTokens(c);
    const torch::Tensor zeros = torch::zeros({c.numLayers, c.numHeads}, torch::kFloat64);
    EXPECT_LT(
        relativeMaxDiff(reloaded.forward(tokens), gated.forward(tokens, zeros, torch::kFloat64)),
        kFloat64Tight);
}

TEST_F(GatedKvModelTest, ExportWrittenToDiskVerifies) {
    GatedKvModel gated(mha, 2, torch::kFloat32);
    gated.mergedValues[0] = gated.mergedValues[0] * 1.5;
    const std::string folder = scratchFolder("gated-export") + "/model";
    const ExportVerification v = exportAndVerify(gated, DType::BF16, folder, "");
    EXPECT_TRUE(v.passed) << v.maxRelativeLogitDiff;
    EXPECT_EQ(Checkpoint::load(folder).config.numKvHeads, 2);
    EXPECT_EQ(Checkpoint::load(folder).config.dtype, DType::BF16);
}

TEST_F(GatedKvModelTest, VerificationCatchesAWrongExport) {
    GatedKvModel gated(mha, 2, torch::kFloat32);
    const std::string folder = scratchFolder("gated-wrong") + "/model";
    exportAndVerify(gated, DType::F32, folder, "");
    gated.mergedKeys[0] = gated.mergedKeys[0] + 1.0;  // the folder no longer matches
    EXPECT_FALSE(verifyExport(gated, DType::F32, folder).passed);
}

TEST_F(GatedKvModelTest, GradientsReachGatesAndMergedHeads) {
    GatedKvModel gated(mha, 2, torch::kFloat64);
    for (auto* list : {&gated.mergedKeys, &gated.mergedValues})
        for (torch::Tensor& t : *list) t = t.detach().clone().requires_grad_(true);
    gated.model.layers[0].kProj = gated.model.layers[0].kProj.detach().requires_grad_(true);
    const torch::Tensor z =
        torch::full({c.numLayers, c.numHeads}, 0.5, torch::kFloat64).requires_grad_(true);
    gated.forward(sampleTokens(c), z, torch::kFloat64).pow(2).mean().backward();
    ASSERT_TRUE(z.grad().defined());
    EXPECT_GT(z.grad().abs().min().item<double>(), 0.0);
    for (const auto* list : {&gated.mergedKeys, &gated.mergedValues})
        for (const torch::Tensor& t : *list) {
            ASSERT_TRUE(t.grad().defined());
            EXPECT_GT(t.grad().abs().sum().item<double>(), 0.0);
        }
    EXPECT_GT(gated.model.layers[0].kProj.grad().abs().sum().item<double>(), 0.0);
}

TEST_F(GatedKvModelTest, BfloatComputeFollowsFloatMasters) {
    GatedKvModel gated(mha, 2, torch::kFloat32);
    gated.model.layers[1].vProj = gated.model.layers[1].vProj.detach().requires_grad_(true);
    const torch::Tensor z = torch::full({c.numLayers, c.numHeads}, 0.7);
    const torch::Tensor logits = gated.forward(sampleTokens(c), z, torch::kBFloat16);
    EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
    logits.to(torch::kFloat32).sum().backward();
    EXPECT_EQ(gated.model.layers[1].vProj.grad().scalar_type(), torch::kFloat32);
}

TEST_F(GatedKvModelTest, TrainingCheckpointKeepsMergedHeads) {
    GatedKvModel gated(mha, 2, torch::kFloat32);
    gated.mergedKeys[1] = gated.mergedKeys[1] * -2.0;
    const std::string folder = scratchFolder("gated-ckpt");
    gated.toTrainingCheckpoint(DType::F32).save(folder);
    const GatedKvModel reloaded(Checkpoint::load(folder), 2, torch::kFloat32);
    EXPECT_TRUE(torch::equal(reloaded.mergedKeys[1], gated.mergedKeys[1]));
    EXPECT_THROW(GatedKvModel(Checkpoint::load(folder), 4), InputError);  // stored G is 2
}

TEST_F(GatedKvModelTest, RejectsGqaInputAndNonDivisorGroups) {
    EXPECT_THROW(GatedKvModel(mha, 3), InputError);
    EXPECT_THROW(GatedKvModel(mha, 0), InputError);
    EXPECT_THROW(GatedKvModel(randomCheckpoint(tinyConfig(2), 3), 1), InputError);
}

}  // namespace
}  // namespace gqa::test
