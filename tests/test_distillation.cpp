// SPDX-License-Identifier: GPL-3.0-or-later
// Distillation losses: the instruction KL against a hand computation, BiLD against a plain-loop
// re-computation of the reference's definition, their invariants (0 for identical models, blind to
// a constant added to all logits), chunking, masks, and where gradients go.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "training/distillation.h"
#include "base/error.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

/// A batch whose masks are given as [B, T] float tensors; targets are 0 except -100 where every
/// mask is 0 (padding).
DistillBatch makeBatch(const torch::Tensor& kl, const torch::Tensor& bild, const torch::Tensor& lm,
                       std::int64_t vocab) {
    const auto B = kl.size(0), T = kl.size(1);
    torch::Tensor targets = torch::randint(0, vocab, {B, T}, torch::kLong);
    targets.masked_fill_((kl + bild + lm) == 0, -100);
    return {torch::zeros({B, T}, torch::kLong), targets, kl.to(torch::kFloat),
            bild.to(torch::kFloat), lm.to(torch::kFloat)};
}

DistillationSettings onlyTerms(double kl, double bild, double lm, std::int64_t topK = 16) {
    DistillationSettings s;
    s.klWeight = kl;
    s.bildWeight = bild;
    s.lmWeight = lm;
    s.bildTopK = topK;
    return s;
}

double value(const torch::Tensor& t) { return t.item<double>(); }

std::vector<double> softmax(const std::vector<double>& x) {
    const double m = *std::max_element(x.begin(), x.end());
    std::vector<double> p(x.size());
    double z = 0;
    for (std::size_t i = 0; i < x.size(); ++i) z += (p[i] = std::exp(x[i] - m));
    for (double& v : p) v /= z;
    return p;
}

/// KL(softmax(teacher) || softmax(student)), written out.
double klReference(const std::vector<double>& teacher, const std::vector<double>& student) {
    const std::vector<double> p = softmax(teacher), q = softmax(student);
    double kl = 0;
    for (std::size_t i = 0; i < p.size(); ++i) kl += p[i] * std::log(p[i] / q[i]);
    return kl;
}

/// Indices of the k largest entries, largest first.
std::vector<int> topK(const std::vector<double>& x, int k) {
    std::vector<int> idx(x.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int a, int b) { return x[a] > x[b]; });
    idx.resize(k);
    return idx;
}

/// One logits-difference term: logits at idx / tau, all differences l_a - l_b with a < b, KL.
double ldReference(const std::vector<double>& student, const std::vector<double>& teacher,
                   const std::vector<int>& idx, double tau) {
    std::vector<double> ds, dt;
    for (std::size_t a = 0; a < idx.size(); ++a)
        for (std::size_t b = a + 1; b < idx.size(); ++b) {
            ds.push_back((student[idx[a]] - student[idx[b]]) / tau);
            dt.push_back((teacher[idx[a]] - teacher[idx[b]]) / tau);
        }
    return klReference(dt, ds);
}

std::vector<double> row(const torch::Tensor& logits, std::int64_t b, std::int64_t t) {
    const torch::Tensor r = logits[b][t].to(torch::kDouble).contiguous();
    return {r.data_ptr<double>(), r.data_ptr<double>() + r.numel()};
}

/// BiLD by the definition: per position t-LD (teacher top-k) + s-LD (student top-k), mean over a
/// sample's masked positions, mean over the samples that have any.
double bildReference(const torch::Tensor& student, const torch::Tensor& teacher,
                     const torch::Tensor& mask, int k, double tau) {
    double sum = 0;
    int samples = 0;
    for (std::int64_t b = 0; b < mask.size(0); ++b) {
        double sample = 0;
        int positions = 0;
        for (std::int64_t t = 0; t < mask.size(1); ++t) {
            if (mask[b][t].item<float>() == 0.0f) continue;
            const auto s = row(student, b, t), te = row(teacher, b, t);
            sample += ldReference(s, te, topK(te, k), tau) + ldReference(s, te, topK(s, k), tau);
            ++positions;
        }
        if (positions > 0) {
            sum += sample / positions;
            ++samples;
        }
    }
    return samples > 0 ? sum / samples : 0.0;
}

class Distillation : public SeededTest {};

