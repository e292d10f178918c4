// SPDX-License-Identifier: GPL-3.0-or-later
// KV-head gates: the reference scheme against the paper's formulas at hand-computed points (init,
// noise range, straight-through gradient, expected density, regulariser, constrain_sparsity, the
// damped update), the hard-concrete scheme's density, samples and ascent multipliers, the
// schedule, state round trips and bad input.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "training/kvgates.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr double kAlpha = 1e-3;             // the reference scheme's default alpha_s
constexpr double kT = 1.0 / 3.0;            // its default temperature
constexpr double kCT = 1.7644349415748306;  // c T = ln(0.995 / 0.005) / 3

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// The reference density 1 - clamp(sigmoid(-cT - lambda/T), 1e-6, 1 - 1e-6) in float64.
double referenceDensity(double lambda) {
    return 1.0 - std::clamp(sigmoid(-kCT - lambda / kT), 1e-6, 1.0 - 1e-6);
}

std::unique_ptr<KvGates> makeGates(GateScheme scheme, std::int64_t layers, std::int64_t heads,
                                   std::int64_t totalSteps = 100, std::uint64_t seed = 0) {
    GateSettings s;
    s.scheme = scheme;
    s.layers = layers;
    s.heads = heads;
    s.totalSteps = totalSteps;
    s.seed = seed;
    return KvGates::create(s, torch::kCPU);
}

torch::Tensor values(const std::vector<double>& v, std::int64_t layers, double unit = 1.0) {
    return (torch::tensor(v, torch::kFloat64) * unit).to(torch::kFloat32).reshape({layers, -1});
}

/// Sets the reference gates' z_loga = lambda * alpha_s (and theta_prev = thetaLambda * alpha_s).
void setReference(KvGates& gates, const std::vector<double>& lambda,
                  const std::vector<double>& thetaLambda = {}) {
    const std::int64_t layers = gates.settings().layers;
    gates.loadState(
        {{"z_loga", values(lambda, layers, kAlpha)},
         {"theta_prev", values(thetaLambda.empty() ? lambda : thetaLambda, layers, kAlpha)}});
}

