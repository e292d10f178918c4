// SPDX-License-Identifier: GPL-3.0-or-later
// The least-squares merge (method §7.2) in float64: exact where the heads of a group are copies up
// to what it can fit (a scale of the values, a scaled rotation per RoPE plane of the keys), never
// worse than the mean merge on its own objective, its fitted key maps commute with RoPE (the merged
// model agrees at every position), and the covariances it takes from the stored statistics equal
// those of captured activations. The layer-wise fit (method §7.4): exact on the same copies, the
// statistics fit on the first layer, and a better fit than the statistics fit on the inputs the
// merged model's layers actually see.
#include <map>

#include "alignment/alignment.h"
#include "alignment/layerwisemerge.h"
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
    for (MergedHead head : {MergedHead::Mean, MergedHead::Principal}) {
        const Checkpoint fitted = leastSquaresMergeToGqa(mha, stats, 2, head);
        EXPECT_EQ(fitted.config.numKvHeads, 2);
        // Every position agrees, so the fitted key maps and the merged keys commute with RoPE.
        EXPECT_LT(relativeMaxDiff(logitsOf(fitted, tokens), reference), kExact)
            << mergedHeadName(head);
    }
    EXPECT_GT(relativeMaxDiff(logitsOf(mergeToGqa(mha, 2), tokens), reference), 1e-3)
        << "the mean merge should not be exact here, or the test shows nothing";
    for (const LayerStatistics& layer : stats) {
        for (MergedHead head : {MergedHead::Mean, MergedHead::Principal}) {
            const MergeCost ls = predictLeastSquaresMergeCost(layer, 2, head);
            EXPECT_LT(ls.valueRelative, 1e-9) << mergedHeadName(head);
            EXPECT_LT(ls.keyRelative, 1e-9) << mergedHeadName(head);
        }
        EXPECT_GT(predictMergeCost(layer, 2).valueRelative, 1e-2);
    }
}

