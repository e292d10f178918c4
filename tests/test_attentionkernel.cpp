// SPDX-License-Identifier: GPL-3.0-or-later
// The two attention kernels (model/attentionkernel.h): the matmul reference against a plain
// per-head softmax, and LibTorch's scaled_dot_product_attention against the reference, alone
// (GQA, causal, sliding window, a KV cache's queries after cached keys, one decoded token) and
// through whole forward passes and gradients of the plain and the gated model. The sdpa tests
// skip, saying why, in builds against LibTorch < 2.0 (Debian's 1.13).
#include <limits>

#include <torch/version.h>

#include "base/error.h"
#include "model/attentionkernel.h"
#include "model/decodermodel.h"
#include "model/kvcache.h"
#include "training/gatedkvmodel.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr double kFloat64Tight = 1e-12;
/// bfloat16 keeps 8 significant bits (relative step 2^-8 = 0.004); the fused CUDA kernels and the
/// reference round at different points through two layers, so their logits may differ by a few
/// steps relative to the largest logit.
constexpr double kBfloat16Tolerance = 0.03;
const char* const kNoSdpa =
    "built against LibTorch " TORCH_VERSION
    ": scaled_dot_product_attention needs 2.0 or later, so only the matmul kernel exists";

/// softmax(q k^T / sqrt(d) + mask) v head by head, KV head h / (H / KV) for query head h.
torch::Tensor naiveAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const torch::Tensor& hidden) {
    const std::int64_t H = q.size(1), rep = H / k.size(1);
    std::vector<torch::Tensor> heads;
    for (std::int64_t h = 0; h < H; ++h) {
        torch::Tensor scores =
            torch::matmul(q.select(1, h), k.select(1, h / rep).transpose(-2, -1)) /
            std::sqrt(double(q.size(3)));
        if (hidden.defined())
            scores = scores.masked_fill(hidden, -std::numeric_limits<double>::infinity());
        heads.push_back(torch::matmul(torch::softmax(scores, -1), v.select(1, h / rep)));
    }
    return torch::stack(heads, 1);
}

struct Case {
    const char* name;
    std::int64_t T, S, window;
};

/// The masks the forward builds (decodermodel.cpp), for T queries at the end of S positions.
AttentionMask maskFor(const Case& c) {
    const auto options = torch::TensorOptions().dtype(torch::kBool);
    AttentionMask mask;
    if (c.T > 1) mask.hidden = torch::ones({c.T, c.S}, options).triu(c.S - c.T + 1);
    const bool windowed = c.window > 0 && c.S > c.window;
    mask.causalOnly = c.T > 1 && c.T == c.S && !windowed;
    if (windowed) {
        const torch::Tensor far = torch::ones({c.T, c.S}, options).tril(c.S - c.T - c.window);
        mask.hidden = mask.hidden.defined() ? mask.hidden.logical_or(far) : far;
    }
    return mask;
}

const Case kCases[] = {{"causal", 7, 7, 0},
                       {"sliding window", 9, 9, 4},
                       {"after cached keys", 3, 8, 0},
                       {"one decoded token", 1, 6, 0},
                       {"decoded token past the window", 1, 6, 3}};

TEST(AttentionKernel, NamesParseAndSdpaNeedsLibTorch2) {
    EXPECT_EQ(parseAttentionKernel("matmul"), AttentionKernel::Matmul);
    EXPECT_EQ(parseAttentionKernel("sdpa"), AttentionKernel::Sdpa);
    EXPECT_EQ(attentionKernelName(AttentionKernel::Sdpa), "sdpa");
    EXPECT_THROW(parseAttentionKernel("flash"), InputError);
    if (!sdpaAvailable()) {
        EXPECT_THROW(setAttentionKernel(AttentionKernel::Sdpa), Error);
        EXPECT_EQ(attentionKernel(), AttentionKernel::Matmul);
    }
    {
        const ScopedAttentionKernel scoped(AttentionKernel::Matmul);
        EXPECT_EQ(attentionKernel(), AttentionKernel::Matmul);
    }
}

TEST(AttentionKernel, MatmulMatchesPerHeadSoftmaxFloat64) {
    torch::manual_seed(7);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    for (const Case& c : kCases) {
        const torch::Tensor q = torch::randn({2, 4, c.T, 8}, f64);
        const torch::Tensor k = torch::randn({2, 2, c.S, 8}, f64);
        const torch::Tensor v = torch::randn({2, 2, c.S, 8}, f64);
        const AttentionMask mask = maskFor(c);
        EXPECT_LT(relativeMaxDiff(attend(q, k, v, mask, AttentionKernel::Matmul),
                                  naiveAttention(q, k, v, mask.hidden)),
                  kFloat64Tight)
            << c.name;
    }
}

