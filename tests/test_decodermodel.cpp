// SPDX-License-Identifier: GPL-3.0-or-later
// Exactness of the batched Llama forward against a slow, independent per-token reference.
#include <cmath>

#include "base/error.h"
#include "model/decodermodel.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

using torch::indexing::Slice;

/// Float64 reference: one token at a time, explicit loops over heads and key positions, RoPE
/// written out per plane (m, m + d/2). Shares no code with DecoderModel.
torch::Tensor referenceLogits(const Checkpoint& ck, const std::vector<std::int64_t>& tokens) {
    const ModelConfig& c = ck.config;
    auto W = [&](const std::string& n) { return ck.at(n).to(torch::kFloat64); };
    const std::int64_t d = c.headDim, H = c.numHeads, KV = c.numKvHeads, T = tokens.size();
    auto norm = [&](const torch::Tensor& x, const torch::Tensor& w) {
        return w * x / std::sqrt(x.pow(2).mean().item<double>() + c.normEps);
    };
    auto rope = [&](torch::Tensor v, std::int64_t pos) {
        torch::Tensor out = v.clone();
        for (std::int64_t m = 0; m < d / 2; ++m) {
            const double angle = pos * std::pow(c.ropeTheta, -2.0 * m / d);
            const double a = v[m].item<double>(), b = v[m + d / 2].item<double>();
            out[m] = a * std::cos(angle) - b * std::sin(angle);
            out[m + d / 2] = b * std::cos(angle) + a * std::sin(angle);
        }
        return out;
    };
    torch::Tensor embed = W("model.embed_tokens.weight");
    std::vector<torch::Tensor> xs;
    for (std::int64_t t = 0; t < T; ++t) xs.push_back(embed[tokens[t]].clone());
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        auto L = [&](const std::string& s) { return W(layerTensorName(l, s)); };
        torch::Tensor wq = L("self_attn.q_proj.weight"), wk = L("self_attn.k_proj.weight"),
                      wv = L("self_attn.v_proj.weight"), wo = L("self_attn.o_proj.weight");
        std::vector<torch::Tensor> keys, values, queries;
        for (std::int64_t t = 0; t < T; ++t) {
            torch::Tensor n = norm(xs[t], L("input_layernorm.weight"));
            queries.push_back(torch::mv(wq, n));
            keys.push_back(torch::mv(wk, n));
            values.push_back(torch::mv(wv, n));
        }
        std::vector<torch::Tensor> next;
        for (std::int64_t t = 0; t < T; ++t) {
            torch::Tensor concat = torch::zeros({H * d}, torch::kFloat64);
            for (std::int64_t h = 0; h < H; ++h) {
                const std::int64_t g = h / (H / KV);
                torch::Tensor q = rope(queries[t].slice(0, h * d, (h + 1) * d), t);
                std::vector<double> scores;
                for (std::int64_t s = 0; s <= t; ++s) {
                    torch::Tensor k = rope(keys[s].slice(0, g * d, (g + 1) * d), s);
                    scores.push_back(torch::dot(q, k).item<double>() / std::sqrt(double(d)));
                }
                const double mx = *std::max_element(scores.begin(), scores.end());
                double z = 0;
                for (double& s : scores) z += (s = std::exp(s - mx));
                for (std::int64_t s = 0; s <= t; ++s)
                    concat.slice(0, h * d, (h + 1) * d) +=
                        scores[s] / z * values[s].slice(0, g * d, (g + 1) * d);
            }
            torch::Tensor x = xs[t] + torch::mv(wo, concat);
            torch::Tensor n = norm(x, L("post_attention_layernorm.weight"));
            torch::Tensor gate = torch::mv(L("mlp.gate_proj.weight"), n);
            torch::Tensor act =
                gate / (1 + torch::exp(-gate)) * torch::mv(L("mlp.up_proj.weight"), n);
            next.push_back(x + torch::mv(L("mlp.down_proj.weight"), act));
        }
        xs = next;
    }
    torch::Tensor head = c.tieWordEmbeddings ? embed : W("lm_head.weight");
    std::vector<torch::Tensor> rows;
    for (auto& x : xs) rows.push_back(torch::mv(head, norm(x, W("model.norm.weight"))));
    return torch::stack(rows);
}

std::vector<std::int64_t> sampleTokens(std::int64_t n, std::int64_t vocab, std::uint64_t seed) {
    torch::manual_seed(seed);
    torch::Tensor t = torch::randint(vocab, {n}, torch::kLong);
    return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + n);
}

struct Shape {
    std::int64_t kvHeads;
    bool tied;
};
class LlamaExactness : public ::testing::TestWithParam<Shape> {};

TEST_P(LlamaExactness, BatchedForwardMatchesPerTokenReferenceInFloat64) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(GetParam().kvHeads, GetParam().tied), 7);
    const auto tokens = sampleTokens(12, ck.config.vocabSize, 3);
    DecoderModel model(ck, torch::kFloat64);
    torch::Tensor logits = model.forward(torch::tensor(tokens).unsqueeze(0))[0];
    EXPECT_LT(relativeMaxDiff(logits, referenceLogits(ck, tokens)), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(MhaAndGqa, LlamaExactness,
                         ::testing::Values(Shape{4, false}, Shape{2, false}, Shape{1, false},
                                           Shape{4, true}));

TEST(DecoderModel, BatchRowsAreIndependent) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(2), 11);
    DecoderModel model(ck, torch::kFloat64);
    torch::Tensor a = torch::tensor(sampleTokens(9, 61, 1)),
                  b = torch::tensor(sampleTokens(9, 61, 2));
    torch::Tensor both = model.forward(torch::stack({a, b}));
    EXPECT_LT(relativeMaxDiff(both[1], model.forward(b.unsqueeze(0))[0]), 1e-12);
}

