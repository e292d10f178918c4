// SPDX-License-Identifier: GPL-3.0-or-later
// What the conversion training trains and what it keeps: only the weights of the train scope
// (plus merged heads and gates) change; the teacher built from the student's frozen weights and
// the original trained projections computes exactly the original model; frozen weights are
// stored in the compute dtype.
#include "training/conversionsession.h"
#include "training/conversiontraining.h"
#include "base/error.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

ConversionTrainingConfig scopedRun(const std::string& model, TrainScope scope) {
    ConversionTrainingConfig c;
    c.studentFolder = model;
    c.outputDir = scratchFolder("scope");
    c.groups = 2;
    c.scope = scope;
    c.trainTokens = randomIds(2000, tinyConfig().vocabSize, 5);
    c.steps = 6;
    c.batchSize = 2;
    c.seqLen = 16;
    c.warmupSteps = 1;
    c.learningRate = 1e-2;
    c.checkpointEvery = 0;
    c.evalEvery = 0;
    c.loss.bildTopK = 4;
    c.exportModel = false;
    return c;
}

class TrainScopeTest : public SeededTest {
protected:
    std::string model = writeRandomModel(tinyConfig(4), 31);
    torch::Tensor tokens = torch::randint(tinyConfig().vocabSize, {2, 12});
};

TEST(TrainScopeNames, RoundTripAndSelectProjections) {
    for (TrainScope s :
         {TrainScope::Merged, TrainScope::KeyValue, TrainScope::Attention, TrainScope::All})
        EXPECT_EQ(parseTrainScope(trainScopeName(s)), s);
    EXPECT_FALSE(parseTrainScope("everything"));
    EXPECT_FALSE(isTrainedIn(TrainScope::Merged, "k_proj"));
    EXPECT_TRUE(isTrainedIn(TrainScope::KeyValue, "v_proj"));
    EXPECT_FALSE(isTrainedIn(TrainScope::KeyValue, "q_proj"));
    EXPECT_TRUE(isTrainedIn(TrainScope::Attention, "o_proj"));
    EXPECT_FALSE(isTrainedIn(TrainScope::Attention, "up_proj"));
    EXPECT_TRUE(isTrainedIn(TrainScope::All, "embed_tokens"));
}

TEST_F(TrainScopeTest, TeacherComputesExactlyTheOriginalModel) {
    const Checkpoint original = Checkpoint::load(model);
    for (torch::ScalarType compute : {torch::kFloat32, torch::kBFloat16}) {
        for (TrainScope scope :
             {TrainScope::Merged, TrainScope::KeyValue, TrainScope::Attention, TrainScope::All}) {
            ConversionTrainingConfig c = scopedRun(model, scope);
            c.compute = compute;
            ConversionTrainingResult result;
            ConversionSession session(c, result);
            session.build(original, original);
            const DecoderModel reference(original, compute);
            torch::NoGradGuard noGrad;
            EXPECT_TRUE(session.teacher().forward(tokens).equal(reference.forward(tokens)))
                << trainScopeName(scope);
            if (compute == torch::kFloat32) {
                // The student with every gate at 1 is the same function before training.
                const torch::Tensor open = torch::ones({2, 4});
                EXPECT_LT(relativeMaxDiff(session.student().forward(tokens, open, compute),
                                          reference.forward(tokens)),
                          1e-6);
            }
        }
    }
}

TEST_F(TrainScopeTest, TeacherStaysTheOriginalWhileTheStudentTrains) {
    ConversionTrainingConfig c = scopedRun(model, TrainScope::All);
    ConversionTrainingResult result;
    ConversionSession session(c, result);
    const Checkpoint original = Checkpoint::load(model);
    session.build(original, original);
    for (const torch::Tensor& p : session.trainableParameters())
        if (p.dim() >= 2) p.data().add_(0.5);  // as if trained far away
    torch::NoGradGuard noGrad;
    EXPECT_TRUE(session.teacher().forward(tokens).equal(DecoderModel(original).forward(tokens)));
}