/// The reference gates' lambda = z_loga / alpha_s, flat, float64.
std::vector<double> lambdaOf(const KvGates& gates, const std::string& name = "z_loga") {
    const torch::Tensor t = gates.state().at(name).to(torch::kFloat64).reshape({-1}) / kAlpha;
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

TEST(KvGates, SchemeNamesRoundTripAndBadNameIsInputError) {
    EXPECT_EQ(gateSchemeName(GateScheme::Reference), "reference");
    EXPECT_EQ(gateSchemeName(GateScheme::HardConcrete), "hard-concrete");
    EXPECT_EQ(parseGateScheme("reference"), GateScheme::Reference);
    EXPECT_EQ(parseGateScheme("hard-concrete"), GateScheme::HardConcrete);
    try {
        parseGateScheme("l0");
        FAIL() << "no InputError";
    } catch (const InputError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'l0'"), std::string::npos) << what;
        EXPECT_NE(what.find("reference"), std::string::npos) << what;
        EXPECT_NE(what.find("hard-concrete"), std::string::npos) << what;
    }
}

TEST(KvGates, BadSettingsAreInputErrors) {
    EXPECT_THROW(makeGates(GateScheme::Reference, 0, 4), InputError);
    EXPECT_THROW(makeGates(GateScheme::HardConcrete, 2, 0), InputError);
    EXPECT_THROW(makeGates(GateScheme::Reference, 2, 4, 0), InputError);
    GateSettings s;
    s.layers = 2;
    s.heads = 4;
    s.totalSteps = 10;
    s.pruneRatio = 1.5;
    EXPECT_THROW(KvGates::create(s, torch::kCPU), InputError);
    s.pruneRatio = 0.8;
    s.referenceAlpha = 0.0;
    EXPECT_THROW(KvGates::create(s, torch::kCPU), InputError);
}

TEST(KvGates, WarmupAndPruneStepsAndTargetSchedule) {
    auto gates = makeGates(GateScheme::Reference, 1, 2, 100);
    EXPECT_EQ(gates->warmupSteps(), 30);
    EXPECT_EQ(gates->pruneSteps(), 80);
    EXPECT_DOUBLE_EQ(gates->targetSparsity(0), 0.0);
    EXPECT_DOUBLE_EQ(gates->targetSparsity(15), 0.5);
    EXPECT_DOUBLE_EQ(gates->targetSparsity(3), 0.1);
    EXPECT_DOUBLE_EQ(gates->targetSparsity(30), 1.0);
    EXPECT_DOUBLE_EQ(gates->targetSparsity(45), 1.0);
    EXPECT_TRUE(gates->gatesTrain(80));
    EXPECT_FALSE(gates->gatesTrain(81));
    // int() truncation as Python: 10 * 0.3 = 3.0000000000000004 -> 3, 10 * 0.8 -> 8.
    auto small = makeGates(GateScheme::Reference, 1, 2, 10);
    EXPECT_EQ(small->warmupSteps(), 3);
    EXPECT_EQ(small->pruneSteps(), 8);
    GateSettings s;
    s.layers = 1;
    s.heads = 2;
    s.totalSteps = 100;
    s.warmupRatio = 0.0;
    EXPECT_DOUBLE_EQ(KvGates::create(s, torch::kCPU)->targetSparsity(1), 1.0);  // W = 0
}

TEST(KvGates, ReferenceInitIsNearlyOpenWithSpecSparsity) {
    auto gates = makeGates(GateScheme::Reference, 16, 32, 100, 5);
    const std::vector<double> lambda = lambdaOf(*gates);
    double mean = 0, sq = 0, minLambda = 1e9, handSparsity = 0;
    for (double l : lambda) {
        mean += l;
        sq += l * l;
        minLambda = std::min(minLambda, l);
        handSparsity += 1.0 - referenceDensity(l);
    }
    const double n = double(lambda.size());
    mean /= n;
    handSparsity /= n;
    EXPECT_NEAR(mean, 2.0, 0.02);  // lambda ~ N(6 T, 0.1)
    EXPECT_NEAR(std::sqrt(sq / n - mean * mean), 0.1, 0.015);
    // Method §6.2: s ~ 4.2e-4 at init (4.24e-4 at lambda = 2; the spread raises the mean a bit).
    const double s = gates->expectedSparsity().item<double>();
    EXPECT_NEAR(s, handSparsity, 2e-6);
    EXPECT_GT(s, 4.0e-4);
    EXPECT_LT(s, 4.8e-4);

    // Every sample is at least the worst-noise value of the smallest lambda.
    const double zMin = (sigmoid(minLambda / kT + std::log(0.4 / 0.6)) - 0.5) * 1.005 + 0.5;
    auto generator = at::detail::createCPUGenerator(1);
    const torch::Tensor z = gates->sample(1, true, generator);
    EXPECT_EQ(z.sizes(), (std::vector<std::int64_t>{16, 32}));
    EXPECT_EQ(z.dtype(), torch::kFloat32);
    EXPECT_GE(z.min().item<double>(), zMin - 1e-6);
    EXPECT_LE(z.max().item<double>(), 1.0);

    // Same seed, same gates; another seed, other gates.
    EXPECT_TRUE(torch::equal(makeGates(GateScheme::Reference, 16, 32, 100, 5)->state()["z_loga"],
                             gates->state()["z_loga"]));
    EXPECT_FALSE(torch::equal(makeGates(GateScheme::Reference, 16, 32, 100, 6)->state()["z_loga"],
                              gates->state()["z_loga"]));
}

TEST(KvGates, ReferenceSampleAtLambdaTwoSpansSpecRange) {
    // Method §6.2: at lambda = 2, z in [0.99878, 1]: worst noise eps = 0.4 gives
    // (sigmoid(6 + ln(0.4/0.6)) - 0.5) * 1.005 + 0.5 = 0.998777; z = 1 once logit(eps) >= -0.006,
    // i.e. eps >= 0.4985, about half the draws.
    auto gates = makeGates(GateScheme::Reference, 4, 8);
    setReference(*gates, std::vector<double>(32, 2.0));
    auto generator = at::detail::createCPUGenerator(11);
    std::vector<torch::Tensor> draws;
    for (int i = 0; i < 20; ++i) draws.push_back(gates->sample(5, true, generator));
    const torch::Tensor z = torch::stack(draws);
    EXPECT_GE(z.min().item<double>(), 0.9987771 - 1e-6);
    EXPECT_LT(z.min().item<double>(), 0.9989);  // the noise reaches near its lower end
    EXPECT_EQ(z.max().item<double>(), 1.0);
    const double ones = (z == 1.0).to(torch::kFloat64).mean().item<double>();
    EXPECT_GT(ones, 0.4);
    EXPECT_LT(ones, 0.62);
}

TEST(KvGates, AfterPruneStepsOrInEvalTheSampleIsExactlyZero) {
    for (GateScheme scheme : {GateScheme::Reference, GateScheme::HardConcrete}) {
        auto gates = makeGates(scheme, 2, 4, 100);
        auto generator = at::detail::createCPUGenerator(3);
        for (const torch::Tensor& z :
             {gates->sample(81, true, generator), gates->sample(100, true, generator),
              gates->sample(10, false, generator)}) {
            EXPECT_TRUE(torch::equal(z, torch::zeros({2, 4}))) << gateSchemeName(scheme);
            EXPECT_FALSE(z.requires_grad());
        }
        EXPECT_TRUE(gates->sample(80, true, generator).requires_grad());
    }
}

TEST(KvGates, ReferenceStraightThroughGradientIsClampedAndPassesClippedGates) {
    // lambda = 2 clips at 1 for about half the noise draws, -2.5 always clips at 0, 0 never clips.
    const std::vector<double> lambda{2.0, -2.5, 0.0, 2.0, -2.5, 0.0, 2.0, 1.0};
    const std::vector<double> weight{5.0, -0.3, -4.0, 0.7, 2.0, 0.2, -0.5, -1.5};
    auto gates = makeGates(GateScheme::Reference, 2, 4);
    setReference(*gates, lambda);
    auto generator = at::detail::createCPUGenerator(21);
    const torch::Tensor z = gates->sample(3, true, generator);
    (z * values(weight, 2)).sum().backward();
    const torch::Tensor grad = gates->gateParameters()[0].grad().reshape({-1});

    // The same noise: one [layers, heads] draw of U(0.4, 0.6) from the generator.
    auto again = at::detail::createCPUGenerator(21);
    const torch::Tensor eps = torch::empty({2, 4}, torch::kFloat32).uniform_(0.4, 0.6, again);
    bool sawClipped = false;
    for (int i = 0; i < 8; ++i) {
        const double e = eps.reshape({-1})[i].item<double>();
        const double y = sigmoid(std::log(e / (1 - e)) + lambda[i] / kT);
        const double stretched = (y - 0.5) * 1.005 + 0.5;
        EXPECT_NEAR(z.reshape({-1})[i].item<double>(), std::clamp(stretched, 0.0, 1.0), 1e-6);
        // dz/dy_stretched := clamp(w, -1, 1); dy_stretched/dz_loga = 1.005 y (1 - y) / (T alpha).
        const double expected =
            std::clamp(weight[i], -1.0, 1.0) * 1.005 * y * (1 - y) / (kT * kAlpha);
        EXPECT_NEAR(grad[i].item<double>(), expected, 1e-4 * std::abs(expected) + 1e-6) << i;
        if (stretched > 1.0 || stretched < 0.0) {
            sawClipped = true;
            EXPECT_NE(grad[i].item<double>(), 0.0) << i;  // hardtanh alone would give 0
        }
    }
    EXPECT_TRUE(sawClipped);
}

TEST(KvGates, ReferenceExpectedDensityMatchesFormulaAndClampsInPlace) {
    // lambda 9 and -12 are outside [-8, 8] and are clamped there in place before use.
    const std::vector<double> lambda{-12.0, -8.0, -3.0, 0.0, 1.5, 2.0, 8.0, 9.0};
    const std::vector<double> hand{1e-6,        1e-6,        7.19981314e-4, 0.853764236,
                                   0.998100825, 0.999575611, 1 - 1e-6,      1 - 1e-6};
    auto gates = makeGates(GateScheme::Reference, 2, 4);
    setReference(*gates, lambda);
    const torch::Tensor p = gates->expectedDensity().reshape({-1});
    for (int i = 0; i < 8; ++i) {
        EXPECT_NEAR(p[i].item<double>(), hand[i], 2e-7) << "lambda " << lambda[i];
        EXPECT_NEAR(p[i].item<double>(), referenceDensity(lambda[i]), 2e-7);
    }
    const std::vector<double> clamped = lambdaOf(*gates);
    EXPECT_NEAR(clamped[0], -8.0, 1e-5);
    EXPECT_NEAR(clamped[7], 8.0, 1e-5);

    // ds/dz_loga_i = -p_i (1 - p_i) / (M T alpha) where the clamp is inactive, 0 where active.
    gates->expectedSparsity().backward();
    const torch::Tensor grad = gates->gateParameters()[0].grad().reshape({-1});
    const double p3 = hand[3];
    EXPECT_NEAR(grad[3].item<double>(), -p3 * (1 - p3) / (8 * kT * kAlpha), 1e-3);
    EXPECT_EQ(grad[7].item<double>(), 0.0);
}

TEST(KvGates, ReferenceRegularizerAtHandComputedPointAndOffAfterP) {
    // lambda {0, -3}: p = {0.853764236, 7.19981314e-4}, s = 0.572757892; step 15: t = 0.5,
    // e = 0.072757892, e + (e + 1e-6)^2 = 0.078051748.
    auto gates = makeGates(GateScheme::Reference, 1, 2, 100);
    setReference(*gates, {0.0, -3.0});
    const torch::Tensor reg = gates->regularizer(15);
    EXPECT_NEAR(reg.item<double>(), 0.0780517478, 1e-6);
    reg.backward();
    // d reg / d z_loga_0 = sign(s - t) (1 + 2 (e + 1e-6)) ds/dz_0, ds/dz_0 = -p(1-p) / (2 T alpha).
    const double p0 = 0.853764236, e = 0.0727578915;
    const double expected = (1 + 2 * (e + 1e-6)) * (-p0 * (1 - p0) / (2 * kT * kAlpha));
    EXPECT_NEAR(gates->gateParameters()[0].grad()[0][0].item<double>(), expected,
                1e-4 * std::abs(expected));

    EXPECT_GT(gates->regularizer(80).item<double>(), 0.0);
    const torch::Tensor off = gates->regularizer(81);
    EXPECT_EQ(off.item<double>(), 0.0);
    EXPECT_FALSE(off.requires_grad());
}

TEST(KvGates, ConstrainSparsityPullsLowestDownAndRestUpAsHandArithmetic) {
    // totalSteps 100: W = 30, P = 80; _min/_max = -+10/3 in lambda units.
    auto gates = makeGates(GateScheme::Reference, 2, 4, 100);

    // Step 15, s_prev 0.4: t = 0.5, scale = exp(sqrt(15/80)) = 1.541860; lk = int(8*0.5+1) = 5.
    // Left ratio max(0.6, min(0.999, 1 - 0.1 scale)) = 0.845810; the 5 lowest (<= 1) go to
    // -10/3 + (l + 10/3) 0.845810. Right ratio min(0.999, 1 + 0.1 scale) = 0.999, rk = 6: after the
    // left pull the 6th smallest is 2, so l >= 2 go to 10/3 + (l - 10/3) 0.999, clamped <= 10/3.
    setReference(*gates, {3.0, -2.0, 1.0, 0.5, -1.0, 2.0, 4.0, 0.0});
    gates->beforeOptimizerStep(15, 0.4);
    const std::vector<double> expectedA{3.000333333,  -2.205586107, 0.331845151, -0.091060059,
                                        -1.359775688, 2.001333333,  3.333333333, -0.513965269};
    std::vector<double> got = lambdaOf(*gates);
    for (int i = 0; i < 8; ++i) EXPECT_NEAR(got[i], expectedA[i], 2e-5) << i;
    // The snapshot theta_prev is the constrained z_loga.
    EXPECT_TRUE(torch::equal(gates->state()["theta_prev"], gates->state()["z_loga"]));

    // Step 6, s_prev 0.25 > t = 0.2: no left pull. lk = int(8*0.2+1) = 2, rk = 3, right ratio
    // 1 + (0.2 - 0.25) exp(sqrt(6/80)) = 0.934248; the 3rd smallest is 0, so l >= 0 are pulled up.
    setReference(*gates, {-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0});
    gates->beforeOptimizerStep(6, 0.25);
    const std::vector<double> expectedB{-2.0,        -1.0,        0.219172061, 0.686296252,
                                        1.153420443, 2.087668824, 3.021917206, 3.333333333};
    got = lambdaOf(*gates);
    for (int i = 0; i < 8; ++i) EXPECT_NEAR(got[i], expectedB[i], 2e-5) << i;

    // Far behind schedule the left ratio is floored at 0.6: step 15, s_prev 0.1, M = 4:
    // 1 - 0.4 scale = 0.383 -> 0.6; lk = 3 (v = 1), rk = 4 = M: no right pull.
    auto four = makeGates(GateScheme::Reference, 1, 4, 100);
    setReference(*four, {2.0, -1.0, 0.5, 1.0});
    four->beforeOptimizerStep(15, 0.1);
    const std::vector<double> expectedC{2.0, -1.933333333, -1.033333333, -0.733333333};
    got = lambdaOf(*four);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], expectedC[i], 2e-5) << i;

    // Step 1 (nothing measured yet) and steps after P leave the gates alone.
    const std::vector<double> plain{-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0};
    setReference(*gates, plain);
    gates->beforeOptimizerStep(1, 0.0);
    gates->beforeOptimizerStep(81, 0.0);
    got = lambdaOf(*gates);
    for (int i = 0; i < 8; ++i) EXPECT_NEAR(got[i], plain[i], 1e-5) << i;
}

