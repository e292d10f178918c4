// SPDX-License-Identifier: GPL-3.0-or-later
// The least-squares merge (method §7.2) in float64: exact where the heads of a group are copies up
// to what it can fit (a scale of the values, a scaled rotation per RoPE plane of the keys), never
// worse than the mean merge on its own objective, its fitted key maps commute with RoPE (the merged
// model agrees at every position), and the covariances it takes from the stored statistics equal
// those of captured activations.
#include <map>

#include "alignment/alignment.h"
#include "alignment/leastsquaresmerge.h"
#include "alignment/mergedgqa.h"
#include "analysis/calibration.h"
#include "analysis/grouping.h"
#include "analysis/headanalysis.h"
#include "base/error.h"
#include "model/decodermodel.h"
#include "testsupport.h"

namespace gqa::test {
namespace {
using torch::indexing::Slice;

constexpr double kExact = 1e-8;  // float64 forward of a 2-layer model, ridge 1e-10

std::vector<std::vector<std::int64_t>> sequences(std::int64_t count, std::int64_t length,
                                                 std::uint64_t seed) {
    torch::manual_seed(seed);
    const torch::Tensor ids = torch::randint(61, {count, length}, torch::kLong);
    std::vector<std::vector<std::int64_t>> out(count);
    for (std::int64_t s = 0; s < count; ++s)
        for (std::int64_t t = 0; t < length; ++t) out[s].push_back(ids[s][t].item<std::int64_t>());
    return out;
}

torch::Tensor logitsOf(const Checkpoint& ck, const torch::Tensor& tokens) {
    return DecoderModel(ck, torch::kFloat64).forward(tokens);
}

/// A scaled rotation on every RoPE plane (p, p + d/2): angle and scale differ per plane.
torch::Tensor planeScaledRotation(std::int64_t d, double scaleBase) {
    torch::Tensor M = torch::zeros({d, d}, torch::kFloat64);
    for (std::int64_t p = 0; p < d / 2; ++p) {
        const double angle = 0.3 + 0.7 * double(p), scale = scaleBase + 0.1 * double(p);
        M[p][p] = scale * std::cos(angle);
        M[p][p + d / 2] = -scale * std::sin(angle);
        M[p + d / 2][p] = scale * std::sin(angle);
        M[p + d / 2][p + d / 2] = scale * std::cos(angle);
    }
    return M;
}

/// Heads 1 and 3 copy heads 0 and 2: values scaled, keys turned and scaled per plane. Their
/// queries and outputs stay their own.
Checkpoint scaledCopies() {
    Checkpoint ck = randomCheckpoint(tinyConfig(), 31, DType::F64);
    const std::int64_t d = ck.config.headDim;
    for (std::int64_t l = 0; l < ck.config.numLayers; ++l) {
        const std::string k = layerTensorName(l, "self_attn.k_proj.weight");
        const std::string v = layerTensorName(l, "self_attn.v_proj.weight");
        torch::Tensor kw = ck.at(k).clone(), vw = ck.at(v).clone();
        for (std::int64_t from : {0, 2}) {
            const Slice src(from * d, (from + 1) * d), dst((from + 1) * d, (from + 2) * d);
            kw.index_put_({dst}, torch::mm(planeScaledRotation(d, 0.8 + 0.5 * double(from)),
                                           kw.index({src})));
            vw.index_put_({dst}, (2.0 + double(from)) * vw.index({src}));
        }
        ck.set(k, kw);
        ck.set(v, vw);
    }
    return ck;
}

std::vector<LayerStatistics> statisticsOf(const Checkpoint& ck) {
    NullProgress quiet;
    return calibrateTokens(DecoderModel(ck, torch::kFloat64), sequences(6, 24, 5), 3, quiet);
}

TEST(LeastSquaresMerge, IsExactOnHeadsThatAreScaledAndRotatedCopies) {
    const Checkpoint mha = scaledCopies();
    const auto stats = statisticsOf(mha);  // consecutive groups: already contiguous
    const torch::Tensor tokens = torch::tensor(sequences(2, 40, 9)[0], torch::kLong).view({1, -1});
    const torch::Tensor reference = logitsOf(mha, tokens);
    const Checkpoint fitted = leastSquaresMergeToGqa(mha, stats, 2);
    EXPECT_EQ(fitted.config.numKvHeads, 2);
    // Every position agrees, so the fitted key maps commute with RoPE at every offset.
    EXPECT_LT(relativeMaxDiff(logitsOf(fitted, tokens), reference), kExact);
    EXPECT_GT(relativeMaxDiff(logitsOf(mergeToGqa(mha, 2), tokens), reference), 1e-3)
        << "the mean merge should not be exact here, or the test shows nothing";
    for (const LayerStatistics& layer : stats) {
        const MergeCost ls = predictLeastSquaresMergeCost(layer, 2);
        EXPECT_LT(ls.valueRelative, 1e-9);
        EXPECT_LT(ls.keyRelative, 1e-9);
        EXPECT_GT(predictMergeCost(layer, 2).valueRelative, 1e-2);
    }
}

TEST(LeastSquaresMerge, NeverFitsWorseThanTheMean) {
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 32, DType::F64);
    const auto stats = statisticsOf(mha);
    for (std::int64_t groups : {1, 2}) {
        AnalysisConfig config;
        config.groupCounts = {groups};
        NullProgress quiet;
        const AnalysisResult analysis = analyzeHeads(stats, config, quiet);
        const auto plan = planAlignment(stats, analysis, groups, false, AlignmentConfig{});
        for (std::size_t l = 0; l < stats.size(); ++l) {
            const LayerStatistics aligned = alignedStatistics(stats[l], plan[l]);
            const MergeCost mean = predictMergeCost(aligned, groups);
            const MergeCost ls = predictLeastSquaresMergeCost(aligned, groups);
            EXPECT_LE(ls.valueResidual, mean.valueResidual * (1.0 + 1e-9)) << groups;
            EXPECT_LE(ls.keyResidual, mean.keyResidual * (1.0 + 1e-9)) << groups;
            EXPECT_LT(ls.valueResidual, mean.valueResidual) << "random heads leave room to fit";
        }
        // The merged model of the aligned checkpoint is a standard GQA checkpoint of G heads.
        const Checkpoint alignedMha = alignCheckpoint(mha, plan);
        std::vector<LayerStatistics> alignedStats;
        for (std::size_t l = 0; l < stats.size(); ++l)
            alignedStats.push_back(alignedStatistics(stats[l], plan[l]));
        EXPECT_EQ(leastSquaresMergeToGqa(alignedMha, alignedStats, groups).config.numKvHeads,
                  groups);
    }
}

/// Keeps every layer's keys (pre-RoPE) and values [B, KV, T, d].
struct Capture : AttentionObserver {
    std::map<std::int64_t, torch::Tensor> keys, values;
    void observe(std::int64_t layer, const torch::Tensor& k, const torch::Tensor& v) override {
        keys[layer] = k.clone();
        values[layer] = v.clone();
    }
};

// The fit from stored statistics equals the same fit on the activations themselves.
TEST(LeastSquaresMerge, CovariancesFromStatisticsEqualCapturedActivations) {
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 33, DType::F64);
    const auto seqs = sequences(4, 16, 7);
    NullProgress quiet;
    const DecoderModel model(mha, torch::kFloat64);
    const auto stats = calibrateTokens(model, seqs, 2, quiet);
    std::vector<std::int64_t> flat;
    for (const auto& s : seqs) flat.insert(flat.end(), s.begin(), s.end());
    Capture capture;
    ForwardOptions options;
    options.observer = &capture;
    model.forward(torch::tensor(flat, torch::kLong).view({4, -1}), options);

