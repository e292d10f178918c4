// SPDX-License-Identifier: GPL-3.0-or-later
// Every supported model family (docs/model-families.md) through the stages that touch its
// differences: the forward pass against an independent float64 per-token reference written from
// each family's Hugging Face definition, the KV cache, GQA duplicated into MHA, function-preserving
// alignment (partial rotary keys included), merging with biases, the gated model's two ends and
// the export's reload.

#include <cmath>
#include <map>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "alignment/alignment.h"
#include "alignment/leastsquaresmerge.h"
#include "alignment/mergedgqa.h"
#include "analysis/calibration.h"
#include "analysis/similarity.h"
#include "base/error.h"
#include "io/checkpoint.h"
#include "model/decodermodel.h"
#include "model/kvcache.h"
#include "testsupport.h"
#include "training/gatedkvmodel.h"

namespace gqa {
namespace {
using test::relativeMaxDiff;
using torch::Tensor;

struct FamilyCase {
    std::string label, family, fields;
    std::int64_t headDim = 8;
};

std::ostream& operator<<(std::ostream& os, const FamilyCase& c) { return os << c.label; }

/// One case per family, with the family's distinguishing options switched on.
std::vector<FamilyCase> familyCases() {
    return {
        {"llama_biased", "llama", R"({"attention_bias": true, "mlp_bias": true})"},
        {"qwen2", "qwen2", "{}"},
        {"gemma", "gemma", R"({"hidden_act": "gelu"})", 12},  // head_dim != hidden / heads
        {"phi", "phi", "{}"},                                 // partial rotary 0.5, all biases
        {"stablelm", "stablelm", R"({"use_qkv_bias": true})"},
        {"stablelm_parallel", "stablelm",
         R"({"use_parallel_residual": true, "partial_rotary_factor": 0.5})"},
        {"olmo", "olmo", R"({"attention_bias": true})"},
        {"mistral_window3", "mistral", R"({"sliding_window": 3})"},
    };
}

ModelConfig caseConfig(const FamilyCase& fc, std::int64_t kvHeads = 4) {
    ModelConfig shape = test::tinyConfig(kvHeads);
    shape.headDim = fc.headDim;
    return ModelConfig::ofFamily(fc.family, shape, fc.fields);
}

// ---------------------------------------------------------------------------------------------
// The reference: per token and per head, in float64, with each family's tensor names and
// formulas spelled out here (not read from core/'s family table), so that a wrong table entry or
// formula in core shows up as a mismatch.

struct Reference {
    const Checkpoint& ck;
    std::string family;
    bool has(const std::string& name) const { return ck.tensors.count(name) > 0; }
    Tensor w(const std::string& name) const { return ck.at(name).to(torch::kFloat64); }
    Tensor linear(const std::string& module, const Tensor& x) const {
        Tensor y = torch::mv(w(module + ".weight"), x);
        return has(module + ".bias") ? y + w(module + ".bias") : y;
    }
    std::string layer(std::int64_t l, const std::string& s) const {
        return "model.layers." + std::to_string(l) + "." + s;
    }
};

Tensor referenceNorm(const Reference& r, const std::string& module, const Tensor& x, double eps) {
    const std::string& f = r.family;
    if (f == "phi" || f == "stablelm" || f == "olmo") {
        const Tensor centred = x - x.mean();
        Tensor y = centred / torch::sqrt(centred.pow(2).mean() + eps);
        if (f == "olmo") return y;  // no parameters
        return y * r.w(module + ".weight") + r.w(module + ".bias");
    }
    const Tensor y = x / torch::sqrt(x.pow(2).mean() + eps);
    if (f == "gemma") return y * (1.0 + r.w(module + ".weight"));
    return y * r.w(module + ".weight");
}

Tensor referenceActivation(const std::string& name, const Tensor& x) {
    if (name == "silu") return x / (1.0 + torch::exp(-x));
    if (name == "gelu") return 0.5 * x * (1.0 + torch::erf(x / std::sqrt(2.0)));
    // gelu_new / gelu_pytorch_tanh
    return 0.5 * x * (1.0 + torch::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
}

/// RoPE of one head vector at position t: the first `rotary` dimensions in planes (m, m + r/2).
Tensor referenceRope(const Tensor& x, std::int64_t t, std::int64_t rotary, double theta) {
    Tensor y = x.clone();
    const std::int64_t half = rotary / 2;
    for (std::int64_t m = 0; m < half; ++m) {
        const double angle = double(t) / std::pow(theta, 2.0 * double(m) / double(rotary));
        const double a = x[m].item<double>(), b = x[m + half].item<double>();
        y[m] = a * std::cos(angle) - b * std::sin(angle);
        y[m + half] = b * std::cos(angle) + a * std::sin(angle);
    }
    return y;
}

/// Logits [T, V] of one sequence.
Tensor referenceLogits(const Checkpoint& ck, const std::vector<std::int64_t>& tokens) {
    const ModelConfig& c = ck.config;
    const Reference r{ck, c.family};
    const bool phi = r.family == "phi";
    const std::int64_t T = tokens.size(), D = c.hiddenSize, d = c.headDim, H = c.numHeads,
                       KV = c.numKvHeads;
    const double eps = r.family == "olmo" ? 1e-5 : c.normEps;
    const std::int64_t rotary = std::int64_t(double(d) * c.partialRotaryFactor);
    const bool parallel = phi || c.parallelResidual;
    std::vector<Tensor> x;
    for (std::int64_t tok : tokens) {
        Tensor e = r.w("model.embed_tokens.weight")[tok].clone();
        if (r.family == "gemma") e = e * std::sqrt(double(D));
        x.push_back(e);
    }
    const std::string o = phi ? "self_attn.dense" : "self_attn.o_proj";
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        std::vector<Tensor> n, q, k, v;
        for (std::int64_t t = 0; t < T; ++t) {
            n.push_back(referenceNorm(r, r.layer(l, "input_layernorm"), x[t], eps));
            q.push_back(r.linear(r.layer(l, "self_attn.q_proj"), n[t]).view({H, d}));
            k.push_back(r.linear(r.layer(l, "self_attn.k_proj"), n[t]).view({KV, d}));
            v.push_back(r.linear(r.layer(l, "self_attn.v_proj"), n[t]).view({KV, d}));
        }
        std::vector<Tensor> next;
        for (std::int64_t t = 0; t < T; ++t) {
            Tensor heads = torch::zeros({H, d}, torch::kFloat64);
            for (std::int64_t h = 0; h < H; ++h) {
                const std::int64_t g = h / (H / KV);
                const Tensor qh = referenceRope(q[t][h], t, rotary, c.ropeTheta);
                std::vector<double> scores;
                std::vector<std::int64_t> visible;
                for (std::int64_t s = 0; s <= t; ++s) {
                    if (c.slidingWindow > 0 && t - s >= c.slidingWindow) continue;
                    const Tensor ks = referenceRope(k[s][g], s, rotary, c.ropeTheta);
                    scores.push_back(torch::dot(qh, ks).item<double>() / std::sqrt(double(d)));
                    visible.push_back(s);
                }
                const double top = *std::max_element(scores.begin(), scores.end());
                double total = 0.0;
                for (double& s : scores) total += (s = std::exp(s - top));
                for (std::size_t i = 0; i < visible.size(); ++i)
                    heads[h] += scores[i] / total * v[visible[i]][g];
            }
            const Tensor attended = r.linear(r.layer(l, o), heads.reshape({H * d}));
            auto mlp = [&](const Tensor& in) {
                if (phi)
                    return r.linear(
                        r.layer(l, "mlp.fc2"),
                        referenceActivation("gelu_new", r.linear(r.layer(l, "mlp.fc1"), in)));
                const std::string act =
                    r.family == "gemma" ? "gelu" : "silu";  // the cases' activations
                return r.linear(
                    r.layer(l, "mlp.down_proj"),
                    referenceActivation(act, r.linear(r.layer(l, "mlp.gate_proj"), in)) *
                        r.linear(r.layer(l, "mlp.up_proj"), in));
            };
            if (parallel) {
                next.push_back(x[t] + attended + mlp(n[t]));
            } else {
                const Tensor mid = x[t] + attended;
                next.push_back(
                    mid + mlp(referenceNorm(r, r.layer(l, "post_attention_layernorm"), mid, eps)));
            }
        }
        x = next;
    }
    const std::string finalNorm = phi ? "model.final_layernorm" : "model.norm";
    const Tensor head =
        c.tieWordEmbeddings ? r.w("model.embed_tokens.weight") : r.w("lm_head.weight");
    std::vector<Tensor> logits;
    for (std::int64_t t = 0; t < T; ++t) {
        Tensor y = torch::mv(head, referenceNorm(r, finalNorm, x[t], eps));
        if (r.has("lm_head.bias")) y = y + r.w("lm_head.bias");
        logits.push_back(y);
    }
    return torch::stack(logits);
}

Tensor modelLogits(const Checkpoint& ck, const Tensor& tokens) {
    torch::NoGradGuard noGrad;
    return DecoderModel(ck, torch::kFloat64).forward(tokens);
}

Tensor sampleTokens(std::int64_t length, std::int64_t vocab, std::uint64_t seed) {
    return torch::tensor(test::randomIds(length, vocab, seed), torch::kLong).unsqueeze(0);
}

/// A random admissible key transform: a rotation per RoPE plane of the first `rotary`
/// dimensions, any orthogonal map on the rest.
Tensor randomKeyTransform(std::int64_t d, std::int64_t rotary) {
    Tensor t = torch::zeros({d, d}, torch::kFloat64);
    const std::int64_t half = rotary / 2;
    for (std::int64_t m = 0; m < half; ++m) {
        const double a = torch::rand({1}, torch::kFloat64).item<double>() * 6.0;
        t[m][m] = std::cos(a);
        t[m][m + half] = -std::sin(a);
        t[m + half][m] = std::sin(a);
        t[m + half][m + half] = std::cos(a);
    }
    if (rotary < d)
        t.narrow(0, rotary, d - rotary)
            .narrow(1, rotary, d - rotary)
            .copy_(std::get<0>(
                at::linalg_qr(torch::randn({d - rotary, d - rotary}, torch::kFloat64))));
    return t;
}

Tensor randomOrthogonal(std::int64_t d) {
    return std::get<0>(at::linalg_qr(torch::randn({d, d}, torch::kFloat64)));
}

class ModelFamily : public ::testing::TestWithParam<FamilyCase> {
protected:
    void SetUp() override { torch::manual_seed(7); }
};

TEST_P(ModelFamily, ForwardMatchesAnIndependentFloat64Reference) {
    const ModelConfig c = caseConfig(GetParam());
    const Checkpoint ck = test::randomCheckpoint(c, 3, DType::F64);
    const Tensor tokens = sampleTokens(9, c.vocabSize, 5);
    const std::vector<std::int64_t> ids(tokens.data_ptr<std::int64_t>(),
                                        tokens.data_ptr<std::int64_t>() + tokens.numel());
    const Tensor expected = referenceLogits(ck, ids);
    const Tensor got = modelLogits(ck, tokens)[0];
    EXPECT_LT(relativeMaxDiff(got, expected), 1e-10);
}

TEST_P(ModelFamily, KvCacheDecodingMatchesTheFullForward) {
    const ModelConfig c = caseConfig(GetParam());
    const Checkpoint ck = test::randomCheckpoint(c, 4, DType::F64);
    const Tensor tokens = sampleTokens(10, c.vocabSize, 6);
    const Tensor full = modelLogits(ck, tokens);
    torch::NoGradGuard noGrad;
    const DecoderModel model(ck, torch::kFloat64);
    KvCache cache(c.numLayers);
    ForwardOptions options;
    options.cache = &cache;
    std::vector<Tensor> steps{model.forward(tokens.slice(1, 0, 6), options)};
    for (std::int64_t t = 6; t < 10; ++t)
        steps.push_back(model.forward(tokens.slice(1, t, t + 1), options));
    EXPECT_LT(relativeMaxDiff(torch::cat(steps, 1), full), 1e-10);
}

TEST_P(ModelFamily, AGqaModelDuplicatedIntoMhaGivesIdenticalLogits) {
    const ModelConfig gqa = caseConfig(GetParam(), /*kvHeads=*/2);
    const Checkpoint ck = test::randomCheckpoint(gqa, 5, DType::F64);
    Checkpoint mha = ck;
    mha.config.numKvHeads = gqa.numHeads;
    const std::int64_t rep = gqa.numHeads / gqa.numKvHeads, d = gqa.headDim;
    for (std::int64_t l = 0; l < gqa.numLayers; ++l)
        for (LayerTensor role :
             {LayerTensor::KWeight, LayerTensor::VWeight, LayerTensor::KBias, LayerTensor::VBias}) {
            if (!storesTensor(gqa, role)) continue;
            const std::string name = tensorName(gqa, l, role);
            const Tensor w = ck.at(name);
            const std::int64_t columns = w.dim() == 2 ? w.size(1) : 1;
            Tensor wide = w.view({gqa.numKvHeads, 1, d, columns})
                              .expand({gqa.numKvHeads, rep, d, columns})
                              .reshape({gqa.numHeads * d, columns});
            mha.set(name, w.dim() == 2 ? wide.contiguous() : wide.reshape({-1}).contiguous());
        }
    const Tensor tokens = sampleTokens(8, gqa.vocabSize, 7);
    EXPECT_LT(relativeMaxDiff(modelLogits(mha, tokens), modelLogits(ck, tokens)), 1e-12);
}

TEST_P(ModelFamily, AlignmentWithAdmissibleTransformsKeepsTheFunction) {
    const ModelConfig c = caseConfig(GetParam());
    const Checkpoint ck = test::randomCheckpoint(c, 8, DType::F64);
    Checkpoint aligned = ck;
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        LayerAlignment a = permutationOnly({{2, 0}, {1, 3}}, c.headDim);
        for (std::int64_t h = 0; h < c.numHeads; ++h) {
            a.keyTransforms[h] = randomKeyTransform(c.headDim, c.rotaryDims());
            a.valueTransforms[h] = randomOrthogonal(c.headDim);
        }
        applyLayerAlignment(aligned, l, a);
    }
    const Tensor tokens = sampleTokens(9, c.vocabSize, 9);
    const Tensor before = modelLogits(ck, tokens);
    EXPECT_LT(relativeMaxDiff(modelLogits(aligned, tokens), before), 1e-10);
    if (storesTensor(c, LayerTensor::KBias))  // the biases were transformed, not left behind
        EXPECT_GT(relativeMaxDiff(aligned.at(tensorName(c, 0, LayerTensor::KBias)),
                                  ck.at(tensorName(c, 0, LayerTensor::KBias))),
                  1e-3);
}

TEST_P(ModelFamily, MergingGroupsOfIdenticalHeadsIsExactBiasesIncluded) {
    const ModelConfig c = caseConfig(GetParam());
    Checkpoint ck = test::randomCheckpoint(c, 10, DType::F64);
    // Heads 2g and 2g + 1 share their keys and values (weights and biases): the merge of
    // consecutive pairs is then exact, and the least-squares merge too.
    const std::int64_t d = c.headDim;
    for (std::int64_t l = 0; l < c.numLayers; ++l)
        for (LayerTensor role :
             {LayerTensor::KWeight, LayerTensor::VWeight, LayerTensor::KBias, LayerTensor::VBias}) {
            if (!storesTensor(c, role)) continue;
            const std::string name = tensorName(c, l, role);
            Tensor w = ck.at(name).clone();
            for (std::int64_t g = 0; g < 2; ++g)
                w.narrow(0, (2 * g + 1) * d, d).copy_(w.narrow(0, 2 * g * d, d));
            ck.set(name, w);
        }
    const Tensor tokens = sampleTokens(9, c.vocabSize, 11);
    const Tensor mha = modelLogits(ck, tokens);
    const Checkpoint merged = mergeToGqa(ck, 2);
    EXPECT_EQ(merged.config.numKvHeads, 2);
    EXPECT_LT(relativeMaxDiff(modelLogits(merged, tokens), mha), 1e-10);

    NullProgress quiet;
    const std::vector<LayerStatistics> stats = calibrateTokens(
        DecoderModel(ck, torch::kFloat64), {test::randomIds(16, c.vocabSize, 12)}, 1, quiet);
    const Checkpoint refit = leastSquaresMergeToGqa(ck, stats, 2);
    EXPECT_LT(relativeMaxDiff(modelLogits(refit, tokens), mha), 1e-8);
}

TEST_P(ModelFamily, CalibratedAlignmentKeepsTheFunctionAndLeastSquaresNeverCostsMore) {
    const ModelConfig c = caseConfig(GetParam());
    const Checkpoint ck = test::randomCheckpoint(c, 13, DType::F64);
    NullProgress quiet;
    const std::vector<LayerStatistics> stats = calibrateTokens(
        DecoderModel(ck, torch::kFloat64),
        {test::randomIds(24, c.vocabSize, 14), test::randomIds(24, c.vocabSize, 15)}, 2, quiet);
    ASSERT_EQ(stats[0].keys.rotaryDimensions(), c.rotaryDims());
    std::vector<LayerAlignment> layers;
    std::vector<LayerStatistics> alignedStats;
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        layers.push_back(alignLayer(stats[l], {{0, 1, 2, 3}}, AlignmentConfig{}));
        alignedStats.push_back(alignedStatistics(stats[l], layers.back()));
        // Aligned keys are at least as similar as before (the transform may be the identity).
        const SimilarityMatrices keys =
            headSimilarity(stats[l].keys, HeadKind::Keys, Criterion::Cos);
        EXPECT_GE(meanOffDiagonal(keys.after), meanOffDiagonal(keys.before) - 1e-12);
        const MergeCost mean = predictMergeCost(alignedStats.back(), 1);
        const MergeCost ls = predictLeastSquaresMergeCost(alignedStats.back(), 1);
        EXPECT_LE(ls.keyResidual, mean.keyResidual + 1e-12);
        EXPECT_LE(ls.valueResidual, mean.valueResidual + 1e-12);
    }
    const Checkpoint aligned = alignCheckpoint(ck, layers);
    const Tensor tokens = sampleTokens(9, c.vocabSize, 16);
    EXPECT_LT(relativeMaxDiff(modelLogits(aligned, tokens), modelLogits(ck, tokens)), 1e-10);
}

