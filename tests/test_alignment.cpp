// SPDX-License-Identifier: GPL-3.0-or-later
// Function-preserving alignment and training-free merging: exact invariants in float64.
#include <cmath>

#include "alignment/alignment.h"
#include "analysis/calibration.h"
#include "base/error.h"
#include "analysis/grouping.h"
#include "model/decodermodel.h"
#include "alignment/mergedgqa.h"
#include "alignment/procrustes.h"
#include "analysis/similarity.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

torch::Tensor randomOrthogonal(std::int64_t d) {
    return std::get<0>(torch::linalg_qr(torch::randn({d, d}, torch::kFloat64)));
}

/// Block rotation on the RoPE planes (m, m + d/2); `reflectPlane` >= 0 flips that plane instead.
torch::Tensor randomPlaneRotation(std::int64_t d, std::int64_t reflectPlane = -1) {
    torch::Tensor r = torch::zeros({d, d}, torch::kFloat64);
    for (std::int64_t m = 0; m < d / 2; ++m) {
        const double phi = torch::rand({1}, torch::kFloat64).item<double>() * 6.283185307179586;
        const double c = std::cos(phi), sn = std::sin(phi);
        const bool reflect = m == reflectPlane;  // det -1: [[c, s], [s, -c]]
        r[m][m] = c;
        r[m][m + d / 2] = reflect ? sn : -sn;
        r[m + d / 2][m] = sn;
        r[m + d / 2][m + d / 2] = reflect ? -c : c;
    }
    return r;
}

torch::Tensor logitsOf(const Checkpoint& ck) {
    std::vector<std::int64_t> tokens;
    for (int i = 0; i < 14; ++i) tokens.push_back((i * 11 + 5) % ck.config.vocabSize);
    return DecoderModel(ck, torch::kFloat64).forward(torch::tensor(tokens).unsqueeze(0));
}

LayerAlignment randomAlignment(std::int64_t heads, std::int64_t d, std::int64_t groups) {
    torch::Tensor perm = torch::randperm(heads, torch::kLong);
    Grouping g(groups);
    for (std::int64_t i = 0; i < heads; ++i)
        g[i / (heads / groups)].push_back(perm[i].item<std::int64_t>());
    LayerAlignment a = permutationOnly(g, d);
    for (std::int64_t h = 0; h < heads; ++h) {
        a.keyTransforms[h] = randomPlaneRotation(d);
        a.valueTransforms[h] = randomOrthogonal(d);
    }
    return a;
}

class Alignment : public SeededTest {};

TEST_F(Alignment, PermutationAndTransformsLeaveLogitsUnchanged) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(), 3, DType::F64);
    std::vector<LayerAlignment> layers;
    for (int l = 0; l < 2; ++l) layers.push_back(randomAlignment(4, 8, 2));
    const Checkpoint aligned = alignCheckpoint(ck, layers);
    EXPECT_LT(relativeMaxDiff(logitsOf(aligned), logitsOf(ck)), 1e-12);
    EXPECT_FALSE(torch::equal(aligned.at("model.layers.0.self_attn.k_proj.weight"),
                              ck.at("model.layers.0.self_attn.k_proj.weight")));
}

TEST_F(Alignment, KeyReflectionOrGeneralOrthogonalBreaksTheModel) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(), 5, DType::F64);
    for (int variant = 0; variant < 2; ++variant) {
        std::vector<LayerAlignment> layers{randomAlignment(4, 8, 2),
                                           permutationOnly({{0, 1}, {2, 3}}, 8)};
        layers[0].keyTransforms[1] =
            variant == 0 ? randomPlaneRotation(8, /*reflectPlane=*/1) : randomOrthogonal(8);
        EXPECT_GT(relativeMaxDiff(logitsOf(alignCheckpoint(ck, layers)), logitsOf(ck)), 1e-6)
            << (variant == 0 ? "plane reflection" : "general orthogonal");
    }
}

TEST_F(Alignment, ValueOutputAbsorptionIsExactForAnyOrthogonalMatrix) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(), 7, DType::F64);
    std::vector<LayerAlignment> layers{permutationOnly({{0, 1}, {2, 3}}, 8),
                                       permutationOnly({{0, 1}, {2, 3}}, 8)};
    for (auto& t : layers[1].valueTransforms) t = randomOrthogonal(8);  // reflections allowed
    EXPECT_LT(relativeMaxDiff(logitsOf(alignCheckpoint(ck, layers)), logitsOf(ck)), 1e-12);
}

TEST_F(Alignment, MergeOfConsecutiveHeadsIsTheMeanAndReadsKvHeadHOverK) {
    const Checkpoint ck = randomCheckpoint(tinyConfig(), 9, DType::F64);
    const Checkpoint gqa = mergeToGqa(ck, 2);
    EXPECT_EQ(gqa.config.numKvHeads, 2);
    const torch::Tensor k = ck.at("model.layers.1.self_attn.k_proj.weight");
    const torch::Tensor merged = gqa.at("model.layers.1.self_attn.k_proj.weight");
    EXPECT_LT(
        relativeMaxDiff(merged.slice(0, 8, 16), (k.slice(0, 16, 24) + k.slice(0, 24, 32)) / 2),
        1e-15);
    EXPECT_THROW(mergeToGqa(ck, 3), InputError);
    EXPECT_THROW(mergeToGqa(gqa, 1), InputError);
}

