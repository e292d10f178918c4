// SPDX-License-Identifier: GPL-3.0-or-later
// Activation checkpointing (layercheckpoint.h) changes memory, never results: losses and
// gradients with ForwardOptions::checkpointLayers equal those without, through the plain model,
// the gated student (gradients into gates and merged heads) and bfloat16 compute over float32
// masters; it does nothing without grad mode and refuses a KV cache or an observer.
#include <functional>
#include <string>
#include <unordered_set>

#include "base/error.h"
#include "training/gatedkvmodel.h"
#include "model/kvcache.h"
#include "training/layercheckpoint.h"
#include "model/decodermodel.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr double kFloat64Tight = 1e-12;
// bfloat16 keeps 8 significant bits (2^-8 ~ 0.004); a few roundings in another order.
constexpr double kBfloat16Loose = 2e-2;

torch::Tensor sampleTokens(const ModelConfig& c) {
    return torch::randint(c.vocabSize, {2, 9}, torch::kLong);
}

/// Every weight of the model, each replaced by a fresh leaf that requires grad (ties kept).
std::vector<torch::Tensor*> makeLeaves(DecoderModel& model) {
    std::vector<torch::Tensor*> all{&model.embedTokens};
    for (LayerWeights& w : model.layers)
        for (torch::Tensor* t : {&w.inputNorm, &w.postAttentionNorm, &w.qProj, &w.kProj, &w.vProj,
                                 &w.oProj, &w.gateProj, &w.upProj, &w.downProj})
            all.push_back(t);
    all.push_back(&model.finalNorm);
    const bool tied = model.lmHead.is_same(model.embedTokens);
    for (torch::Tensor* t : all) *t = t->detach().clone().requires_grad_(true);
    if (tied)
        model.lmHead = model.embedTokens;
    else
        all.push_back(&(model.lmHead = model.lmHead.detach().clone().requires_grad_(true)));
    return all;
}

torch::Tensor crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets) {
    return torch::nn::functional::cross_entropy(
        logits.reshape({-1, logits.size(-1)}).to(torch::kFloat64), targets.reshape(-1));
}

struct LossAndGrads {
    torch::Tensor loss;
    std::vector<torch::Tensor> grads;  ///< undefined where a leaf got no gradient
};

LossAndGrads lossAndGrads(const std::function<torch::Tensor()>& loss,
                          const std::vector<torch::Tensor>& leaves) {
    LossAndGrads out;
    out.loss = loss();
    out.grads = torch::autograd::grad({out.loss}, leaves, {}, false, false, /*allow_unused=*/true);
    return out;
}

void expectSame(const LossAndGrads& checkpointed, const LossAndGrads& plain, double tolerance) {
    EXPECT_LT(relativeMaxDiff(checkpointed.loss, plain.loss), tolerance);
    ASSERT_EQ(checkpointed.grads.size(), plain.grads.size());
    for (std::size_t i = 0; i < plain.grads.size(); ++i) {
        ASSERT_EQ(checkpointed.grads[i].defined(), plain.grads[i].defined()) << "leaf " << i;
        if (!plain.grads[i].defined()) continue;
        EXPECT_EQ(checkpointed.grads[i].scalar_type(), plain.grads[i].scalar_type());
        EXPECT_LT(relativeMaxDiff(checkpointed.grads[i], plain.grads[i]), tolerance)
            << "leaf " << i;
    }
}

std::vector<torch::Tensor> values(const std::vector<torch::Tensor*>& pointers) {
    std::vector<torch::Tensor> out;
    for (const torch::Tensor* t : pointers) out.push_back(*t);
    return out;
}

/// Names of all autograd nodes reachable from `root`.
std::unordered_set<std::string> graphNodeNames(const torch::Tensor& root) {
    std::unordered_set<std::string> names;
    std::unordered_set<const torch::autograd::Node*> seen;
    std::vector<torch::autograd::Node*> stack{root.grad_fn().get()};
    while (!stack.empty()) {
        torch::autograd::Node* node = stack.back();
        stack.pop_back();
        if (!node || !seen.insert(node).second) continue;
        names.insert(node->name());
        for (const torch::autograd::Edge& e : node->next_edges()) stack.push_back(e.function.get());
    }
    return names;
}

bool anyNameContains(const std::unordered_set<std::string>& names, const std::string& part) {
    for (const std::string& n : names)
        if (n.find(part) != std::string::npos) return true;
    return false;
}

class LayerCheckpointTest : public SeededTest {};

