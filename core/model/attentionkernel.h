// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The attention product of every forward pass (decodermodel.cpp; the gated student of the
// conversion training runs through the same forward), by one of two kernels chosen at run time:
//
//   matmul  scores = q k^T / sqrt(d), masked, softmax in float32 (float64 for float64 models),
//           times v: the reference, exact to the float64 invariants, and the only kernel with
//           LibTorch < 2.0. It holds the [B, H, T, S] scores (the memory plan counts them).
//   sdpa    at::scaled_dot_product_attention (LibTorch >= 2.0): flash or memory-efficient
//           kernels on CUDA, which never hold the scores; same scale 1/sqrt(d), same masks.
//
// The default is sdpa where it is built, else matmul; $GQA_ATTENTION=matmul|sdpa overrides it for
// a process, setAttentionKernel (or ScopedAttentionKernel, for tests that run both) at run time.
// GQA: query head h reads KV head h / (H / KV) (Hugging Face's repeat_kv) in both kernels.

#include <atomic>
#include <string>

#include <torch/torch.h>

namespace gqa {

enum class AttentionKernel { Matmul, Sdpa };

/// Whether this build has the sdpa kernel (LibTorch 2.0 or later).
bool sdpaAvailable();
/// The kernel forward passes use now (see the header comment for the default).
AttentionKernel attentionKernel();
/// Error when asked for sdpa in a build without it.
void setAttentionKernel(AttentionKernel kernel);
/// "matmul" or "sdpa".
std::string attentionKernelName(AttentionKernel kernel);
/// "matmul" or "sdpa"; InputError otherwise.
AttentionKernel parseAttentionKernel(const std::string& text);

/// Sets the kernel for its lifetime and restores the previous one (process-wide: not for use
/// while another thread runs a forward with a different expectation).
class ScopedAttentionKernel {
public:
    explicit ScopedAttentionKernel(AttentionKernel kernel);
    ~ScopedAttentionKernel();
    ScopedAttentionKernel(const ScopedAttentionKernel&) = delete;
    ScopedAttentionKernel& operator=(const ScopedAttentionKernel&) = delete;

private:
    AttentionKernel m_previous;
};

/// Which (query, key) pairs a forward hides.
struct AttentionMask {
    torch::Tensor hidden;     ///< [T, S] bool, true where hidden; undefined when nothing is
    bool causalOnly = false;  ///< `hidden` is exactly the causal mask and T == S (no window)
};

/// softmax(q k^T / sqrt(d) + mask) v with q [B, H, T, d] and k, v [B, KV, S, d] (KV dividing H)
/// -> [B, H, T, d] in q's dtype, by `kernel`.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const AttentionMask& mask, AttentionKernel kernel);

}  // namespace gqa