// For exact copies of one head the principal head is their mean (the basis is turned towards the
// mean and scaled by 1/sqrt(k)), so the gated training's blend starts between like quantities.
TEST(LeastSquaresMerge, ThePrincipalHeadOfCopiesIsTheirMean) {
    Checkpoint mha = randomCheckpoint(tinyConfig(), 35, DType::F64);
    const std::int64_t d = mha.config.headDim;
    for (std::int64_t l = 0; l < mha.config.numLayers; ++l)
        for (const char* name : {"self_attn.k_proj.weight", "self_attn.v_proj.weight"}) {
            torch::Tensor w = mha.at(layerTensorName(l, name)).clone();
            for (std::int64_t from : {0, 2})
                w.index_put_({Slice((from + 1) * d, (from + 2) * d)},
                             w.index({Slice(from * d, (from + 1) * d)}));
            mha.set(layerTensorName(l, name), w);
        }
    for (const LayerStatistics& layer : statisticsOf(mha)) {
        const torch::Tensor mean =
            mergedHeadMix(layer.values, HeadKind::Values, 2, MergedHead::Mean);
        EXPECT_LT(
            relativeMaxDiff(mergedHeadMix(layer.values, HeadKind::Values, 2, MergedHead::Principal),
                            mean),
            1e-8);
        EXPECT_LT(relativeMaxDiff(
                      mergedHeadMix(layer.keys, HeadKind::Keys, 2, MergedHead::Principal), mean),
                  1e-8);
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
            // The principal head fits at least as well as the mean head (Eckart-Young).
            const MergeCost aroundMean =
                predictLeastSquaresMergeCost(aligned, groups, MergedHead::Mean);
            const MergeCost principal =
                predictLeastSquaresMergeCost(aligned, groups, MergedHead::Principal);
            EXPECT_LE(principal.valueResidual, aroundMean.valueResidual * (1.0 + 1e-9)) << groups;
            EXPECT_LE(principal.keyResidual, aroundMean.keyResidual * (1.0 + 1e-9)) << groups;
            EXPECT_LE(aroundMean.valueResidual, mean.valueResidual * (1.0 + 1e-9)) << groups;
            EXPECT_LT(principal.valueResidual, aroundMean.valueResidual) << "room to choose";
        }
        // The merged model of the aligned checkpoint is a standard GQA checkpoint of G heads.
        const Checkpoint alignedMha = alignCheckpoint(mha, plan);
        std::vector<LayerStatistics> alignedStats;
        for (std::size_t l = 0; l < stats.size(); ++l)
            alignedStats.push_back(alignedStatistics(stats[l], plan[l]));
        for (MergedHead head : {MergedHead::Mean, MergedHead::Principal})
            EXPECT_EQ(
                leastSquaresMergeToGqa(alignedMha, alignedStats, groups, head).config.numKvHeads,
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

/// A random float64 model's statistics and its captured activations on the same text.
struct CalibratedCapture {
    Checkpoint mha;
    std::vector<LayerStatistics> stats;
    Capture capture;
};

CalibratedCapture calibrateAndCapture(std::uint64_t modelSeed, std::uint64_t textSeed) {
    CalibratedCapture out{randomCheckpoint(tinyConfig(), modelSeed, DType::F64), {}, {}};
    const auto seqs = sequences(4, 16, textSeed);
    NullProgress quiet;
    const DecoderModel model(out.mha, torch::kFloat64);
    out.stats = calibrateTokens(model, seqs, 2, quiet);
    std::vector<std::int64_t> flat;
    for (const auto& s : seqs) flat.insert(flat.end(), s.begin(), s.end());
    ForwardOptions options;
    options.observer = &out.capture;
    model.forward(torch::tensor(flat, torch::kLong).view({4, -1}), options);
    return out;
}

/// Head h of captured [B, KV, T, d] activations as [N, d].
torch::Tensor perHead(const torch::Tensor& x, std::int64_t h) {
    return x.select(1, h).reshape({-1, x.size(3)}).to(torch::kFloat64);
}

/// RoPE plane (p, p + half) of [N, d] keys as [N, 2].
torch::Tensor plane(const torch::Tensor& x, std::int64_t p, std::int64_t half) {
    return torch::stack({x.select(1, p), x.select(1, p + half)}, 1);
}

/// The scaled rotation [[a, -b], [b, a]] fitting plane x ~ M y, by least squares on [N, 2] rows.
struct PlaneScale {
    double a = 0.0, b = 0.0;
    torch::Tensor Jy;  ///< y turned by a quarter: [-y1, y0]
};
PlaneScale fitPlane(const torch::Tensor& x, const torch::Tensor& y) {
    PlaneScale f;
    const double yy = (y * y).sum().item<double>();
    f.Jy = torch::stack({-y.select(1, 1), y.select(1, 0)}, 1);
    f.a = (x * y).sum().item<double>() / yy;
    f.b = (x * f.Jy).sum().item<double>() / yy;
    return f;
}

// The fit from stored statistics equals the same fit on the activations themselves.
TEST(LeastSquaresMerge, CovariancesFromStatisticsEqualCapturedActivations) {
    const CalibratedCapture run = calibrateAndCapture(33, 7);
    const Capture& capture = run.capture;
    const std::int64_t groups = 2, k = 2, d = run.mha.config.headDim;
    for (std::int64_t l = 0; l < 2; ++l) {
        const LayerRefit refit = leastSquaresRefit(run.stats[l], groups, MergedHead::Mean);
        for (std::int64_t h = 0; h < 4; ++h) {
            const std::int64_t g = h / k;
            const torch::Tensor vm =
                (perHead(capture.values.at(l), g * k) + perHead(capture.values.at(l), g * k + 1)) /
                2.0;
            const torch::Tensor vh = perHead(capture.values.at(l), h);
            const double n = double(vh.size(0));
            const torch::Tensor mm = torch::mm(vm.t(), vm) / n, hm = torch::mm(vh.t(), vm) / n;
            const double lambda = kRelativeRidge * torch::trace(mm).item<double>() / double(d);
            const torch::Tensor B =
                torch::mm(hm, torch::inverse(mm + lambda * torch::eye(d, torch::kFloat64)));
            EXPECT_LT(relativeMaxDiff(refit.valueMaps[h], B), 1e-10) << l << " " << h;

            const torch::Tensor km =
                (perHead(capture.keys.at(l), g * k) + perHead(capture.keys.at(l), g * k + 1)) / 2.0;
            const torch::Tensor kh = perHead(capture.keys.at(l), h);
            for (std::int64_t p = 0; p < d / 2; ++p) {
                const auto [a, b, Jy] = fitPlane(plane(kh, p, d / 2), plane(km, p, d / 2));
                const torch::Tensor A = refit.keyMaps[h];
                EXPECT_NEAR(A[p][p].item<double>(), a, 1e-10 * std::abs(a) + 1e-12);
                EXPECT_NEAR(A[p + d / 2][p].item<double>(), b, 1e-10 * std::abs(b) + 1e-12);
                EXPECT_NEAR(A[p][p + d / 2].item<double>(), -b, 1e-10 * std::abs(b) + 1e-12);
            }
        }
    }
}

// The principal head attains the Eckart-Young bound on the captured activations themselves: the
// values' residual is the sum of all but the d largest eigenvalues of the group's stacked
// covariance, each key plane's is tr H - lambda_max(H) of its complex covariance H = E[z z^H].
TEST(LeastSquaresMerge, ThePrincipalHeadAttainsTheBoundOnCapturedActivations) {
    const CalibratedCapture run = calibrateAndCapture(36, 8);
    const Capture& capture = run.capture;
    const std::int64_t groups = 2, k = 2, d = run.mha.config.headDim, half = d / 2;
    // sum_h min_B ||x_h - B y||^2 / N for captured x_h [N, d] and y [N, d].
    auto fitResidual = [](const std::vector<torch::Tensor>& xs, const torch::Tensor& y) {
        double r = 0.0;
        for (const torch::Tensor& x : xs) {
            const torch::Tensor B = std::get<0>(at::linalg_lstsq(y, x, {}, {}));
            r += (x - torch::mm(y, B)).pow(2).sum().item<double>() / double(x.size(0));
        }
        return r;
    };
    for (std::int64_t l = 0; l < 2; ++l) {
        const LayerRefit refit = leastSquaresRefit(run.stats[l], groups, MergedHead::Principal);
        for (std::int64_t g = 0; g < groups; ++g) {
            std::vector<torch::Tensor> v, key;
            torch::Tensor vm, km;
            for (std::int64_t r = 0; r < k; ++r) {
                v.push_back(perHead(capture.values.at(l), g * k + r));
                key.push_back(perHead(capture.keys.at(l), g * k + r));
                const torch::Tensor vr = torch::mm(v.back(), refit.valueMix[g][r].t());
                const torch::Tensor kr = torch::mm(key.back(), refit.keyMix[g][r].t());
                vm = r == 0 ? vr : vm + vr;
                km = r == 0 ? kr : km + kr;
            }
            const double n = double(v[0].size(0));
            const torch::Tensor stacked = torch::cat(v, 1);
            const torch::Tensor eig = at::linalg_eigvalsh(torch::mm(stacked.t(), stacked) / n);
            const double bound = eig.slice(0, 0, (k - 1) * d).sum().item<double>();
            EXPECT_NEAR(fitResidual(v, vm), bound, 1e-9 * eig.sum().item<double>()) << l << g;

            for (std::int64_t p = 0; p < half; ++p) {
                // Plane p of every member as [N, 2]; H's real form [[A, -B], [B, A]] has each
                // eigenvalue of H twice.
                std::vector<torch::Tensor> planes;
                for (const torch::Tensor& x : key) planes.push_back(plane(x, p, half));
                const torch::Tensor re = torch::stack(planes, 1).select(2, 0);
                const torch::Tensor im = torch::stack(planes, 1).select(2, 1);
                const torch::Tensor real =
                    torch::cat({torch::cat({re, im}, 1), torch::cat({-im, re}, 1)}, 0);  // [2N, 2k]
                const torch::Tensor h = at::linalg_eigvalsh(torch::mm(real.t(), real) / (2.0 * n));
                const double planeBound = (h.sum() - h[2 * k - 1] - h[2 * k - 2]).item<double>();
                // The fitted residual with complex scales: one scaled rotation per member.
                const torch::Tensor y = plane(km, p, half);
                double residual = 0.0;
                for (const torch::Tensor& x : planes) {
                    const auto [a, b, Jy] = fitPlane(x, y);
                    residual += (x - a * y - b * Jy).pow(2).sum().item<double>() / n;
                }
                EXPECT_NEAR(residual, planeBound, 1e-9 * h.sum().item<double>()) << l << g << p;
            }
        }
    }
}

TEST(LeastSquaresMerge, NamesAndBadInput) {
    EXPECT_EQ(parseMergedHead("principal"), MergedHead::Principal);
    EXPECT_EQ(parseMergedHead("mean"), MergedHead::Mean);
    EXPECT_THROW(parseMergedHead("median"), InputError);
    EXPECT_EQ(parseMergeMethod("least-squares"), MergeMethod::LeastSquares);
    EXPECT_EQ(parseMergeMethod("mean"), MergeMethod::Mean);
    EXPECT_THROW(parseMergeMethod("median"), InputError);
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 34, DType::F64);
    const auto stats = statisticsOf(mha);
    EXPECT_THROW(leastSquaresMergeToGqa(mha, stats, 3), InputError);
    EXPECT_THROW(leastSquaresMergeToGqa(mha, {stats[0]}, 2), InputError);
}

LayerwiseFitConfig layerwiseConfig(std::int64_t groups, MergedHead head) {
    LayerwiseFitConfig config;
    config.groups = groups;
    config.mergedHead = head;
    config.batchSize = 3;
    config.dtype = torch::kFloat64;
    return config;
}

TEST(LayerwiseFit, IsExactOnHeadsThatAreScaledAndRotatedCopies) {
    const Checkpoint mha = scaledCopies();
    const torch::Tensor tokens = torch::tensor(sequences(2, 40, 9)[0], torch::kLong).view({1, -1});
    const torch::Tensor reference = logitsOf(mha, tokens);
    NullProgress quiet;
    for (MergedHead head : {MergedHead::Mean, MergedHead::Principal}) {
        const Checkpoint fitted = layerwiseLeastSquaresMergeToGqa(mha, sequences(6, 24, 5),
                                                                  layerwiseConfig(2, head), quiet);
        EXPECT_EQ(fitted.config.numKvHeads, 2);
        EXPECT_LT(relativeMaxDiff(logitsOf(fitted, tokens), reference), kExact)
            << mergedHeadName(head);
    }
}

// Layer 0 sees the same inputs in both models, so there the layer-wise fit is the fit on the
// statistics of the same tokens; later layers differ (their inputs do).
TEST(LayerwiseFit, IsTheStatisticsFitOnTheFirstLayer) {
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 33, DType::F64);
    const auto seqs = sequences(6, 24, 5);
    NullProgress quiet;
    const Checkpoint layerwise = layerwiseLeastSquaresMergeToGqa(
        mha, seqs, layerwiseConfig(2, MergedHead::Principal), quiet);
    const Checkpoint statistics =
        leastSquaresMergeToGqa(mha, statisticsOf(mha), 2, MergedHead::Principal);
    ASSERT_GE(mha.config.numLayers, 2);
    for (const char* name : {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                             "self_attn.v_proj.weight", "self_attn.o_proj.weight"}) {
        EXPECT_LT(relativeMaxDiff(layerwise.at(layerTensorName(0, name)),
                                  statistics.at(layerTensorName(0, name))),
                  1e-9)
            << name;
        EXPECT_GT(relativeMaxDiff(layerwise.at(layerTensorName(1, name)),
                                  statistics.at(layerTensorName(1, name))),
                  1e-6)
            << name << ": the second layer's inputs differ, so should its fit";
    }
}