TEST_F(LayerCheckpointTest, LossAndAllWeightGradientsMatchInFloat64) {
    for (const ModelConfig& config : {tinyConfig(4), tinyConfig(2, /*tied=*/true)}) {
        DecoderModel model(randomCheckpoint(config, 11, DType::F64), torch::kFloat64);
        const std::vector<torch::Tensor> leaves = values(makeLeaves(model));
        const torch::Tensor tokens = sampleTokens(config), targets = sampleTokens(config);
        auto run = [&](bool checkpoint) {
            ForwardOptions options;
            options.checkpointLayers = checkpoint;
            return lossAndGrads(
                [&] { return crossEntropy(model.forward(tokens, options), targets); }, leaves);
        };
        expectSame(run(true), run(false), kFloat64Tight);
    }
}

TEST_F(LayerCheckpointTest, FrozenWeightsAndInputStayWithoutGradient) {
    // Only layer 1's MLP trains: the embeddings (layer 0's input) and all else are frozen.
    const ModelConfig config = tinyConfig(4);
    DecoderModel model(randomCheckpoint(config, 5, DType::F64), torch::kFloat64);
    LayerWeights& w = model.layers[1];
    std::vector<torch::Tensor> leaves;
    for (torch::Tensor* t : {&w.gateProj, &w.upProj, &w.downProj})
        leaves.push_back(*t = t->detach().clone().requires_grad_(true));
    const torch::Tensor tokens = sampleTokens(config);
    auto run = [&](bool checkpoint) {
        ForwardOptions options;
        options.checkpointLayers = checkpoint;
        return lossAndGrads([&] { return model.forward(tokens, options).pow(2).mean(); }, leaves);
    };
    expectSame(run(true), run(false), kFloat64Tight);
}

TEST_F(LayerCheckpointTest, GatedStudentGradientsReachGatesAndMergedHeadsInFloat64) {
    GatedKvModel gated(randomCheckpoint(tinyConfig(4), 11, DType::F64), 2, torch::kFloat64);
    std::vector<torch::Tensor> leaves = values(makeLeaves(gated.model));
    for (auto* list : {&gated.mergedKeys, &gated.mergedValues})
        for (torch::Tensor& t : *list)
            leaves.push_back(t = t.detach().clone().requires_grad_(true));
    const ModelConfig& c = gated.config();
    const torch::Tensor z =
        torch::rand({c.numLayers, c.numHeads}, torch::kFloat64).requires_grad_(true);
    leaves.push_back(z);
    const torch::Tensor tokens = sampleTokens(c), targets = sampleTokens(c);
    auto run = [&](bool checkpoint) {
        return lossAndGrads(
            [&] {
                return crossEntropy(gated.forward(tokens, z, torch::kFloat64, checkpoint), targets);
            },
            leaves);
    };
    const LossAndGrads checkpointed = run(true);
    expectSame(checkpointed, run(false), kFloat64Tight);
    EXPECT_GT(checkpointed.grads.back().abs().min().item<double>(), 0.0);  // every gate
}

TEST_F(LayerCheckpointTest, BfloatComputeOverFloatMastersMatches) {
    GatedKvModel gated(randomCheckpoint(tinyConfig(4), 11), 2, torch::kFloat32);
    std::vector<torch::Tensor> leaves = values(makeLeaves(gated.model));
    for (auto* list : {&gated.mergedKeys, &gated.mergedValues})
        for (torch::Tensor& t : *list)
            leaves.push_back(t = t.detach().clone().requires_grad_(true));
    const ModelConfig& c = gated.config();
    const torch::Tensor z = torch::rand({c.numLayers, c.numHeads}).requires_grad_(true);
    leaves.push_back(z);
    const torch::Tensor tokens = sampleTokens(c), targets = sampleTokens(c);
    auto run = [&](bool checkpoint) {
        return lossAndGrads(
            [&] {
                return crossEntropy(gated.forward(tokens, z, torch::kBFloat16, checkpoint),
                                    targets);
            },
            leaves);
    };
    const LossAndGrads checkpointed = run(true);
    expectSame(checkpointed, run(false), kBfloat16Loose);
    for (const torch::Tensor& g : checkpointed.grads) EXPECT_EQ(g.scalar_type(), torch::kFloat32);
}

/// Scales each layer's own k_proj/v_proj by a trainable scalar and counts its calls: the
/// gradient must flow through tensors computed outside the checkpointed layer.
class ScaledSource final : public LayerWeightSource {
public:
    ScaledSource(const DecoderModel& model, torch::Tensor scale) : m_model(model), m_scale(scale) {}
    void substitute(std::int64_t layer, LayerWeights& w) const override {
        ++calls;
        w.kProj = m_scale * m_model.layers[layer].kProj;
        w.vProj = m_scale * m_model.layers[layer].vProj;
    }
    mutable int calls = 0;

private:
    const DecoderModel& m_model;
    torch::Tensor m_scale;
};

