// SPDX-License-Identifier: GPL-3.0-or-later
// Procrustes solutions: value transforms are the orthogonal optimum; key transforms are per-plane
// rotations that commute with RoPE, which a general orthogonal matrix or a reflection does not.
#include <cmath>

#include "base/error.h"
#include "alignment/procrustes.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr double kTight = 1e-10;
/// RoPE base of Llama 2 (method §1).
constexpr double kRopeBase = 10000.0;

torch::Tensor randomOrthogonal(std::int64_t d) {
    auto qr = torch::linalg::qr(torch::randn({d, d}, torch::kFloat64));
    return std::get<0>(qr);
}

/// Method §1: plane (m, m + d/2) of v rotated by t * base^(-2m/d).
torch::Tensor rope(const torch::Tensor& v, std::int64_t t) {
    const std::int64_t d = v.size(0);
    torch::Tensor out = v.clone();
    for (std::int64_t m = 0; m < d / 2; ++m) {
        const double angle = double(t) * std::pow(kRopeBase, -2.0 * double(m) / double(d));
        const double a = v[m].item<double>(), b = v[m + d / 2].item<double>();
        out[m] = a * std::cos(angle) - b * std::sin(angle);
        out[m + d / 2] = b * std::cos(angle) + a * std::sin(angle);
    }
    return out;
}

/// Largest change of the RoPE score q.k over a few positions when both are rotated by R^T.
double ropeScoreChange(const torch::Tensor& r, std::int64_t d) {
    double worst = 0.0;
    for (auto [s, t] : {std::pair<int, int>{0, 0}, {3, 11}, {17, 5}, {250, 1000}}) {
        torch::Tensor q = torch::randn({d}, torch::kFloat64),
                      k = torch::randn({d}, torch::kFloat64);
        const double before = torch::dot(rope(q, s), rope(k, t)).item<double>();
        const double after = torch::dot(rope(r.t().mv(q), s), rope(r.t().mv(k), t)).item<double>();
        worst = std::max(worst, std::abs(after - before));
    }
    return worst;
}

/// ||A R - B||^2 through M = A^T B and the Gram matrices.
double misfit(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& r) {
    return (a.matmul(r) - b).pow(2).sum().item<double>();
}

class ProcrustesTest : public SeededTest {};

TEST_F(ProcrustesTest, OrthogonalSolutionIsOrthogonal) {
    torch::Tensor m = torch::randn({16, 16}, torch::kFloat64);
    torch::Tensor q = orthogonalProcrustes(m);
    EXPECT_LT(relativeMaxDiff(q.t().matmul(q), torch::eye(16, torch::kFloat64)), kTight);
}

TEST_F(ProcrustesTest, OrthogonalSolutionRecoversKnownTransform) {
    const std::int64_t n = 400, d = 12;
    torch::Tensor a = torch::randn({n, d}, torch::kFloat64);
    torch::Tensor q0 = randomOrthogonal(d);
    torch::Tensor b = a.matmul(q0) + 1e-9 * torch::randn({n, d}, torch::kFloat64);
    torch::Tensor q = orthogonalProcrustes(a.t().matmul(b));
    EXPECT_LT(relativeMaxDiff(q, q0), 1e-8);
}

TEST_F(ProcrustesTest, OrthogonalSolutionBeatsRandomOrthogonalMatrices) {
    torch::Tensor a = torch::randn({200, 8}, torch::kFloat64),
                  b = torch::randn({200, 8}, torch::kFloat64);
    const double best = misfit(a, b, orthogonalProcrustes(a.t().matmul(b)));
    for (int trial = 0; trial < 20; ++trial) EXPECT_LE(best, misfit(a, b, randomOrthogonal(8)));
}