TEST(KvGates, AfterStepDampsTowardsSnapshotByScheduleDistance) {
    // z_loga_new <- a theta_prev + (1 - a) z_loga, a = min(1, max(b, |t - s(theta_prev)|)),
    // b = max(0.002, min(1, n/P)^5 / 2), P = 80.
    auto gates = makeGates(GateScheme::Reference, 1, 2, 100);
    auto check = [&](std::int64_t step, const std::vector<double>& theta, double a) {
        const std::vector<double> current{1.0, -1.0};
        setReference(*gates, current, theta);
        gates->afterOptimizerStep(step);
        const std::vector<double> got = lambdaOf(*gates);
        for (int i = 0; i < 2; ++i)
            EXPECT_NEAR(got[i], a * theta[i] + (1 - a) * current[i], 1e-5)
                << "step " << step << " gate " << i;
    };
    // theta lambda 2: s = 4.243893e-4. Step 15: t = 0.5, a = |t - s| = 0.499575611.
    check(15, {2.0, 2.0}, 0.4995756107);
    // Step 1: t = 1/30, a = 0.033333333 - 0.000424389 = 0.032908944.
    check(1, {2.0, 2.0}, 0.0329089441);
    // theta at -+8: p = {1e-6, 1 - 1e-6}, s = 0.5 = t(15): a = the floor 0.002.
    check(15, {-8.0, 8.0}, 0.002);
    // theta at -8: s = 1 - 1e-6, t(72) = 1: a = b = 0.9^5 / 2 = 0.295245.
    check(72, {-8.0, -8.0}, 0.295245);
    // After P: no damping.
    check(81, {2.0, 2.0}, 0.0);
}