TEST_F(Distillation, KlMatchesAHandComputation) {
    // B=1, T=2, V=D=3 with an identity LM head: the hidden states are the logits.
    const std::vector<std::vector<double>> s{{1.0, 2.0, 3.0}, {0.5, -1.0, 0.0}};
    const std::vector<std::vector<double>> t{{3.0, 1.0, 0.0}, {0.0, 0.0, 2.0}};
    const torch::Tensor student =
        torch::tensor({1.0f, 2.0f, 3.0f, 0.5f, -1.0f, 0.0f}).view({1, 2, 3});
    const torch::Tensor teacher =
        torch::tensor({3.0f, 1.0f, 0.0f, 0.0f, 0.0f, 2.0f}).view({1, 2, 3});
    const torch::Tensor eye = torch::eye(3);
    const DistillBatch batch =
        makeBatch(torch::ones({1, 2}), torch::zeros({1, 2}), torch::zeros({1, 2}), 3);
    const DistillationLoss loss =
        distillationLoss(student, eye, teacher, eye, batch, DistillationSettings{});
    // Position 0: p = softmax(3,1,0) = (.8438, .1142, .0420), q = softmax(1,2,3).
    const double expected = 0.5 * (klReference(t[0], s[0]) + klReference(t[1], s[1]));
    EXPECT_NEAR(value(loss.kl), expected, 1e-5);
    EXPECT_NEAR(expected, 0.5 * (1.685124 + 0.491811), 1e-5);  // independent of the helper
    EXPECT_NEAR(value(loss.total), expected, 1e-5);            // BiLD mask empty, CE weight 0
    EXPECT_EQ(value(loss.bild), 0.0);
    EXPECT_EQ(value(loss.lm), 0.0);

    // One position only: the mean is over the masked positions.
    DistillBatch first = batch;
    first.klMask = torch::tensor({1.0f, 0.0f}).view({1, 2});
    EXPECT_NEAR(value(distillationLoss(student, eye, teacher, eye, first, {}).kl),
                klReference(t[0], s[0]), 1e-5);
}

TEST_F(Distillation, IdenticalModelsGiveZeroKlAndBild) {
    const torch::Tensor hidden = torch::randn({2, 5, 8}), head = torch::randn({20, 8});
    const DistillBatch batch =
        makeBatch(torch::ones({2, 5}), torch::ones({2, 5}), torch::zeros({2, 5}), 20);
    const DistillationLoss loss = distillationLoss(hidden, head, hidden, head, batch, {});
    EXPECT_NEAR(value(loss.kl), 0.0, 1e-6);
    EXPECT_NEAR(value(loss.bild), 0.0, 1e-6);
    EXPECT_NEAR(value(loss.total), 0.0, 1e-6);
    // And a different teacher is not zero (the test can fail).
    const DistillationLoss other =
        distillationLoss(hidden, head, torch::randn({2, 5, 8}), head, batch, {});
    EXPECT_GT(value(other.kl), 1e-2);
    EXPECT_GT(value(other.bild), 1e-2);
}

TEST_F(Distillation, BildMatchesAPlainLoopRecomputation) {
    // float64 end to end, k = 3 over V = 7, a random (non-identity) LM head; sample 2 has no
    // BiLD positions and must not count in the mean over samples.
    const std::int64_t B = 3, T = 4, D = 5, V = 7;
    const torch::Tensor sh = torch::randn({B, T, D}, torch::kDouble) * 2;
    const torch::Tensor th = torch::randn({B, T, D}, torch::kDouble) * 2;
    const torch::Tensor sw = torch::randn({V, D}, torch::kDouble);
    const torch::Tensor tw = torch::randn({V, D}, torch::kDouble);
    const torch::Tensor mask =
        torch::tensor({1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}, torch::kFloat).view({B, T});
    const DistillBatch batch = makeBatch(torch::zeros({B, T}), mask, torch::zeros({B, T}), V);
    DistillationSettings settings = onlyTerms(0.0, 1.0, 0.0, 3);
    settings.bildTemperature = 3.0;
    const DistillationLoss loss = distillationLoss(sh, sw, th, tw, batch, settings);
    const double expected =
        bildReference(torch::matmul(sh, sw.t()), torch::matmul(th, tw.t()), mask, 3, 3.0);
    EXPECT_GT(expected, 1e-3);
    EXPECT_NEAR(value(loss.bild), expected, 1e-10);
    EXPECT_NEAR(value(loss.total), expected, 1e-10);

    // Another temperature and k: still the definition.
    settings.bildTemperature = 1.5;
    settings.bildTopK = 4;
    EXPECT_NEAR(value(distillationLoss(sh, sw, th, tw, batch, settings).bild),
                bildReference(torch::matmul(sh, sw.t()), torch::matmul(th, tw.t()), mask, 4, 1.5),
                1e-10);
}