/// GPA written directly on the token matrices X_r [N, d], as the reference code does.
std::vector<torch::Tensor> directGpa(const std::vector<torch::Tensor>& x, HeadKind kind) {
    auto proc = [&](const torch::Tensor& a, const torch::Tensor& b) {
        return alignmentTransform(kind, a.t().mm(b));
    };
    auto cosmean = [](const torch::Tensor& a, const torch::Tensor& b) {
        return ((a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1))).mean().item<double>();
    };
    const std::size_t k = x.size();
    std::vector<torch::Tensor> t(k, torch::eye(x[0].size(1), torch::kFloat64));
    for (std::size_t r = 1; r < k; ++r) t[r] = proc(x[r], x[0]);
    auto loss = [&](const std::vector<torch::Tensor>& tr) {
        double total = 0;
        for (std::size_t r = 0; r < k; ++r)
            for (std::size_t q = r + 1; q < k; ++q)
                total += cosmean(x[r].mm(tr[r]), x[q].mm(tr[q]));
        return total;
    };
    double current = loss(t);
    for (int it = 0; it < kGpaMaxIterations; ++it) {
        torch::Tensor mean = torch::zeros_like(x[0]);
        for (std::size_t r = 0; r < k; ++r) mean += x[r].mm(t[r]) / double(k);
        std::vector<torch::Tensor> next;
        for (std::size_t r = 0; r < k; ++r) next.push_back(proc(x[r], mean));
        const double nextLoss = loss(next);
        t = next;
        if (nextLoss - current < kGpaTolerance) break;
        current = nextLoss;
    }
    return t;
}

TEST_F(Alignment, GpaFromStatisticsEqualsGpaOnStoredActivations) {
    const std::int64_t n = 400, d = 8, k = 4;
    const torch::Tensor base = torch::randn({n, d}, torch::kFloat64);
    for (HeadKind kind : {HeadKind::Values, HeadKind::Keys}) {
        std::vector<torch::Tensor> x;
        for (std::int64_t r = 0; r < k; ++r) {
            const torch::Tensor q =
                kind == HeadKind::Keys ? randomPlaneRotation(d) : randomOrthogonal(d);
            x.push_back(base.mm(q) + 0.3 * torch::randn({n, d}, torch::kFloat64));
        }
        GramStatistics stats = GramStatistics::zeros(k, d, kind == HeadKind::Keys);
        stats.accumulate(torch::stack(x, 1));
        int iterations = 0;
        const auto fromStats =
            generalizedProcrustes(stats, {0, 1, 2, 3}, kind, AlignmentConfig{}, &iterations);
        const auto direct = directGpa(x, kind);
        EXPECT_GT(iterations, 0);
        for (std::int64_t r = 0; r < k; ++r)
            EXPECT_LT(relativeMaxDiff(fromStats[r], direct[r]), 1e-9)
                << headKindName(kind) << " head " << r;
    }
}

/// Duplicating the KV heads of a GQA model and shuffling the heads gives an MHA model whose
/// duplicated heads must be found as groups; converting back reproduces the GQA model's logits.
TEST_F(Alignment, DuplicatedHeadsAreFoundAndConvertingBackReproducesTheGqaModel) {
    ModelConfig c = tinyConfig(2);
    c.numHeads = 8;
    c.numKvHeads = 4;
    c.hiddenSize = 64;
    const Checkpoint gqa = randomCheckpoint(c, 11, DType::F64);
    Checkpoint mha = gqa;
    mha.config.numKvHeads = 8;
    const std::int64_t d = 8, D = 64;
    for (std::int64_t l = 0; l < c.numLayers; ++l)
        for (const char* p : {"self_attn.k_proj.weight", "self_attn.v_proj.weight"})
            mha.set(layerTensorName(l, p), gqa.at(layerTensorName(l, p))
                                               .view({4, d, D})
                                               .repeat_interleave(2, 0)
                                               .reshape({8 * d, D}));
    // Shuffle heads (a permutation-only alignment is exact).
    std::vector<LayerAlignment> shuffle;
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        torch::Tensor perm = torch::randperm(8, torch::kLong);
        Grouping g(8);
        for (int h = 0; h < 8; ++h) g[h] = {perm[h].item<std::int64_t>()};
        LayerAlignment a = permutationOnly(g, d);
        a.order.assign(perm.data_ptr<std::int64_t>(), perm.data_ptr<std::int64_t>() + 8);
        shuffle.push_back(a);
    }
    const Checkpoint shuffled = alignCheckpoint(mha, shuffle);
    ASSERT_LT(relativeMaxDiff(logitsOf(shuffled), logitsOf(gqa)), 1e-12);

    std::vector<std::vector<std::int64_t>> sequences;
    for (int s = 0; s < 6; ++s) {
        std::vector<std::int64_t> seq{1};
        for (int t = 1; t < 24; ++t) seq.push_back((s * 17 + t * 7) % 61);
        sequences.push_back(seq);
    }
    NullProgress quiet;
    const auto stats =
        calibrateTokens(DecoderModel(shuffled, torch::kFloat64), sequences, 3, quiet);
    std::vector<LayerAlignment> layers;
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        const auto sim = headSimilarity(stats[l].values, HeadKind::Values, Criterion::Dist);
        GroupSearchConfig search;
        search.groups = 4;
        const auto found = searchGrouping(sim.after, search);
        for (const auto& group : found.groups)  // duplicates are at distance 0
            EXPECT_NEAR(sim.before[group[0]][group[1]].item<double>(), 0.0, 1e-9);
        layers.push_back(alignLayer(stats[l], found.groups, AlignmentConfig{}));
    }
    const Checkpoint back = mergeToGqa(alignCheckpoint(shuffled, layers), 4);
    EXPECT_LT(relativeMaxDiff(logitsOf(back), logitsOf(gqa)), 1e-9);
    for (std::int64_t l = 0; l < c.numLayers; ++l)
        EXPECT_LT(predictMergeCost(alignedStatistics(stats[l], layers[l]), 4).valueRelative, 1e-12);
}

}  // namespace
}  // namespace gqa::test