TEST_F(ProcrustesTest, KeyRotationIsProperRotationOnEveryPlane) {
    const std::int64_t d = 16, half = d / 2;
    torch::Tensor r = ropeRotationProcrustes(torch::randn({d, d}, torch::kFloat64));
    EXPECT_LT(relativeMaxDiff(r.t().matmul(r), torch::eye(d, torch::kFloat64)), kTight);
    torch::Tensor mask = torch::zeros({d, d}, torch::kBool);
    for (std::int64_t m = 0; m < half; ++m) {
        const double det =
            (r[m][m] * r[m + half][m + half] - r[m][m + half] * r[m + half][m]).item<double>();
        EXPECT_NEAR(det, 1.0, kTight) << "plane " << m;
        for (std::int64_t i : {m, m + half})
            for (std::int64_t j : {m, m + half}) mask[i][j] = true;
    }
    EXPECT_EQ(r.masked_select(~mask).abs().max().item<double>(), 0.0) << "off-plane entries";
}

TEST_F(ProcrustesTest, KeyRotationBeatsBruteForceAngleGridPerPlane) {
    const std::int64_t n = 300, d = 8, half = d / 2;
    constexpr int kGridSteps = 3600;  // 0.1 degree
    torch::Tensor a = torch::randn({n, d}, torch::kFloat64);
    torch::Tensor b = a.matmul(randomOrthogonal(d)) + 0.3 * torch::randn({n, d}, torch::kFloat64);
    torch::Tensor r = ropeRotationProcrustes(a.t().matmul(b));
    for (std::int64_t m = 0; m < half; ++m) {
        torch::Tensor cols = torch::tensor({m, m + half});
        torch::Tensor ap = a.index_select(1, cols), bp = b.index_select(1, cols);
        torch::Tensor rp = r.index_select(0, cols).index_select(1, cols);
        const double found = misfit(ap, bp, rp);
        double grid = std::numeric_limits<double>::infinity();
        for (int step = 0; step < kGridSteps; ++step) {
            const double p = 2.0 * M_PI * step / kGridSteps;
            torch::Tensor rot = torch::tensor(
                {{std::cos(p), -std::sin(p)}, {std::sin(p), std::cos(p)}}, torch::kFloat64);
            grid = std::min(grid, misfit(ap, bp, rot));
        }
        EXPECT_LE(found, grid + 1e-9) << "plane " << m;
    }
}

TEST_F(ProcrustesTest, KeyRotationCommutesWithRope) {
    const std::int64_t d = 16;
    torch::Tensor r = ropeRotationProcrustes(torch::randn({d, d}, torch::kFloat64));
    EXPECT_LT(ropeScoreChange(r, d), 1e-10);
}

TEST_F(ProcrustesTest, GeneralOrthogonalMatrixBreaksRopeScores) {
    EXPECT_GT(ropeScoreChange(randomOrthogonal(16), 16), 1e-6);
}

TEST_F(ProcrustesTest, PlaneReflectionBreaksRopeScores) {
    const std::int64_t d = 16;
    torch::Tensor reflection = torch::eye(d, torch::kFloat64);
    reflection[2][2] = -1.0;  // flips one axis of plane (2, 2 + d/2): det -1 on that plane
    EXPECT_GT(ropeScoreChange(reflection, d), 1e-6);
}

TEST_F(ProcrustesTest, AlignmentTransformPicksByKind) {
    torch::Tensor m = torch::randn({8, 8}, torch::kFloat64);
    EXPECT_TRUE(alignmentTransform(HeadKind::Keys, m).equal(ropeRotationProcrustes(m)));
    EXPECT_TRUE(alignmentTransform(HeadKind::Values, m).equal(orthogonalProcrustes(m)));
}

TEST_F(ProcrustesTest, RejectsNonSquareOrOddInput) {
    EXPECT_THROW(orthogonalProcrustes(torch::zeros({3, 4}, torch::kFloat64)), InputError);
    EXPECT_THROW(ropeRotationProcrustes(torch::zeros({5, 5}, torch::kFloat64)), InputError);
}

}  // namespace
}  // namespace gqa::test
