// SPDX-License-Identifier: GPL-3.0-or-later
// Sliding-window perplexity against values computed by hand from independent forward passes.
#include <cmath>

#include "base/error.h"
#include "eval/perplexity.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

std::vector<std::int64_t> tokensOf(std::int64_t n) {
    std::vector<std::int64_t> t;
    for (std::int64_t i = 0; i < n; ++i) t.push_back((i * 7 + 3) % 61);
    return t;
}

/// -log p(tokens[j] | tokens[start..j)) from one forward pass over exactly that context.
double nllWithContext(const DecoderModel& m, const std::vector<std::int64_t>& t, std::int64_t start,
                      std::int64_t j) {
    std::vector<std::int64_t> ctx(t.begin() + start, t.begin() + j);
    torch::Tensor logits = m.forward(torch::tensor(ctx).unsqueeze(0))[0][-1];
    return -torch::log_softmax(logits, -1)[t[j]].item<double>();
}

TEST(Perplexity, SingleWindowEqualsExpNegMeanLogLikelihood) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 3), torch::kFloat64);
    const auto t = tokensOf(10);
    NullProgress quiet;
    const auto r = perplexity(model, t, {16, 16}, quiet);
    double nll = 0;
    for (std::int64_t j = 1; j < 10; ++j) nll += nllWithContext(model, t, 0, j);
    EXPECT_EQ(r.tokensScored, 9);
    EXPECT_EQ(r.windows, 1);
    EXPECT_NEAR(r.perplexity, std::exp(nll / 9), 1e-9);
}

TEST(Perplexity, SlidingWindowsScoreEachTokenOnceWithTheDocumentedContext) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 5), torch::kFloat64);
    const auto t = tokensOf(10);
    NullProgress quiet;
    const auto r = perplexity(model, t, {4, 2}, quiet);
    // Windows [0,4) [2,6) [4,8) [6,10): token j is scored with context starting at:
    const std::int64_t contextStart[10] = {-1, 0, 0, 0, 2, 2, 4, 4, 6, 6};
    double nll = 0;
    for (std::int64_t j = 1; j < 10; ++j) nll += nllWithContext(model, t, contextStart[j], j);
    EXPECT_EQ(r.windows, 4);
    EXPECT_EQ(r.tokensScored, 9);
    EXPECT_NEAR(r.meanNll, nll / 9, 1e-10);
}

TEST(Perplexity, UniformModelHasPerplexityOfTheVocabulary) {
    Checkpoint ck = randomCheckpoint(tinyConfig(), 7);
    ck.set("lm_head.weight", torch::zeros({61, 32}));  // every logit 0: p = 1/61
    DecoderModel model(ck, torch::kFloat64);
    NullProgress quiet;
    EXPECT_NEAR(perplexity(model, tokensOf(20), {8, 4}, quiet).perplexity, 61.0, 1e-9);
}

TEST(Perplexity, RejectsBadSettings) {
    DecoderModel model(randomCheckpoint(tinyConfig(), 9));
    NullProgress quiet;
    EXPECT_THROW(perplexity(model, {5}, {8, 4}, quiet), InputError);
    EXPECT_THROW(perplexity(model, tokensOf(10), {8, 9}, quiet), InputError);
    EXPECT_THROW(perplexity(model, tokensOf(10), {1000, 10}, quiet), InputError);
}

}  // namespace
}  // namespace gqa::test