TEST_F(Distillation, KlAndBildIgnoreAConstantAddedToAllLogits) {
    // Identity LM head: adding c to every hidden entry adds c to every logit.
    const torch::Tensor s = torch::randn({2, 3, 10}) * 3, t = torch::randn({2, 3, 10}) * 3;
    const torch::Tensor eye = torch::eye(10);
    const DistillBatch batch =
        makeBatch(torch::ones({2, 3}), torch::ones({2, 3}), torch::zeros({2, 3}), 10);
    const DistillationSettings settings = onlyTerms(1.0, 1.0, 0.0, 3);
    const DistillationLoss base = distillationLoss(s, eye, t, eye, batch, settings);
    const DistillationLoss shifted = distillationLoss(s + 7.0, eye, t - 4.0, eye, batch, settings);
    EXPECT_GT(value(base.bild), 1e-3);
    EXPECT_NEAR(value(shifted.bild), value(base.bild), 1e-4);
    EXPECT_NEAR(value(shifted.kl), value(base.kl), 1e-4);
    // Scaling is not an invariance: the comparison above can fail.
    EXPECT_GT(std::abs(value(distillationLoss(s * 2, eye, t, eye, batch, settings).bild) -
                       value(base.bild)),
              1e-3);
}

TEST_F(Distillation, LmIsTheMeanCrossEntropyOverItsMask) {
    const torch::Tensor s = torch::randn({2, 4, 6}), w = torch::randn({9, 6});
    const torch::Tensor lmMask =
        torch::tensor({0, 1, 1, 0, 1, 1, 1, 1}, torch::kFloat).view({2, 4});
    const DistillBatch batch = makeBatch(torch::ones({2, 4}), torch::zeros({2, 4}), lmMask, 9);
    const DistillationLoss loss =
        distillationLoss(s, w, torch::randn({2, 4, 6}), w, batch, onlyTerms(0.0, 0.0, 1.0));
    const torch::Tensor logits = torch::matmul(s, w.t()).reshape({8, 9});
    const torch::Tensor picked = lmMask.reshape({-1}).nonzero().reshape({-1});
    const double expected = value(torch::nn::functional::cross_entropy(
        logits.index_select(0, picked), batch.targets.reshape({-1}).index_select(0, picked)));
    EXPECT_NEAR(value(loss.lm), expected, 1e-5);
    EXPECT_NEAR(value(loss.total), expected, 1e-5);
}

TEST_F(Distillation, ChunkingGivesTheSameLossesAndGradients) {
    const std::int64_t B = 3, T = 5, D = 8, V = 20;
    const torch::Tensor sh0 = torch::randn({B, T, D}), th = torch::randn({B, T, D});
    const torch::Tensor sw0 = torch::randn({V, D}), tw = torch::randn({V, D});
    const DistillBatch batch = makeBatch(torch::bernoulli(torch::full({B, T}, 0.5)),
                                         torch::bernoulli(torch::full({B, T}, 0.5)),
                                         torch::bernoulli(torch::full({B, T}, 0.5)), V);
    auto run = [&](std::int64_t chunk) {
        const torch::Tensor sh = sh0.clone().requires_grad_(), sw = sw0.clone().requires_grad_();
        DistillationSettings settings = onlyTerms(1.0, 1.0, 0.5, 4);
        settings.chunkPositions = chunk;
        const DistillationLoss loss = distillationLoss(sh, sw, th, tw, batch, settings);
        loss.total.backward();
        return std::make_tuple(loss, sh.grad(), sw.grad());
    };
    const auto [whole, wholeGrad, wholeHeadGrad] = run(100000);
    EXPECT_GT(value(whole.kl) * value(whole.bild) * value(whole.lm), 0.0);
    for (std::int64_t chunk : {1, 2, 7, 0}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk));
        const auto [loss, grad, headGrad] = run(chunk);
        EXPECT_NEAR(value(loss.total), value(whole.total), 1e-5);
        EXPECT_NEAR(value(loss.kl), value(whole.kl), 1e-5);
        EXPECT_NEAR(value(loss.bild), value(whole.bild), 1e-5);
        EXPECT_NEAR(value(loss.lm), value(whole.lm), 1e-5);
        EXPECT_LT(relativeMaxDiff(grad, wholeGrad), 1e-5);
        EXPECT_LT(relativeMaxDiff(headGrad, wholeHeadGrad), 1e-5);
    }
}