TEST_F(LayerCheckpointTest, KvSourceIsCalledOncePerLayerAndItsInputsGetGradients) {
    const ModelConfig config = tinyConfig(4);
    DecoderModel model(randomCheckpoint(config, 3, DType::F64), torch::kFloat64);
    std::vector<torch::Tensor> leaves = values(makeLeaves(model));
    const torch::Tensor scale = torch::full({}, 0.8, torch::kFloat64).requires_grad_(true);
    leaves.push_back(scale);
    const torch::Tensor tokens = sampleTokens(config);
    auto run = [&](bool checkpoint) {
        ScaledSource source(model, scale);
        ForwardOptions options;
        options.weightSource = &source;
        options.checkpointLayers = checkpoint;
        LossAndGrads out =
            lossAndGrads([&] { return model.forward(tokens, options).pow(2).mean(); }, leaves);
        EXPECT_EQ(source.calls, config.numLayers) << "checkpoint " << checkpoint;  // fwd + bwd
        return out;
    };
    expectSame(run(true), run(false), kFloat64Tight);
}

TEST_F(LayerCheckpointTest, GraphKeepsNoLayerInternals) {
    const ModelConfig config = tinyConfig(4);
    DecoderModel model(randomCheckpoint(config, 7, DType::F64), torch::kFloat64);
    makeLeaves(model);
    const torch::Tensor tokens = sampleTokens(config);
    ForwardOptions options;
    const auto plain = graphNodeNames(model.forward(tokens, options));
    options.checkpointLayers = true;
    const auto checkpointed = graphNodeNames(model.forward(tokens, options));
    EXPECT_TRUE(anyNameContains(plain, "Softmax"));
    EXPECT_FALSE(anyNameContains(checkpointed, "Softmax"));  // recomputed in backward instead
    EXPECT_FALSE(anyNameContains(checkpointed, "Silu"));
    EXPECT_TRUE(anyNameContains(checkpointed, "LayerCheckpoint"));
}

TEST_F(LayerCheckpointTest, WithoutGradModeTheFlagChangesNothing) {
    const ModelConfig config = tinyConfig(4);
    DecoderModel model(randomCheckpoint(config, 9), torch::kFloat32);
    makeLeaves(model);
    const torch::Tensor tokens = sampleTokens(config);
    torch::NoGradGuard noGrad;
    ForwardOptions options;
    const torch::Tensor plain = model.forward(tokens, options);
    options.checkpointLayers = true;
    const torch::Tensor checkpointed = model.forward(tokens, options);
    EXPECT_TRUE(torch::equal(checkpointed, plain));  // the very same computation
    EXPECT_FALSE(checkpointed.requires_grad());
    EXPECT_FALSE(checkpointed.grad_fn());
}

class NullObserver final : public AttentionObserver {
public:
    void observe(std::int64_t, const torch::Tensor&, const torch::Tensor&) override {}
};

TEST_F(LayerCheckpointTest, RefusesKvCacheAndObserver) {
    const ModelConfig config = tinyConfig(4);
    const DecoderModel model(randomCheckpoint(config, 2), torch::kFloat32);
    const torch::Tensor tokens = sampleTokens(config);
    KvCache cache(config.numLayers);
    NullObserver observer;
    ForwardOptions withCache, withObserver;
    withCache.cache = &cache;
    withObserver.observer = &observer;
    for (ForwardOptions* options : {&withCache, &withObserver}) {
        options->checkpointLayers = true;
        EXPECT_THROW(model.forward(tokens, *options), Error);
        torch::NoGradGuard noGrad;  // refused whatever the grad mode
        EXPECT_THROW(model.forward(tokens, *options), Error);
    }
}

TEST_F(LayerCheckpointTest, CheckpointLayerRoutesGradientsToListedTensorsOnly) {
    // checkpointLayer on its own: y = x * a + b, with b not requiring grad.
    const torch::Tensor x = torch::randn({3}, torch::kFloat64).requires_grad_(true);
    const torch::Tensor a = torch::randn({3}, torch::kFloat64).requires_grad_(true);
    const torch::Tensor b = torch::randn({3}, torch::kFloat64);
    const torch::Tensor y = checkpointLayer(
        [](const torch::Tensor& h, torch::TensorList t) { return h * t[0] + t[1]; }, x, {a, b});
    EXPECT_FALSE(anyNameContains(graphNodeNames(y), "Mul"));
    const auto grads = torch::autograd::grad({y.sum()}, {x, a});
    EXPECT_TRUE(torch::allclose(grads[0], a));
    EXPECT_TRUE(torch::allclose(grads[1], x));
}

}  // namespace
}  // namespace gqa::test
