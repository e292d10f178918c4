// SPDX-License-Identifier: GPL-3.0-or-later
// Head similarity from Gram statistics equals the definition computed on the raw token vectors.
#include "base/error.h"
#include "alignment/procrustes.h"
#include "analysis/similarity.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr double kTight = 1e-10;
constexpr std::int64_t kTokens = 500, kHeads = 4, kHeadDim = 8;

/// Gram statistics of x [N, H, d] computed here (independent of GramStatistics::accumulate).
GramStatistics statisticsOf(const torch::Tensor& x) {
    const std::int64_t n = x.size(0), h = x.size(1), d = x.size(2);
    torch::Tensor flat = x.reshape({n, h * d});
    torch::Tensor unit = (x / x.norm(2, -1, true)).reshape({n, h * d});
    GramStatistics stats;
    stats.heads = h;
    stats.headDim = d;
    stats.tokens = n;
    stats.raw = flat.t().matmul(flat);
    stats.normalized = unit.t().matmul(unit);
    return stats;
}

/// Heads with a shared component so that pairs are neither identical nor unrelated.
torch::Tensor randomHeads() {
    torch::Tensor common = torch::randn({kTokens, 1, kHeadDim}, torch::kFloat64);
    return common + torch::randn({kTokens, kHeads, kHeadDim}, torch::kFloat64) +
           0.5 * torch::randn({1, kHeads, kHeadDim}, torch::kFloat64);
}

/// The definition (method §4.2): align head i onto head j with Q fitted on the raw (dist) or
/// unit-normalised (cos) token matrices, then average the per-token score.
double directScore(const torch::Tensor& x, std::int64_t i, std::int64_t j, HeadKind kind,
                   Criterion criterion, bool align) {
    torch::Tensor a = x.select(1, i), b = x.select(1, j);
    torch::Tensor q = torch::eye(a.size(1), torch::kFloat64);
    if (criterion == Criterion::Cos) {
        torch::Tensor an = a / a.norm(2, -1, true), bn = b / b.norm(2, -1, true);
        if (align) q = alignmentTransform(kind, an.t().matmul(bn));
        torch::Tensor aq = a.matmul(q);
        return ((aq * b).sum(-1) / (aq.norm(2, -1) * b.norm(2, -1))).mean().item<double>();
    }
    if (align) q = alignmentTransform(kind, a.t().matmul(b));
    return -(a.matmul(q) - b).pow(2).sum(-1).mean().item<double>();
}

class SimilarityTest : public SeededTest {};

TEST_F(SimilarityTest, StatisticsMatchDirectDefinition) {
    torch::Tensor x = randomHeads();
    GramStatistics stats = statisticsOf(x);
    for (HeadKind kind : {HeadKind::Keys, HeadKind::Values})
        for (Criterion criterion : {Criterion::Cos, Criterion::Dist}) {
            SimilarityMatrices s = headSimilarity(stats, kind, criterion);
            for (std::int64_t i = 0; i < kHeads; ++i)
                for (std::int64_t j = 0; j < i; ++j) {
                    const double before = directScore(x, i, j, kind, criterion, false);
                    const double after = directScore(x, i, j, kind, criterion, true);
                    const double scale = std::max(1.0, std::abs(after));
                    EXPECT_NEAR(s.before[i][j].item<double>(), before, kTight * scale)
                        << headKindName(kind) << ' ' << criterionName(criterion);
                    EXPECT_NEAR(s.after[i][j].item<double>(), after, kTight * scale)
                        << headKindName(kind) << ' ' << criterionName(criterion);
                }
        }
}

TEST_F(SimilarityTest, MatricesAreSymmetricWithZeroDiagonal) {
    GramStatistics stats = statisticsOf(randomHeads());
    for (HeadKind kind : {HeadKind::Keys, HeadKind::Values})
        for (Criterion criterion : {Criterion::Cos, Criterion::Dist}) {
            SimilarityMatrices s = headSimilarity(stats, kind, criterion);
            for (const torch::Tensor& m : {s.before, s.after}) {
                EXPECT_TRUE(m.equal(m.t()));
                EXPECT_EQ(m.diagonal().abs().max().item<double>(), 0.0);
            }
        }
}

TEST_F(SimilarityTest, AlignmentNeverLowersSimilarity) {
    GramStatistics stats = statisticsOf(randomHeads());
    for (HeadKind kind : {HeadKind::Keys, HeadKind::Values})
        for (Criterion criterion : {Criterion::Cos, Criterion::Dist}) {
            SimilarityMatrices s = headSimilarity(stats, kind, criterion);
            EXPECT_GE((s.after - s.before).min().item<double>(), -kTight);
        }
}

TEST_F(SimilarityTest, ExactlyTransformedHeadScoresMaximum) {
    torch::Tensor x = randomHeads();
    // Values: head 1 becomes an arbitrary orthogonal transform (with a reflection) of head 0.
    torch::Tensor q0 =
        std::get<0>(torch::linalg::qr(torch::randn({kHeadDim, kHeadDim}, torch::kFloat64)));
    torch::Tensor values = x.clone();
    values.select(1, 1).copy_(x.select(1, 0).matmul(q0));
    // Keys: head 1 becomes a per-plane rotation of head 0.
    torch::Tensor r0 = ropeRotationProcrustes(torch::randn({kHeadDim, kHeadDim}, torch::kFloat64));
    torch::Tensor keys = x.clone();
    keys.select(1, 1).copy_(x.select(1, 0).matmul(r0));
    for (auto [kind, data] :
         {std::pair{HeadKind::Values, values}, std::pair{HeadKind::Keys, keys}}) {
        GramStatistics stats = statisticsOf(data);
        EXPECT_NEAR(headSimilarity(stats, kind, Criterion::Cos).after[1][0].item<double>(), 1.0,
                    kTight)
            << headKindName(kind);
        EXPECT_NEAR(headSimilarity(stats, kind, Criterion::Dist).after[1][0].item<double>(), 0.0,
                    1e-9)
            << headKindName(kind);
        EXPECT_LT(headSimilarity(stats, kind, Criterion::Cos).before[1][0].item<double>(), 0.99);
    }
}

TEST_F(SimilarityTest, MeanOffDiagonalIgnoresDiagonal) {
    torch::Tensor s =
        torch::tensor({{5.0, 1.0, 2.0}, {1.0, 7.0, 3.0}, {2.0, 3.0, 9.0}}, torch::kFloat64);
    EXPECT_DOUBLE_EQ(meanOffDiagonal(s), 2.0);
}

TEST_F(SimilarityTest, RejectsMisshapedStatistics) {
    GramStatistics stats = statisticsOf(randomHeads());
    stats.headDim = 6;
    EXPECT_THROW(headSimilarity(stats, HeadKind::Values, Criterion::Cos), InputError);
}

}  // namespace
}  // namespace gqa::test
