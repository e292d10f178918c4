// SPDX-License-Identifier: GPL-3.0-or-later
// The gradient reduction overlapped with backward, on two Gloo ranks (threads): after finish()
// every gradient (with ZeRO-1 owners: every owned one) is the sum across ranks of what each rank
// accumulated (earlier micro-batches included), parameters without a gradient in the last backward
// count, buckets start while backward runs, and a bucket order that is not a permutation is
// refused.
#include <future>

#include "base/error.h"
#include "distributed/overlappedreduce.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr int kWorld = 2;
constexpr std::int64_t kWidth = 16, kLayers = 4;

/// A small stack of layers; `unused` takes no part in the last backward.
struct Stack {
    std::vector<torch::Tensor> weights;
    torch::Tensor unused;

    static Stack random() {
        Stack s;
        for (std::int64_t i = 0; i < kLayers; ++i)
            s.weights.push_back(torch::randn({kWidth, kWidth}, torch::requires_grad()));
        s.unused = torch::randn({3}, torch::requires_grad());
        return s;
    }
    /// Fresh leaves with the same values (and gradients of their own).
    Stack copy() const {
        Stack s;
        for (const torch::Tensor& w : weights)
            s.weights.push_back(w.detach().clone().requires_grad_());
        s.unused = unused.detach().clone().requires_grad_();
        return s;
    }
    std::vector<torch::Tensor> parameters() const {
        std::vector<torch::Tensor> all = weights;
        all.push_back(unused);
        return all;
    }
    torch::Tensor loss(const torch::Tensor& input, bool withUnused) const {
        torch::Tensor h = input;
        for (const torch::Tensor& w : weights) h = torch::tanh(h.matmul(w));
        torch::Tensor l = h.pow(2).sum();
        return withUnused ? l + unused.sum() : l;
    }
};

class OverlappedReduceTest : public SeededTest {};

/// Two ranks reduce `stack`'s gradients (owners empty: all-reduce; else ZeRO-1) and check them.
void reduceOnTwoRanks(const std::vector<int>& owners) {
    const Stack stack = Stack::random();  // the same starting weights on both ranks
    std::vector<torch::Tensor> inputs;
    for (int r = 0; r < 2 * kWorld; ++r) inputs.push_back(torch::randn({5, kWidth}));

    // What the ranks must end with: rank r runs micro-batches 2r (with `unused`) and 2r + 1.
    std::vector<torch::Tensor> expected;
    {
        const Stack copy = stack.copy();
        for (int r = 0; r < kWorld; ++r) {
            copy.loss(inputs[std::size_t(2 * r)], true).backward();
            copy.loss(inputs[std::size_t(2 * r + 1)], false).backward();
        }
        for (const torch::Tensor& p : copy.parameters()) expected.push_back(p.grad().clone());
    }

    const int port = freeLocalPort();
    std::vector<std::future<std::pair<std::vector<torch::Tensor>, int>>> ranks;
    for (int rank = 0; rank < kWorld; ++rank)
        ranks.push_back(std::async(std::launch::async, [&, rank] {
            auto communicator = connectGloo(localRendezvous(port, rank, kWorld, 30));
            const Stack mine = stack.copy();
            mine.loss(inputs[std::size_t(2 * rank)], true).backward();  // earlier micro-batch
            // One weight matrix per bucket, in the order backward reaches them (the reverse
            // parameter order would put `unused` first and hold every bucket back).
            OverlappedReduce reduce(*communicator, mine.parameters(), {3, 2, 1, 0, 4},
                                    kWidth * kWidth * std::int64_t(sizeof(float)), owners);
            mine.loss(inputs[std::size_t(2 * rank + 1)], false).backward();
            const std::vector<std::int64_t> order = reduce.finish();
            EXPECT_EQ(order.size(), mine.parameters().size());
            EXPECT_EQ(order.back(), kLayers);       // `unused` got no gradient: last
            EXPECT_EQ(order.front(), kLayers - 1);  // the last layer's gradient comes first
            std::vector<torch::Tensor> grads;
            for (const torch::Tensor& p : mine.parameters()) grads.push_back(p.grad());
            return std::make_pair(grads, reduce.bucketsStartedEarly());
        }));
    for (int rank = 0; rank < kWorld; ++rank) {
        const auto [grads, early] = ranks[std::size_t(rank)].get();
        ASSERT_EQ(grads.size(), expected.size());
        for (std::size_t i = 0; i < grads.size(); ++i) {
            if (!owners.empty() && owners[i] != rank) {  // ZeRO-1: only the owner keeps it
                EXPECT_FALSE(grads[i].defined()) << "rank " << rank << " parameter " << i;
                continue;
            }
            ASSERT_TRUE(grads[i].defined());
            EXPECT_LT(relativeMaxDiff(grads[i], expected[i]), 1e-6)
                << "rank " << rank << " parameter " << i;
        }
        // Every weight's bucket starts during backward; `unused`'s in finish().
        EXPECT_EQ(early, int(kLayers)) << "rank " << rank;
    }
}

TEST_F(OverlappedReduceTest, GradientsBecomeTheSumAcrossRanks) { reduceOnTwoRanks({}); }

TEST_F(OverlappedReduceTest, WithOwnersEachGradientIsSummedOntoItsOwnerOnly) {
    reduceOnTwoRanks({0, 1, 1, 0, 1});
}

TEST_F(OverlappedReduceTest, RefusesABucketOrderThatIsNotAPermutation) {
    auto communicator = connectGloo(localRendezvous(freeLocalPort(), 0, 1, 30));
    const Stack stack = Stack::random();
    EXPECT_THROW(OverlappedReduce(*communicator, stack.parameters(), {0, 1, 2, 3, 3}), Error);
    EXPECT_THROW(OverlappedReduce(*communicator, stack.parameters(), {0, 1}), Error);
    EXPECT_THROW(OverlappedReduce(*communicator, stack.parameters(), {}, 1024, {0, 0}), Error);
}

}  // namespace
}  // namespace gqa::test