// The objective of the last layer's value refit on the merged model's inputs, measured on captured
// activations: the aligned heads' outputs W_o^h v_h against the merged W_o'^h v_m, both on the
// hidden states the merged layers before produce. Around the mean head both fits merge the same
// rows, and only the layer-wise one minimises this, so it can never be larger.
double lastLayerValueObjective(const Checkpoint& mha, const Checkpoint& fitted,
                               const Checkpoint& inputsFrom, const torch::Tensor& tokens) {
    const std::int64_t last = mha.config.numLayers - 1, d = mha.config.headDim;
    auto valuesAtLast = [&](const Checkpoint& inputs, const Checkpoint& weights) {
        const DecoderModel inputModel(inputs, torch::kFloat64), model(weights, torch::kFloat64);
        torch::Tensor hidden = inputModel.embed(tokens);
        for (std::int64_t l = 0; l < last; ++l) hidden = inputModel.layerForward(l, hidden);
        Capture capture;
        ForwardOptions options;
        options.observer = &capture;
        model.layerForward(last, hidden, options);
        return capture.values.at(last);  // [B, heads, T, d]
    };
    const torch::Tensor original = valuesAtLast(inputsFrom, mha);
    const torch::Tensor merged = valuesAtLast(inputsFrom, fitted);
    const torch::Tensor o = mha.at(layerTensorName(last, "self_attn.o_proj.weight"));
    const torch::Tensor fittedO = fitted.at(layerTensorName(last, "self_attn.o_proj.weight"));
    const std::int64_t heads = mha.config.numHeads, groupSize = heads / fitted.config.numKvHeads;
    double objective = 0.0;
    for (std::int64_t h = 0; h < heads; ++h) {
        const Slice columns(h * d, (h + 1) * d);
        const torch::Tensor want = torch::mm(perHead(original, h), o.index({Slice(), columns}).t());
        const torch::Tensor got =
            torch::mm(perHead(merged, h / groupSize), fittedO.index({Slice(), columns}).t());
        objective += (want - got).pow(2).sum().item<double>();
    }
    return objective;
}