TEST_P(ModelFamily, GatedModelIsTheMhaModelAtOneAndItsReloadedExportAtZero) {
    const ModelConfig c = caseConfig(GetParam());
    const Checkpoint ck = test::randomCheckpoint(c, 17, DType::F64);
    GatedKvModel gated(ck, 2, torch::kFloat64);
    // Move the merged heads away from the means so that the export's k/v (and biases) matter.
    for (auto& [name, t] : gated.mergedTensors()) *t = *t + 0.05 * torch::randn_like(*t);
    const Tensor tokens = sampleTokens(8, c.vocabSize, 18);
    torch::NoGradGuard noGrad;
    const Tensor ones = torch::ones({c.numLayers, c.numHeads}, torch::kFloat64);
    EXPECT_LT(
        relativeMaxDiff(gated.forward(tokens, ones, torch::kFloat64), modelLogits(ck, tokens)),
        1e-12);

    const std::string folder = test::scratchFolder("family-export");
    gated.exportGqa(DType::F64).save(folder);
    const Checkpoint reloaded = Checkpoint::load(folder);
    EXPECT_EQ(reloaded.config.family, c.family);
    EXPECT_EQ(reloaded.config.numKvHeads, 2);
    EXPECT_EQ(reloaded.config.rotaryDims(), c.rotaryDims());
    EXPECT_EQ(reloaded.config.slidingWindow, c.slidingWindow);
    EXPECT_EQ(reloaded.config.qkvBias, c.qkvBias);
    const Tensor zeros = torch::zeros({c.numLayers, c.numHeads}, torch::kFloat64);
    EXPECT_LT(relativeMaxDiff(gated.forward(tokens, zeros, torch::kFloat64),
                              modelLogits(reloaded, tokens)),
              1e-12);
}

