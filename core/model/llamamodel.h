// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A Llama-architecture causal language model in LibTorch, written functionally over plain weight
// tensors so that later stages (calibration hooks, alignment, gated training) can read and replace
// any weight by name.
//
// Per layer: x += o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))) with
// n = RMSNorm(x), then x += down_proj(silu(gate_proj(n')) * up_proj(n')) with n' = RMSNorm(x).
// Attention supports any number of KV heads: query head h reads KV head h / (heads / kvHeads),
// which is Hugging Face's `repeat_kv`. The LM head is tied to the embeddings when the config says
// so. Device (CPU/CUDA) and compute dtype (float64/float32/bfloat16) are chosen at run time.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "io/checkpoint.h"
#include "model/kvcache.h"
#include "io/modelconfig.h"

namespace gqa {

struct LayerWeights {
    torch::Tensor inputNorm, postAttentionNorm;  // [D]
    torch::Tensor qProj, kProj, vProj, oProj;    // [H*d, D], [KV*d, D], [KV*d, D], [D, H*d]
    torch::Tensor gateProj, upProj, downProj;    // [I, D], [I, D], [D, I]
};

/// Receives each layer's per-head keys (before RoPE) and values, [B, kvHeads, T, d].
class AttentionObserver {
public:
    virtual ~AttentionObserver() = default;
    virtual void observe(std::int64_t layer, const torch::Tensor& keysPreRope,
                         const torch::Tensor& values) = 0;
};

/// Supplies the key and value projection weights a layer uses instead of its own k_proj/v_proj
/// (the conversion training's gated mix of original and merged heads, gatedkvmodel.h).
class KvWeightSource {
public:
    virtual ~KvWeightSource() = default;
    /// [kvHeads*d, D] each; kvHeads must divide the query heads.
    virtual std::pair<torch::Tensor, torch::Tensor> keyValueWeights(std::int64_t layer) const = 0;
};

struct ForwardOptions {
    KvCache* cache = nullptr;                   ///< incremental decoding when set
    AttentionObserver* observer = nullptr;      ///< calibration hook
    const KvWeightSource* kvWeights = nullptr;  ///< replaces k_proj/v_proj when set
    /// Training memory: when grad mode is on, keep only each decoder layer's input and recompute
    /// the layer during backward (layercheckpoint.h); same values and gradients, one extra layer
    /// forward each in backward. No effect without grad mode. Throws with a cache or observer.
    bool checkpointLayers = false;
};

class LlamaModel {
public:
    /// Converts the checkpoint's tensors to `dtype` on `device`.
    LlamaModel(const Checkpoint& checkpoint, torch::ScalarType dtype = torch::kFloat32,
               torch::Device device = torch::kCPU);

    const ModelConfig& config() const { return m_config; }
    torch::ScalarType dtype() const { return m_dtype; }
    torch::Device device() const { return m_device; }

    /// tokens [B, T] (int64) -> logits [B, T, vocab]. With a cache, positions continue after the
    /// cached ones and the new keys/values are appended.
    torch::Tensor forward(const torch::Tensor& tokens, const ForwardOptions& options = {}) const;
    /// The final-norm hidden states [B, T, D] (logits = hidden @ lmHead^T), for chunked losses.
    torch::Tensor hiddenStates(const torch::Tensor& tokens,
                               const ForwardOptions& options = {}) const;

    torch::Tensor embedTokens;  ///< [V, D]
    std::vector<LayerWeights> layers;
    torch::Tensor finalNorm;  ///< [D]
    torch::Tensor lmHead;     ///< [V, D]; the same tensor as embedTokens when tied

    /// A model computing in `dtype` whose weights are casts of this one's (autograd-tracked, so
    /// gradients reach these weights: float32 master weights, bfloat16 compute).
    LlamaModel castTo(torch::ScalarType dtype) const;

    /// The weights as a Checkpoint under standard Hugging Face names, stored in `dtype`.
    /// The config's numKvHeads follows the k_proj shapes.
    Checkpoint toCheckpoint(DType dtype) const;
    /// The same with every tensor in the dtype it is held in (frozen bfloat16 weights next to
    /// float32 masters during training); `configDtype` is what config.json records.
    Checkpoint toCheckpointAsHeld(DType configDtype) const;

private:
    Checkpoint checkpointOf(DType configDtype, std::optional<torch::ScalarType> tensorDtype) const;

    ModelConfig m_config;
    torch::ScalarType m_dtype;
    torch::Device m_device;
};

/// RMSNorm as in Llama: x / sqrt(mean(x^2) + eps) * weight, computed in float32 or wider.
torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

/// Standard Hugging Face tensor names.
std::string layerTensorName(std::int64_t layer, const std::string& suffix);

}  // namespace gqa