TEST(LayerwiseFit, FitsBetterOnTheMergedModelsOwnInputs) {
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 34, DType::F64);
    const auto seqs = sequences(6, 24, 5);
    std::vector<std::int64_t> flat;
    for (const auto& s : seqs) flat.insert(flat.end(), s.begin(), s.end());
    const torch::Tensor tokens = torch::tensor(flat, torch::kLong).view({6, -1});
    NullProgress quiet;
    for (std::int64_t groups : {1, 2}) {
        const Checkpoint layerwise = layerwiseLeastSquaresMergeToGqa(
            mha, seqs, layerwiseConfig(groups, MergedHead::Mean), quiet);
        const Checkpoint statistics =
            leastSquaresMergeToGqa(mha, statisticsOf(mha), groups, MergedHead::Mean);
        // Both on the layer-wise model's inputs: the same merged rows, different refits.
        const double ownFit = lastLayerValueObjective(mha, layerwise, layerwise, tokens);
        const double statisticsFit = lastLayerValueObjective(mha, statistics, layerwise, tokens);
        EXPECT_LT(ownFit, statisticsFit) << groups << " groups: random heads leave room to fit";
    }
}

class CancelAfter final : public ProgressSink {
public:
    explicit CancelAfter(int reports) : m_left(reports) {}
    bool report(const ProgressUpdate&) override { return m_left-- > 0; }

private:
    int m_left;
};