TEST(AttentionKernel, SdpaMatchesMatmulFloat64) {
    if (!sdpaAvailable()) GTEST_SKIP() << kNoSdpa;
    torch::manual_seed(8);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    for (std::int64_t kvHeads : {4, 2, 1})
        for (const Case& c : kCases) {
            const torch::Tensor q = torch::randn({2, 4, c.T, 8}, f64);
            const torch::Tensor k = torch::randn({2, kvHeads, c.S, 8}, f64);
            const torch::Tensor v = torch::randn({2, kvHeads, c.S, 8}, f64);
            const AttentionMask mask = maskFor(c);
            EXPECT_LT(relativeMaxDiff(attend(q, k, v, mask, AttentionKernel::Sdpa),
                                      attend(q, k, v, mask, AttentionKernel::Matmul)),
                      kFloat64Tight)
                << c.name << ", " << kvHeads << " KV heads";
        }
}

/// Logits of the plain and the gated model (random gates, so both halves of every blend count)
/// and the gradient of a loss over the gated model's merged keys, under `kernel`.
struct ForwardResult {
    torch::Tensor plain, gated, mergedKeyGrad;
};

ForwardResult forwardWith(AttentionKernel kernel, torch::ScalarType dtype, torch::Device device) {
    const ScopedAttentionKernel scoped(kernel);
    ModelConfig config = tinyConfig(4);
    const Checkpoint mha = randomCheckpoint(config, 21);
    torch::manual_seed(22);
    const torch::Tensor tokens = torch::randint(config.vocabSize, {2, 11}, torch::kLong);
    const torch::Tensor gates = torch::rand({config.numLayers, config.numHeads}, torch::kFloat64);
    ForwardResult r;
    r.plain = DecoderModel(mha, dtype, device).forward(tokens).to(torch::kCPU, torch::kFloat64);
    GatedKvModel gated(mha, 2, dtype, device);
    for (torch::Tensor& t : gated.mergedKeys) t.requires_grad_(true);
    const torch::Tensor logits = gated.forward(tokens, gates.to(device, dtype), dtype);
    logits.to(torch::kFloat64).pow(2).mean().backward();
    r.gated = logits.detach().to(torch::kCPU, torch::kFloat64);
    r.mergedKeyGrad = gated.mergedKeys[0].grad().to(torch::kCPU, torch::kFloat64);
    return r;
}

TEST(AttentionKernel, SdpaModelForwardAndGradientsMatchMatmulFloat64) {
    if (!sdpaAvailable()) GTEST_SKIP() << kNoSdpa;
    const ForwardResult sdpa = forwardWith(AttentionKernel::Sdpa, torch::kFloat64, torch::kCPU);
    const ForwardResult matmul = forwardWith(AttentionKernel::Matmul, torch::kFloat64, torch::kCPU);
    EXPECT_LT(relativeMaxDiff(sdpa.plain, matmul.plain), kFloat64Tight);
    EXPECT_LT(relativeMaxDiff(sdpa.gated, matmul.gated), kFloat64Tight);
    EXPECT_LT(relativeMaxDiff(sdpa.mergedKeyGrad, matmul.mergedKeyGrad), kFloat64Tight);
}

TEST(AttentionKernel, SdpaMatchesMatmulBfloat16_CUDA) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    if (!sdpaAvailable()) GTEST_SKIP() << kNoSdpa;
    const ForwardResult sdpa = forwardWith(AttentionKernel::Sdpa, torch::kBFloat16, torch::kCUDA);
    const ForwardResult matmul =
        forwardWith(AttentionKernel::Matmul, torch::kBFloat16, torch::kCUDA);
    EXPECT_LT(relativeMaxDiff(sdpa.plain, matmul.plain), kBfloat16Tolerance);
    EXPECT_LT(relativeMaxDiff(sdpa.gated, matmul.gated), kBfloat16Tolerance);
    // Gradients pass through more roundings: twice the tolerance.
    EXPECT_LT(relativeMaxDiff(sdpa.mergedKeyGrad, matmul.mergedKeyGrad), 2 * kBfloat16Tolerance);
}

TEST(AttentionKernel, SdpaDecodingWithCacheMatchesMatmul_CUDA) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    if (!sdpaAvailable()) GTEST_SKIP() << kNoSdpa;
    const Checkpoint ck = randomCheckpoint(tinyConfig(2), 23);
    const DecoderModel model(ck, torch::kFloat32, torch::kCUDA);
    torch::manual_seed(24);
    const torch::Tensor prompt = torch::randint(ck.config.vocabSize, {1, 6}, torch::kLong);
    const torch::Tensor next = torch::randint(ck.config.vocabSize, {1, 1}, torch::kLong);
    auto decode = [&](AttentionKernel kernel) {
        const ScopedAttentionKernel scoped(kernel);
        KvCache cache(ck.config.numLayers);
        ForwardOptions options;
        options.cache = &cache;
        model.forward(prompt, options);
        return model.forward(next, options).to(torch::kCPU, torch::kFloat64);
    };
    EXPECT_LT(relativeMaxDiff(decode(AttentionKernel::Sdpa), decode(AttentionKernel::Matmul)),
              1e-4);
}

}  // namespace
}  // namespace gqa::test