TEST(KvGates, HardConcreteDensityDisplayAndSamples) {
    // p = sigmoid(log_alpha - (2/3) ln(0.1/1.1)) = sigmoid(log_alpha + 1.598597).
    auto gates = makeGates(GateScheme::HardConcrete, 1, 4);
    EXPECT_NEAR(gates->expectedDensity()[0][0].item<double>(), 0.9986395751, 1e-6);  // init 5
    const torch::Tensor zero = torch::zeros({});
    gates->loadState(
        {{"log_alpha", values({-5.0, -3.0, 0.0, 5.0}, 1)}, {"lambda1", zero}, {"lambda2", zero}});
    const std::vector<double> density{0.0322516415, 0.1975935469, 0.8318221840, 0.9986395751};
    const std::vector<double> display{0.0, 0.0, 0.5, 1.0};  // clamp(1.2 sigmoid(la) - 0.1, 0, 1)
    const torch::Tensor p = gates->expectedDensity().reshape({-1});
    const torch::Tensor shown = gates->displayValues();
    EXPECT_EQ(shown.dtype(), torch::kFloat64);
    for (int i = 0; i < 4; ++i) {
        EXPECT_NEAR(p[i].item<double>(), density[i], 1e-6) << i;
        EXPECT_NEAR(shown.reshape({-1})[i].item<double>(), display[i], 1e-6) << i;
    }

    // Samples: in [0, 1], exact 0s and 1s, and P(z > 0) = p (64 gates x 50 draws at 0).
    auto many = makeGates(GateScheme::HardConcrete, 8, 8);
    many->loadState({{"log_alpha", torch::zeros({8, 8})}, {"lambda1", zero}, {"lambda2", zero}});
    auto generator = at::detail::createCPUGenerator(4);
    std::vector<torch::Tensor> draws;
    for (int i = 0; i < 50; ++i) draws.push_back(many->sample(2, true, generator));
    const torch::Tensor z = torch::stack(draws);
    EXPECT_GE(z.min().item<double>(), 0.0);
    EXPECT_LE(z.max().item<double>(), 1.0);
    EXPECT_GT((z == 0).sum().item<std::int64_t>(), 0);
    EXPECT_GT((z == 1).sum().item<std::int64_t>(), 0);
    EXPECT_NEAR((z > 0).to(torch::kFloat64).mean().item<double>(), 0.8318221840, 0.03);
}

