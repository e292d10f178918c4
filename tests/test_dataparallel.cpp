// SPDX-License-Identifier: GPL-3.0-or-later
// The data-parallel split of the conversion training: the shards' weighted losses add up to the
// combined batch's loss, and their gradients to its gradient, also when the shards hold unequal
// numbers of KL, BiLD and LM positions (prompt/answer data).
#include "dataparallel.h"
#include "error.h"
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

}  // namespace
}  // namespace gqa::test