TEST_F(TrainScopeTest, OnlyTheScopeChangesAndFrozenWeightsUseTheComputeDtype) {
    const Checkpoint original = Checkpoint::load(model);
    const ModelConfig& m = original.config;
    const std::int64_t L = m.numLayers, D = m.hiddenSize, HD = m.numHeads * m.headDim;
    const std::int64_t merged = 2 * L * 2 * m.headDim * D;
    struct Case {
        TrainScope scope;
        std::int64_t weights;  // trained weights besides merged heads and gates
    };
    for (const Case& k :
         {Case{TrainScope::Merged, 0}, Case{TrainScope::KeyValue, 2 * L * HD * D},
          Case{TrainScope::Attention, 4 * L * HD * D}, Case{TrainScope::All, m.parameterCount()}}) {
        ConversionTrainingConfig c = scopedRun(model, k.scope);
        c.compute = torch::kBFloat16;
        NullProgress progress;
        const ConversionTrainingResult r = trainConversion(c, progress);
        EXPECT_GE(r.trainableParameters, k.weights + merged) << trainScopeName(k.scope);
        EXPECT_LE(r.trainableParameters, k.weights + merged + 4 * L * m.numHeads);
        EXPECT_EQ(r.frozenParameters, m.parameterCount() - k.weights);

        const Checkpoint trained = Checkpoint::load(conversionCheckpointFolder(c.outputDir));
        for (const auto& [name, before] : original.tensors) {
            const bool changed = !trained.at(name)
                                      .to(torch::kFloat32)
                                      .equal(before.to(torch::kBFloat16).to(torch::kFloat32));
            const bool inScope =
                k.scope == TrainScope::All ||
                (k.scope != TrainScope::Merged && (name.find("k_proj") != std::string::npos ||
                                                   name.find("v_proj") != std::string::npos)) ||
                (k.scope == TrainScope::Attention && (name.find("q_proj") != std::string::npos ||
                                                      name.find("o_proj") != std::string::npos));
            if (!inScope)
                EXPECT_FALSE(changed) << name << " changed in scope " << trainScopeName(k.scope);
            else if (name.find("proj") != std::string::npos)
                EXPECT_TRUE(changed) << name << " did not train in " << trainScopeName(k.scope);
        }
    }
}

TEST_F(TrainScopeTest, FrozenWeightsAreStoredInTheComputeDtypeAndTrainedOnesInFloat32) {
    ConversionTrainingConfig c = scopedRun(model, TrainScope::KeyValue);
    c.compute = torch::kBFloat16;
    ConversionTrainingResult result;
    ConversionSession session(c, result);
    const Checkpoint original = Checkpoint::load(model);
    session.build(original, original);
    const LayerWeights& w = session.student().model.layers[0];
    EXPECT_EQ(w.qProj.scalar_type(), torch::kBFloat16);
    EXPECT_FALSE(w.qProj.requires_grad());
    EXPECT_EQ(w.upProj.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(w.kProj.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(w.kProj.requires_grad());
    EXPECT_EQ(session.student().mergedKeys[0].scalar_type(), torch::kFloat32);
    // The teacher shares the frozen tensors instead of copying them.
    EXPECT_TRUE(session.teacher().layers[0].qProj.is_same(w.qProj));
    EXPECT_FALSE(session.teacher().layers[0].kProj.is_same(w.kProj));
}

// A bfloat16 run's checkpoint keeps frozen weights as they are held, in bfloat16 (for 7B about
// 11 GB less than float32), trained ones and merged heads in float32, and a resume from it
// repeats the uninterrupted run.
TEST_F(TrainScopeTest, CheckpointsKeepEachWeightsDtypeAndResumeExactly) {
    ConversionTrainingConfig whole = scopedRun(model, TrainScope::KeyValue);
    whole.compute = torch::kBFloat16;
    NullProgress progress;
    trainConversion(whole, progress);
    ConversionTrainingConfig parts = whole;
    parts.outputDir = scratchFolder("scope-parts");
    StopAt stop(3);
    EXPECT_THROW(trainConversion(parts, stop), Cancelled);
    const Checkpoint cut = Checkpoint::load(conversionCheckpointFolder(parts.outputDir));
    EXPECT_EQ(cut.at(layerTensorName(0, "self_attn.q_proj.weight")).scalar_type(),
              torch::kBFloat16);
    EXPECT_EQ(cut.at(layerTensorName(0, "mlp.up_proj.weight")).scalar_type(), torch::kBFloat16);
    EXPECT_EQ(cut.at(layerTensorName(0, "self_attn.k_proj.weight")).scalar_type(), torch::kFloat32);
    EXPECT_EQ(cut.at(mergedKeyName(0)).scalar_type(), torch::kFloat32);
    EXPECT_TRUE(trainConversion(parts, progress).resumed);

    const Checkpoint a = Checkpoint::load(conversionCheckpointFolder(whole.outputDir));
    const Checkpoint b = Checkpoint::load(conversionCheckpointFolder(parts.outputDir));
    for (const auto& [name, t] : a.tensors) {
        EXPECT_EQ(t.scalar_type(), b.at(name).scalar_type()) << name;
        EXPECT_LT(relativeMaxDiff(t.to(torch::kFloat32), b.at(name).to(torch::kFloat32)), 1e-5)
            << name;
    }
}

}  // namespace
}  // namespace gqa::test
