// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/attentionkernel.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>

#include "base/error.h"
#include "base/torchcompat.h"

namespace gqa {
namespace {

/// Environment variable that overrides the default kernel for a process.
constexpr const char* kKernelVariable = "GQA_ATTENTION";

std::atomic<int> g_kernel{-1};  // -1: not chosen yet
std::once_flag g_defaultOnce;

AttentionKernel defaultKernel() {
    const char* text = std::getenv(kKernelVariable);
    if (text && *text) {
        const AttentionKernel chosen = parseAttentionKernel(text);
        if (chosen == AttentionKernel::Sdpa && !sdpaAvailable())
            throw InputError(std::string(kKernelVariable) + "=sdpa, but this build has LibTorch " +
                             TORCH_VERSION + " (scaled_dot_product_attention needs 2.0 or later)");
        return chosen;
    }
    return sdpaAvailable() ? AttentionKernel::Sdpa : AttentionKernel::Matmul;
}

/// The reference: the rep = H / KV query heads of a KV head attend as one [rep * T] block of rows,
/// so keys and values are read once per KV head without being copied.
torch::Tensor matmulAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const AttentionMask& mask) {
    const std::int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3);
    const std::int64_t KV = k.size(1), S = k.size(2), rep = H / KV;
    torch::Tensor scores = torch::matmul(q.reshape({B, KV, rep * T, d}), k.transpose(-2, -1)) /
                           std::sqrt(double(d));  // [B, KV, rep * T, S]
    if (mask.hidden.defined())
        scores = scores.view({B, KV, rep, T, S})
                     .masked_fill(mask.hidden, -std::numeric_limits<double>::infinity())
                     .view({B, KV, rep * T, S});
    // Softmax in float32 (float64 for float64 models), as Hugging Face does for half precision.
    const auto softmaxType =
        scores.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    const torch::Tensor probs = torch::softmax(scores.to(softmaxType), -1).to(q.scalar_type());
    return torch::matmul(probs, v).view({B, H, T, d});
}

/// KV heads repeated to one per query head, [B, KV, S, d] -> [B, H, S, d] (a copy when rep > 1).
torch::Tensor repeatKv(const torch::Tensor& x, std::int64_t rep) {
    if (rep == 1) return x;
    const std::int64_t B = x.size(0), KV = x.size(1), S = x.size(2), d = x.size(3);
    return x.unsqueeze(2).expand({B, KV, rep, S, d}).reshape({B, KV * rep, S, d});
}

torch::Tensor sdpaAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const AttentionMask& mask) {
    const std::int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3);
    const std::int64_t KV = k.size(1), rep = H / KV;
    if (!mask.hidden.defined()) {
        // Nothing hidden (decoding one token, or T == 1): the grouped rows need no copy of k, v.
        const torch::Tensor rows = q.reshape({B, KV, rep * T, d});
        return compat::scaledDotProductAttention(rows, k, v, torch::Tensor(), false)
            .view({B, H, T, d});
    }
    // The causal kernels mask per head; grouped rows would need a mask of their own.
    const torch::Tensor keys = repeatKv(k, rep), values = repeatKv(v, rep);
    if (mask.causalOnly) return compat::scaledDotProductAttention(q, keys, values, {}, true);
    return compat::scaledDotProductAttention(q, keys, values, mask.hidden.logical_not(), false);
}

}  // namespace

bool sdpaAvailable() { return compat::kHaveSdpa; }

AttentionKernel attentionKernel() {
    std::call_once(g_defaultOnce, [] {
        int expected = -1;
        g_kernel.compare_exchange_strong(expected, static_cast<int>(defaultKernel()));
    });
    return static_cast<AttentionKernel>(g_kernel.load());
}

void setAttentionKernel(AttentionKernel kernel) {
    if (kernel == AttentionKernel::Sdpa && !sdpaAvailable())
        throw Error(std::string("the sdpa attention kernel needs LibTorch 2.0 or later; this "
                                "build has ") +
                    TORCH_VERSION);
    attentionKernel();  // settles the default first, so that it cannot overwrite this choice
    g_kernel.store(static_cast<int>(kernel));
}

std::string attentionKernelName(AttentionKernel kernel) {
    return kernel == AttentionKernel::Sdpa ? "sdpa" : "matmul";
}

AttentionKernel parseAttentionKernel(const std::string& text) {
    if (text == "matmul") return AttentionKernel::Matmul;
    if (text == "sdpa") return AttentionKernel::Sdpa;
    throw InputError("unknown attention kernel '" + text + "'; expected matmul or sdpa");
}

ScopedAttentionKernel::ScopedAttentionKernel(AttentionKernel kernel)
    : m_previous(attentionKernel()) {
    setAttentionKernel(kernel);
}

ScopedAttentionKernel::~ScopedAttentionKernel() { g_kernel.store(static_cast<int>(m_previous)); }

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const AttentionMask& mask, AttentionKernel kernel) {
    if (k.size(1) == 0 || q.size(1) % k.size(1) != 0)
        throw Error("attention: " + std::to_string(k.size(1)) + " KV heads do not divide " +
                    std::to_string(q.size(1)) + " query heads");
    return kernel == AttentionKernel::Sdpa ? sdpaAttention(q, k, v, mask)
                                           : matmulAttention(q, k, v, mask);
}

}  // namespace gqa