// The layer-wise least-squares fit runs the model one layer at a time: embed, then every layer,
// must be the forward (before the final norm), with the observer seeing the same keys and values.
TEST(DecoderModel, OneLayerAtATimeIsTheForward) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(2), 23, DType::F64);
    const DecoderModel model(ck, torch::kFloat64);
    const torch::Tensor tokens = torch::tensor(randomIds(14, ck.config.vocabSize, 3)).view({2, 7});
    torch::Tensor hidden = model.embed(tokens);
    for (std::int64_t l = 0; l < ck.config.numLayers; ++l) hidden = model.layerForward(l, hidden);
    const torch::Tensor stepwise =
        normalize(ck.config, hidden, model.finalNorm, model.finalNormBias);
    EXPECT_LT(relativeMaxDiff(stepwise, model.hiddenStates(tokens)), 1e-12);
    EXPECT_THROW(model.layerForward(ck.config.numLayers, hidden), Error);
}

TEST(DecoderModel, GqaDuplicatedIntoMhaGivesIdenticalLogits) {
    const Checkpoint gqa = randomCheckpoint(tinyConfig(2), 5);
    Checkpoint mha = gqa;
    mha.config.numKvHeads = 4;
    const std::int64_t d = gqa.config.headDim, rep = 2;
    for (std::int64_t l = 0; l < gqa.config.numLayers; ++l)
        for (const char* proj : {"self_attn.k_proj.weight", "self_attn.v_proj.weight"}) {
            const std::string name = layerTensorName(l, proj);
            torch::Tensor w = gqa.at(name).view({2, d, -1});  // [KV, d, D]
            mha.set(name, w.repeat_interleave(rep, 0).reshape({4 * d, -1}).contiguous());
        }
    const auto tokens = sampleTokens(10, 61, 9);
    torch::Tensor input = torch::tensor(tokens).unsqueeze(0);
    EXPECT_EQ(relativeMaxDiff(DecoderModel(mha, torch::kFloat64).forward(input),
                              DecoderModel(gqa, torch::kFloat64).forward(input)),
              0.0);
}

TEST(DecoderModel, CachedDecodingEqualsFullRecompute) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(2), 13);
    DecoderModel model(ck, torch::kFloat64);
    const auto tokens = sampleTokens(11, 61, 4);
    torch::Tensor full = model.forward(torch::tensor(tokens).unsqueeze(0))[0];
    KvCache cache(ck.config.numLayers);
    ForwardOptions options;
    options.cache = &cache;
    // Prefill 5 tokens, then one at a time.
    std::vector<torch::Tensor> rows{model.forward(
        torch::tensor(std::vector<std::int64_t>(tokens.begin(), tokens.begin() + 5)).unsqueeze(0),
        options)[0]};
    for (std::size_t t = 5; t < tokens.size(); ++t)
        rows.push_back(model.forward(torch::tensor({tokens[t]}).unsqueeze(0), options)[0]);
    EXPECT_LT(relativeMaxDiff(torch::cat(rows), full), 1e-12);
    EXPECT_EQ(cache.length(), 11);
    // 2 (K and V) x layers x kvHeads x headDim x positions x 8 bytes
    EXPECT_EQ(cache.bytes(), 2u * 2 * 2 * 8 * 11 * 8);
}

TEST(DecoderModel, Float32AndBfloat16StayCloseToFloat64) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(2), 17);
    torch::Tensor input = torch::tensor(sampleTokens(10, 61, 5)).unsqueeze(0);
    torch::Tensor exact = DecoderModel(ck, torch::kFloat64).forward(input);
    EXPECT_LT(relativeMaxDiff(DecoderModel(ck, torch::kFloat32).forward(input), exact), 1e-5);
    EXPECT_LT(relativeMaxDiff(DecoderModel(ck, torch::kBFloat16).forward(input), exact), 5e-2);
}

TEST(DecoderModel, ToCheckpointRoundTripsWeightsExactly) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(2, true), 19);
    const Checkpoint back = DecoderModel(ck, torch::kFloat32).toCheckpoint(DType::F32);
    ASSERT_EQ(back.order.size(), ck.order.size());
    for (const auto& name : ck.order) EXPECT_TRUE(torch::equal(back.at(name), ck.at(name))) << name;
    EXPECT_EQ(back.config.numKvHeads, 2);
}

TEST(DecoderModel, ModelRunsFromALoadedCheckpointAndRejectsBadTokenShapes) {
    const std::string folder = writeRandomModel(tinyConfig(4), 23);
    DecoderModel model(Checkpoint::load(folder));
    EXPECT_EQ(model.forward(torch::tensor(sampleTokens(4, 61, 1)).unsqueeze(0)).sizes(),
              (std::vector<std::int64_t>{1, 4, 61}));
    EXPECT_THROW(model.forward(torch::tensor(sampleTokens(4, 61, 1))), InputError);
}

}  // namespace
}  // namespace gqa::test

namespace gqa::test {
namespace {

TEST(DecoderModel, ForwardOnGpuMatchesCpu_CUDA) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    const Checkpoint ck = randomCheckpoint(tinyConfig(2), 29);
    torch::Tensor input = torch::tensor(sampleTokens(10, 61, 6)).unsqueeze(0);
    torch::Tensor cpu = DecoderModel(ck, torch::kFloat32).forward(input);
    torch::Tensor gpu = DecoderModel(ck, torch::kFloat32, torch::kCUDA).forward(input);
    EXPECT_LT(relativeMaxDiff(gpu, cpu), 1e-4);
}

}  // namespace
}  // namespace gqa::test