TEST(KvGates, HardConcreteMultipliersAscendAndGatesDescend) {
    // log_alpha -5: p = 0.032251642, s = 0.967748358 > t(15) = 0.5, gap = 0.467748358.
    auto gates = makeGates(GateScheme::HardConcrete, 1, 1, 100);
    ASSERT_EQ(gates->multiplierParameters().size(), 2u);
    gates->loadState({{"log_alpha", values({-5.0}, 1)},
                      {"lambda1", torch::tensor(2.0f)},
                      {"lambda2", torch::tensor(3.0f)}});
    const torch::Tensor reg = gates->regularizer(15);
    const double gap = 0.4677483585, p = 0.0322516415;
    EXPECT_NEAR(reg.item<double>(), 2 * gap + 3 * gap * gap, 1e-5);
    reg.backward();
    const torch::Tensor lambda1 = gates->multiplierParameters()[0];
    const torch::Tensor lambda2 = gates->multiplierParameters()[1];
    EXPECT_NEAR(lambda1.grad().item<double>(), -gap, 1e-5);  // reversed: d/dl1 = -(s - t)
    EXPECT_NEAR(lambda2.grad().item<double>(), -gap * gap, 1e-5);
    // Gates see the plain Lagrangian: (l1 + 2 l2 gap) ds/dla, ds/dla = -p (1 - p).
    EXPECT_NEAR(gates->gateParameters()[0].grad()[0][0].item<double>(),
                (2 + 6 * gap) * -p * (1 - p), 1e-5);

    // A descent step with a positive learning rate raises lambda1 (ascent on the Lagrangian).
    torch::optim::SGD sgd(gates->multiplierParameters(), torch::optim::SGDOptions(0.1));
    sgd.step();
    EXPECT_NEAR(gates->multiplierValues()[0].second, 2.0 + 0.1 * gap, 1e-5);
    EXPECT_EQ(gates->multiplierValues()[0].first, "lambda1");
    EXPECT_EQ(gates->multiplierValues()[1].first, "lambda2");
    EXPECT_EQ(gates->regularizer(81).item<double>(), 0.0);

    // The after-step hook clamps log_alpha to [-10, 10].
    gates->loadState({{"log_alpha", values({-14.0}, 1)},
                      {"lambda1", torch::tensor(0.0f)},
                      {"lambda2", torch::tensor(0.0f)}});
    gates->afterOptimizerStep(15);
    EXPECT_EQ(gates->state()["log_alpha"].item<double>(), -10.0);
}