INSTANTIATE_TEST_SUITE_P(Families, ModelFamily, ::testing::ValuesIn(familyCases()),
                         [](const auto& info) { return info.param.label; });

TEST(ModelFamilies, AKeyTransformMixingRotaryAndPassThroughDimensionsChangesTheFunction) {
    torch::manual_seed(19);
    const ModelConfig c = caseConfig({"phi", "phi", "{}"});
    ASSERT_EQ(c.rotaryDims(), 4);
    const Checkpoint ck = test::randomCheckpoint(c, 20, DType::F64);
    Checkpoint mixed = ck;
    LayerAlignment a = permutationOnly({{0, 1}, {2, 3}}, c.headDim);
    // Orthogonal, but it carries rotary coordinates into the pass-through block.
    a.keyTransforms[1] = randomOrthogonal(c.headDim);
    applyLayerAlignment(mixed, 0, a);
    const Tensor tokens = sampleTokens(9, c.vocabSize, 21);
    EXPECT_GT(relativeMaxDiff(modelLogits(mixed, tokens), modelLogits(ck, tokens)), 1e-6);
}

TEST(ModelFamilies, ConfigsWithFeaturesTheAlignmentCannotCarryAreRefusedByField) {
    const ModelConfig shape = test::tinyConfig();
    auto refusal = [&](const std::string& family, const std::string& fields) -> std::string {
        try {
            ModelConfig::ofFamily(family, shape, fields);
        } catch (const InputError& e) {
            return e.what();
        }
        return "accepted";
    };
    EXPECT_NE(refusal("phi", R"({"qk_layernorm": true})").find("'qk_layernorm'"),
              std::string::npos);
    EXPECT_NE(refusal("stablelm", R"({"qk_layernorm": true})").find("'qk_layernorm'"),
              std::string::npos);
    EXPECT_NE(refusal("olmo", R"({"clip_qkv": 8.0})").find("'clip_qkv'"), std::string::npos);
    EXPECT_NE(refusal("qwen2", R"({"use_sliding_window": true})").find("'use_sliding_window'"),
              std::string::npos);
    EXPECT_NE(refusal("llama", R"({"rope_scaling": {"type": "dynamic", "factor": 2.0}})")
                  .find("'rope_scaling'"),
              std::string::npos);
    EXPECT_NE(
        refusal("gemma", R"({"hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh"})")
            .find("'hidden_activation'"),
        std::string::npos);
    EXPECT_NE(refusal("phi", R"({"partial_rotary_factor": 0.375})").find("'partial_rotary_factor'"),
              std::string::npos);  // 3 rotary dimensions of 8: odd
    EXPECT_NE(refusal("llama", R"({"hidden_act": "relu2"})").find("'hidden_act'"),
              std::string::npos);
    EXPECT_NE(refusal("nope", "{}").find("unknown model family"), std::string::npos);
    EXPECT_THROW(
        ModelConfig::fromJson(R"({"architectures": ["FalconForCausalLM"]})", "config.json"),
        InputError);
    EXPECT_THROW(ModelConfig::fromJson(
                     R"({"architectures": ["PhiForCausalLM"], "model_type": "llama"})", "c.json"),
                 InputError);
}

