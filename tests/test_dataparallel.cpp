// SPDX-License-Identifier: GPL-3.0-or-later
// The data-parallel split of the conversion training: the shards' weighted losses add up to the
// combined batch's loss, and their gradients to its gradient, also when the shards hold unequal
// numbers of KL, BiLD and LM positions (prompt/answer data).
#include <future>

#include "distributed/dataparallel.h"
#include "base/error.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr std::int64_t kRows = 4, kLength = 6, kHidden = 8, kVocab = 11;

/// A batch with uneven masks: row 3 has no BiLD positions, rows differ in KL/LM counts.
DistillBatch unevenBatch() {
    DistillBatch b;
    b.inputs = torch::randint(kVocab, {kRows, kLength});
    b.targets = torch::randint(kVocab, {kRows, kLength});
    b.klMask = (torch::rand({kRows, kLength}) > 0.4).to(torch::kFloat32);
    b.bildMask = (torch::rand({kRows, kLength}) > 0.5).to(torch::kFloat32);
    b.bildMask[3].zero_();
    b.bildMask[0][0] = 1.0;
    b.lmMask = (torch::rand({kRows, kLength}) > 0.3).to(torch::kFloat32);
    return b;
}

class DataParallelTest : public SeededTest {};

TEST_F(DataParallelTest, ShardLossesAndGradientsSumToTheCombinedBatch) {
    const DistillBatch global = unevenBatch();
    DistillationSettings settings;
    settings.lmWeight = 0.5;
    settings.bildTopK = 4;
    const torch::Tensor lmHead = torch::randn({kVocab, kHidden}, torch::kFloat64);
    const torch::Tensor teacherHidden = torch::randn({kRows, kLength, kHidden}, torch::kFloat64);
    const torch::Tensor hidden =
        torch::randn({kRows, kLength, kHidden}, torch::kFloat64).requires_grad_(true);

    const DistillationLoss whole =
        distillationLoss(hidden, lmHead, teacherHidden, lmHead, global, settings);
    const torch::Tensor wholeGrad = torch::autograd::grad({whole.total}, {hidden})[0];

    for (int world : {2, 4}) {
        torch::Tensor total = torch::zeros({}, torch::kFloat64);
        double kl = 0.0, bild = 0.0, lm = 0.0;
        for (int rank = 0; rank < world; ++rank) {
            const DistillBatch shard = rankShard(global, rank, world);
            const ShardShares shares = shardShares(global, shard);
            const std::int64_t rows = kRows / world;
            const DistillationLoss part =
                distillationLoss(hidden.narrow(0, rank * rows, rows), lmHead,
                                 teacherHidden.narrow(0, rank * rows, rows), lmHead, shard,
                                 shardLossSettings(settings, shares));
            total = total + part.total;
            kl += part.kl.item<double>() * shares.kl;
            bild += part.bild.item<double>() * shares.bild;
            lm += part.lm.item<double>() * shares.lm;
        }
        const torch::Tensor grad = torch::autograd::grad({total}, {hidden})[0];
        EXPECT_NEAR(total.item<double>(), whole.total.item<double>(), 1e-12) << world;
        EXPECT_NEAR(kl, whole.kl.item<double>(), 1e-12);
        EXPECT_NEAR(bild, whole.bild.item<double>(), 1e-12);
        EXPECT_NEAR(lm, whole.lm.item<double>(), 1e-12);
        EXPECT_LT(relativeMaxDiff(grad, wholeGrad), 1e-12) << world;
    }
}

TEST_F(DataParallelTest, ShardsAreConsecutiveRowsAndMustDivideTheBatch) {
    const DistillBatch global = unevenBatch();
    const DistillBatch second = rankShard(global, 1, 2);
    EXPECT_TRUE(second.inputs.equal(global.inputs.narrow(0, 2, 2)));
    EXPECT_TRUE(second.bildMask.equal(global.bildMask.narrow(0, 2, 2)));
    EXPECT_THROW(rankShard(global, 0, 3), Error);
    EXPECT_THROW(rankShard(global, 2, 2), Error);
}

// ZeRO-1's gradient path on two Gloo ranks (threads): each owner ends with the summed gradient of
// its parameters, clipped exactly as clip_grad_norm_ clips the summed gradients of all of them;
// the gradients a rank does not own are gone.
TEST_F(DataParallelTest, OwnersGetTheSummedGradientsClippedByTheGlobalNorm) {
    constexpr int kWorld = 2;
    constexpr double kMaxNorm = 0.5;  // well below the norm of the sums: clipping happens
    const std::vector<int> owners{0, 1, 1, 0};
    const std::vector<std::vector<std::int64_t>> shapes{{3, 4}, {5}, {2, 2, 2}, {7}};
    std::vector<std::vector<torch::Tensor>> params(kWorld);
    for (int rank = 0; rank < kWorld; ++rank)
        for (const auto& shape : shapes) {
            torch::Tensor p = torch::zeros(shape, torch::requires_grad());
            p.mutable_grad() = torch::randn(shape);
            params[std::size_t(rank)].push_back(p);
        }
    std::vector<torch::Tensor> expected;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        torch::Tensor p = torch::zeros(shapes[i], torch::requires_grad());
        p.mutable_grad() = params[0][i].grad() + params[1][i].grad();
        expected.push_back(p);
    }
    const double expectedNorm = torch::nn::utils::clip_grad_norm_(expected, kMaxNorm);
    ASSERT_GT(expectedNorm, 2 * kMaxNorm);

    const int port = freeLocalPort();
    std::vector<std::future<double>> ranks;
    for (int rank = 0; rank < kWorld; ++rank)
        ranks.push_back(std::async(std::launch::async, [&, rank] {
            auto communicator = connectGloo(localRendezvous(port, rank, kWorld, 30));
            reduceGradientsToOwners(*communicator, params[std::size_t(rank)], owners);
            return clipOwnedGradients(*communicator, params[std::size_t(rank)], owners, kMaxNorm);
        }));
    for (int rank = 0; rank < kWorld; ++rank) {
        EXPECT_NEAR(ranks[std::size_t(rank)].get(), expectedNorm, 1e-5 * expectedNorm);
        for (std::size_t i = 0; i < shapes.size(); ++i) {
            const torch::Tensor grad = params[std::size_t(rank)][i].grad();
            if (owners[i] != rank) {
                EXPECT_FALSE(grad.defined()) << "rank " << rank << " tensor " << i;
                continue;
            }
            ASSERT_TRUE(grad.defined());
            EXPECT_LT(relativeMaxDiff(grad, expected[i].grad()), 1e-6) << "tensor " << i;
        }
    }
}

}  // namespace
}  // namespace gqa::test