TEST(KvGates, StateRoundTripsAndRejectsWrongShapesAndNames) {
    auto source = makeGates(GateScheme::Reference, 2, 3, 100, 1);
    source->beforeOptimizerStep(10, 0.1);  // moves z_loga and takes the snapshot
    auto target = makeGates(GateScheme::Reference, 2, 3, 100, 2);
    target->loadState(source->state());
    for (const auto& [name, tensor] : source->state()) {
        EXPECT_EQ(tensor.dtype(), torch::kFloat32) << name;
        EXPECT_TRUE(torch::equal(target->state().at(name), tensor)) << name;
    }
    EXPECT_TRUE(target->gateParameters()[0].requires_grad());

    auto state = source->state();
    state["z_loga"] = torch::zeros({3, 2});
    EXPECT_THROW(target->loadState(state), InputError);
    state = source->state();
    state.erase("theta_prev");
    EXPECT_THROW(target->loadState(state), InputError);
    state = source->state();
    state["lambda1"] = torch::zeros({});
    EXPECT_THROW(target->loadState(state), InputError);

    auto hc = makeGates(GateScheme::HardConcrete, 2, 3);
    auto hcState = hc->state();
    hcState["lambda1"] = torch::tensor(0.5f);
    hcState["log_alpha"] = torch::full({2, 3}, -1.0f);
    auto hcTarget = makeGates(GateScheme::HardConcrete, 2, 3);
    hcTarget->loadState(hcState);
    EXPECT_TRUE(torch::equal(hcTarget->state()["log_alpha"], hcState["log_alpha"]));
    EXPECT_DOUBLE_EQ(hcTarget->multiplierValues()[0].second, 0.5);
    hcState["lambda2"] = torch::zeros({1});
    EXPECT_THROW(hcTarget->loadState(hcState), InputError);
}

}  // namespace
}  // namespace gqa::test