TEST(ModelFamilies, HuggingFaceDefaultsApplyWhenAFieldIsAbsent) {
    const ModelConfig shape = test::tinyConfig();
    const ModelConfig phi = ModelConfig::ofFamily("phi", shape);
    EXPECT_EQ(phi.rotaryDims(), 4);  // partial_rotary_factor 0.5
    EXPECT_TRUE(phi.parallelResidual && phi.qkvBias && phi.outputBias && phi.mlpBias &&
                phi.lmHeadBias);
    EXPECT_EQ(phi.activation, Activation::GeluTanh);
    const ModelConfig stablelm = ModelConfig::ofFamily("stablelm", shape);
    EXPECT_EQ(stablelm.rotaryDims(), 2);  // 0.25 of 8
    EXPECT_FALSE(stablelm.parallelResidual || stablelm.qkvBias);
    const ModelConfig gemma = ModelConfig::fromJson(
        R"({"architectures": ["GemmaForCausalLM"], "vocab_size": 61, "hidden_size": 32,
            "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
            "head_dim": 16})",
        "gemma.json");
    EXPECT_TRUE(gemma.tieWordEmbeddings);  // GemmaConfig ties by default
    EXPECT_EQ(gemma.activation, Activation::GeluTanh);
    EXPECT_EQ(gemma.norm(), NormKind::RmsUnitOffset);
    const ModelConfig olmo = ModelConfig::ofFamily("olmo", shape);
    EXPECT_DOUBLE_EQ(olmo.normEps, 1e-5);  // fixed in OlmoLayerNorm
    EXPECT_FALSE(storesTensor(olmo, LayerTensor::InputNormWeight));
}