TEST(LayerwiseFit, NamesBadInputAndCancel) {
    EXPECT_STREQ(leastSquaresFitName(parseLeastSquaresFit("layerwise")), "layerwise");
    EXPECT_STREQ(leastSquaresFitName(parseLeastSquaresFit("statistics")), "statistics");
    EXPECT_THROW(parseLeastSquaresFit("greedy"), InputError);
    const Checkpoint mha = randomCheckpoint(tinyConfig(), 36, DType::F64);
    NullProgress quiet;
    const LayerwiseFitConfig config = layerwiseConfig(2, MergedHead::Principal);
    EXPECT_THROW(layerwiseLeastSquaresMergeToGqa(mha, {}, config, quiet), InputError);
    EXPECT_THROW(layerwiseLeastSquaresMergeToGqa(mha, {{1, 2, 3}, {1, 2}}, config, quiet),
                 InputError);
    EXPECT_THROW(layerwiseLeastSquaresMergeToGqa(mha, {{1, 2, 100000}}, config, quiet), InputError);
    EXPECT_THROW(layerwiseLeastSquaresMergeToGqa(mha, sequences(2, 8, 1),
                                                 layerwiseConfig(3, MergedHead::Mean), quiet),
                 InputError);
    CancelAfter cancel(2);
    EXPECT_THROW(layerwiseLeastSquaresMergeToGqa(mha, sequences(6, 8, 1), config, cancel),
                 Cancelled);
}
}  // namespace
}  // namespace gqa::test