    const std::int64_t groups = 2, k = 2, d = mha.config.headDim;
    for (std::int64_t l = 0; l < 2; ++l) {
        const LayerRefit refit = leastSquaresRefit(stats[l], groups);
        auto perHead = [](const torch::Tensor& x, std::int64_t h) {
            return x.select(1, h).reshape({-1, x.size(3)}).to(torch::kFloat64);  // [N, d]
        };
        for (std::int64_t h = 0; h < 4; ++h) {
            const std::int64_t g = h / k;
            const torch::Tensor vm =
                (perHead(capture.values[l], g * k) + perHead(capture.values[l], g * k + 1)) / 2.0;
            const torch::Tensor vh = perHead(capture.values[l], h);
            const double n = double(vh.size(0));
            const torch::Tensor mm = torch::mm(vm.t(), vm) / n, hm = torch::mm(vh.t(), vm) / n;
            const double lambda = kRelativeRidge * torch::trace(mm).item<double>() / double(d);
            const torch::Tensor B =
                torch::mm(hm, torch::inverse(mm + lambda * torch::eye(d, torch::kFloat64)));
            EXPECT_LT(relativeMaxDiff(refit.valueMaps[h], B), 1e-10) << l << " " << h;

            const torch::Tensor km =
                (perHead(capture.keys[l], g * k) + perHead(capture.keys[l], g * k + 1)) / 2.0;
            const torch::Tensor kh = perHead(capture.keys[l], h);
            for (std::int64_t p = 0; p < d / 2; ++p) {
                const torch::Tensor x = torch::stack({kh.select(1, p), kh.select(1, p + d / 2)}, 1);
                const torch::Tensor y = torch::stack({km.select(1, p), km.select(1, p + d / 2)}, 1);
                const double yy = (y * y).sum().item<double>();
                const double a = (x * y).sum().item<double>() / yy;
                const torch::Tensor Jy = torch::stack({-y.select(1, 1), y.select(1, 0)}, 1);
                const double b = (x * Jy).sum().item<double>() / yy;
                const torch::Tensor A = refit.keyMaps[h];
                EXPECT_NEAR(A[p][p].item<double>(), a, 1e-10 * std::abs(a) + 1e-12);
                EXPECT_NEAR(A[p + d / 2][p].item<double>(), b, 1e-10 * std::abs(b) + 1e-12);
                EXPECT_NEAR(A[p][p + d / 2].item<double>(), -b, 1e-10 * std::abs(b) + 1e-12);
            }
        }
    }
}

TEST(LeastSquaresMerge, NamesAndBadInput) {
    EXPECT_EQ(parseMergeMethod("least-squares"), MergeMethod::LeastSquares);
    EXPECT_EQ(parseMergeMethod("mean"), MergeMethod::Mean);
    EXPECT_THROW(parseMergeMethod("median"), InputError);
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 34, DType::F64);
    const auto stats = statisticsOf(mha);
    EXPECT_THROW(leastSquaresMergeToGqa(mha, stats, 3), InputError);
    EXPECT_THROW(leastSquaresMergeToGqa(mha, {stats[0]}, 2), InputError);
}

}  // namespace
}  // namespace gqa::test