TEST_F(Distillation, MasksRestrictTheTerms) {
    const std::int64_t B = 2, T = 6, D = 8, V = 16;
    const torch::Tensor sh = torch::randn({B, T, D}), th = torch::randn({B, T, D});
    const torch::Tensor sw = torch::randn({V, D}), tw = torch::randn({V, D});
    // Sample 0: prompt positions 0-2, answer 3-4, padding 5; sample 1: prompt 0, answer 1-3,
    // padding 4-5.
    const torch::Tensor kl = torch::tensor({1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0}).view({B, T});
    const torch::Tensor answer = torch::tensor({0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0}).view({B, T});
    const DistillBatch batch = makeBatch(kl, answer, answer, V);
    const DistillationSettings settings = onlyTerms(1.0, 1.0, 1.0, 4);
    const DistillationLoss base = distillationLoss(sh, sw, th, tw, batch, settings);

    auto withGarbageAt = [&](const torch::Tensor& h, std::int64_t b, std::int64_t t) {
        torch::Tensor g = h.clone();
        g[b][t] = torch::randn({D}) * 30;
        return g;
    };
    // Padding (every mask 0): nothing changes, for either model.
    const DistillationLoss padded =
        distillationLoss(withGarbageAt(withGarbageAt(sh, 0, 5), 1, 4), sw,
                         withGarbageAt(withGarbageAt(th, 1, 5), 0, 5), tw, batch, settings);
    EXPECT_EQ(value(padded.total), value(base.total));
    EXPECT_EQ(value(padded.kl), value(base.kl));
    EXPECT_EQ(value(padded.bild), value(base.bild));
    EXPECT_EQ(value(padded.lm), value(base.lm));
    // A prompt position changes only the KL.
    const DistillationLoss prompt =
        distillationLoss(withGarbageAt(sh, 0, 1), sw, th, tw, batch, settings);
    EXPECT_GT(std::abs(value(prompt.kl) - value(base.kl)), 1e-3);
    EXPECT_NEAR(value(prompt.bild), value(base.bild), 1e-6);
    EXPECT_NEAR(value(prompt.lm), value(base.lm), 1e-6);
    // An answer position changes BiLD and the CE, not the KL.
    const DistillationLoss answered =
        distillationLoss(sh, sw, withGarbageAt(th, 1, 2), tw, batch, settings);
    EXPECT_NEAR(value(answered.kl), value(base.kl), 1e-6);
    EXPECT_GT(std::abs(value(answered.bild) - value(base.bild)), 1e-3);
    const DistillationLoss answeredStudent =
        distillationLoss(withGarbageAt(sh, 1, 2), sw, th, tw, batch, settings);
    EXPECT_GT(std::abs(value(answeredStudent.lm) - value(base.lm)), 1e-3);
    EXPECT_NEAR(value(answeredStudent.kl), value(base.kl), 1e-6);
}