TEST(ModelFamilies, WritingAConfigKeepsEveryOtherFieldAndTheFamily) {
    const std::string source =
        R"({"architectures": ["StableLmForCausalLM"], "model_type": "stablelm",
        "vocab_size": 61, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "use_qkv_bias": true,
        "partial_rotary_factor": 0.25, "layer_norm_eps": 1e-5, "hidden_dropout": 0.0,
        "my_custom_field": {"kept": [1, 2]}})";
    ModelConfig c = ModelConfig::fromJson(source, "config.json");
    c.numKvHeads = 2;
    const std::string written = c.toJson();
    EXPECT_NE(written.find("\"my_custom_field\""), std::string::npos);
    EXPECT_NE(written.find("\"hidden_dropout\""), std::string::npos);
    const ModelConfig back = ModelConfig::fromJson(written, "written.json");
    EXPECT_EQ(back.family, "stablelm");
    EXPECT_EQ(back.numKvHeads, 2);
    EXPECT_TRUE(back.qkvBias);
    EXPECT_EQ(back.rotaryDims(), 2);
    EXPECT_NE(written.find("\"StableLmForCausalLM\""), std::string::npos);
}

TEST(ModelFamilies, SlidingWindowHidesKeysAtOrBeyondTheWindowAsCurrentHuggingFaceDoes) {
    // Window 2: the query at position 3 sees positions 2 and 3 only, so changing token 1 leaves
    // its logits alone in the first layer's attention... but not after two layers (the key at 2
    // already saw 1). With one layer the last logits must not change.
    ModelConfig shape = test::tinyConfig();
    shape.numLayers = 1;
    const ModelConfig c = ModelConfig::ofFamily("mistral", shape, R"({"sliding_window": 2})");
    const Checkpoint ck = test::randomCheckpoint(c, 22, DType::F64);
    Tensor a = torch::tensor({5, 6, 7, 8}, torch::kLong).unsqueeze(0);
    Tensor b = torch::tensor({5, 9, 7, 8}, torch::kLong).unsqueeze(0);
    const Tensor la = modelLogits(ck, a), lb = modelLogits(ck, b);
    EXPECT_LT(relativeMaxDiff(la[0][3], lb[0][3]), 1e-14);  // position 1 is out of the window
    EXPECT_GT(relativeMaxDiff(la[0][2], lb[0][2]), 1e-6);   // position 2 still sees position 1
}

}  // namespace
}  // namespace gqa