TEST_F(Distillation, GradientsReachTheStudentOnlyAndMatchPlainAutograd) {
    const std::int64_t B = 2, T = 4, D = 6, V = 12;
    const torch::Tensor sh = torch::randn({B, T, D}, torch::kDouble).requires_grad_();
    const torch::Tensor sw = torch::randn({V, D}, torch::kDouble).requires_grad_();
    const torch::Tensor th = torch::randn({B, T, D}, torch::kDouble).requires_grad_();
    const torch::Tensor tw = torch::randn({V, D}, torch::kDouble).requires_grad_();
    const torch::Tensor kl = torch::tensor({1, 1, 0, 0, 1, 0, 0, 0}).view({B, T});
    const torch::Tensor answer = torch::tensor({0, 0, 1, 1, 0, 1, 1, 0}).view({B, T});
    const DistillBatch batch = makeBatch(kl, answer, answer, V);
    DistillationSettings settings = onlyTerms(1.3, 0.5, 0.7, 4);
    settings.chunkPositions = 3;
    const DistillationLoss loss = distillationLoss(sh, sw, th, tw, batch, settings);
    ASSERT_TRUE(loss.total.requires_grad());
    loss.total.backward();
    ASSERT_TRUE(sh.grad().defined());
    ASSERT_TRUE(sw.grad().defined());
    EXPECT_GT(sh.grad().abs().sum().item<double>(), 0.0);
    EXPECT_FALSE(th.grad().defined());
    EXPECT_FALSE(tw.grad().defined());
    // Padding rows get no gradient.
    EXPECT_EQ(sh.grad()[1][3].abs().sum().item<double>(), 0.0);

    // The same loss written with plain differentiable ops (KL and CE over the full vocabulary;
    // BiLD's value is checked elsewhere, so it is recomputed here with the same indices).
    const torch::Tensor hs = sh.detach().clone().requires_grad_();
    const torch::Tensor zs = torch::matmul(hs, sw.detach().t()).reshape({B * T, V});
    const torch::Tensor zt = torch::matmul(th.detach(), tw.detach().t()).reshape({B * T, V});
    const torch::Tensor ls = torch::log_softmax(zs, -1), lt = torch::log_softmax(zt, -1);
    const torch::Tensor klRows = (lt.exp() * (lt - ls)).sum(-1);
    const torch::Tensor klm = kl.reshape({-1}).to(torch::kDouble),
                        am = answer.reshape({-1}).to(torch::kDouble);
    const torch::Tensor ce = -ls.gather(1, batch.targets.reshape({-1, 1}).clamp_min(0)).squeeze(1);
    auto ld = [&](const torch::Tensor& idx) {
        const torch::Tensor pairs = torch::triu_indices(4, 4, 1);
        const torch::Tensor s = zs.gather(1, idx) / 3.0, t = zt.gather(1, idx) / 3.0;
        const torch::Tensor ds = s.index_select(1, pairs[0]) - s.index_select(1, pairs[1]);
        const torch::Tensor dt = t.index_select(1, pairs[0]) - t.index_select(1, pairs[1]);
        const torch::Tensor lds = torch::log_softmax(ds, -1), ldt = torch::log_softmax(dt, -1);
        return (ldt.exp() * (ldt - lds)).sum(-1);
    };
    const torch::Tensor ldRows =
        ld(std::get<1>(zt.topk(4, -1))) + ld(std::get<1>(zs.detach().topk(4, -1)));
    const torch::Tensor perSample = (am * ldRows).view({B, T}).sum(1) / am.view({B, T}).sum(1);
    const torch::Tensor plain = 1.3 * (klm * klRows).sum() / klm.sum() + 0.5 * perSample.mean() +
                                0.7 * (am * ce).sum() / am.sum();
    plain.backward();
    EXPECT_NEAR(value(loss.total), value(plain), 1e-10);
    EXPECT_LT(relativeMaxDiff(sh.grad(), hs.grad()), 1e-10);
}

TEST_F(Distillation, EmptyMasksGiveZeroAndStillBackward) {
    const torch::Tensor sh = torch::randn({1, 3, 4}).requires_grad_(), w = torch::randn({5, 4});
    const torch::Tensor none = torch::zeros({1, 3});
    const DistillBatch batch = makeBatch(none, none, none, 5);
    EXPECT_EQ(batch.tokens(), 0);
    const DistillationLoss loss = distillationLoss(sh, w, sh.detach(), w, batch, {});
    EXPECT_EQ(value(loss.total), 0.0);
    EXPECT_EQ(value(loss.kl), 0.0);
    EXPECT_EQ(value(loss.bild), 0.0);
    EXPECT_NO_THROW(loss.total.backward());
}

TEST_F(Distillation, RejectsBadShapesAndSettings) {
    const torch::Tensor h = torch::randn({1, 3, 4}), w = torch::randn({5, 4});
    const torch::Tensor ones = torch::ones({1, 3});
    const DistillBatch batch = makeBatch(ones, ones, ones, 5);
    EXPECT_EQ(batch.tokens(), 3);
    EXPECT_THROW(distillationLoss(h, w, h, torch::randn({6, 4}), batch, {}), Error);
    EXPECT_THROW(distillationLoss(h, w, torch::randn({1, 2, 4}), w, batch, {}), Error);
    EXPECT_THROW(distillationLoss(h, w, h, w, batch, onlyTerms(1, 1, 0, 1)), InputError);
    DistillationSettings cold;
    cold.bildTemperature = 0.0;
    EXPECT_THROW(distillationLoss(h, w, h, w, batch, cold), InputError);
}

}  // namespace
}  // namespace gqa::test
