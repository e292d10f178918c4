// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A decoder-only causal language model of any supported family (modelfamily.h) in LibTorch,
// written functionally over plain weight tensors so that later stages (calibration hooks,
// alignment, gated training) can read and replace any weight by its role.
//
// Per layer, with n = Norm(x) (method §13 for the families' norms):
//   sequential:  x += attn(n);  x += mlp(Norm'(x))
//   parallel:    x += attn(n) + mlp(n)                (Phi, StableLM's use_parallel_residual)
// attn(n) = o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))), biases where the
// config has them, RoPE on the first rotaryDims() dimensions of each head, a sliding window when
// configured; mlp = down(act(gate(n)) * up(n)) or fc2(act(fc1(n))). Attention supports any number
// of KV heads: query head h reads KV head h / (heads / kvHeads), Hugging Face's `repeat_kv`.
// The LM head is tied to the embeddings when the config says so. Device (CPU/CUDA) and compute
// dtype (float64/float32/bfloat16) are chosen at run time. One forward serves every family: the
// differences are the config's fields, never a branch on the family's name.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "io/checkpoint.h"
#include "model/kvcache.h"
#include "io/modelconfig.h"

namespace gqa {

/// One decoder layer's weights by role; a role the config does not store is an undefined tensor.
struct LayerWeights {
    torch::Tensor inputNorm, inputNormBias;                  // [D]
    torch::Tensor postAttentionNorm, postAttentionNormBias;  // [D]
    torch::Tensor qProj, kProj, vProj, oProj;  // [H*d, D], [KV*d, D], [KV*d, D], [D, H*d]
    torch::Tensor qBias, kBias, vBias, oBias;  // [H*d], [KV*d], [KV*d], [D]
    torch::Tensor gateProj, upProj, downProj;  // [I, D], [I, D], [D, I] (plain MLP: no gate)
    torch::Tensor gateBias, upBias, downBias;  // [I], [I], [D]

    torch::Tensor& operator[](LayerTensor role);
    const torch::Tensor& operator[](LayerTensor role) const;
};

/// Receives each layer's per-head keys (before RoPE) and values, [B, kvHeads, T, d].
class AttentionObserver {
public:
    virtual ~AttentionObserver() = default;
    virtual void observe(std::int64_t layer, const torch::Tensor& keysPreRope,
                         const torch::Tensor& values) = 0;
};

/// An observed [B, kvHeads, T, d] tensor as one row per token, [B*T, kvHeads, d]: the shape the
/// head statistics accumulate (headstatistics.h).
torch::Tensor tokenRows(const torch::Tensor& perHead);

/// Replaces some of a layer's weights for one forward: the conversion training's gated mix of
/// original and merged heads (gatedkvmodel.h). Called once per layer and forward, outside any
/// recomputed (checkpointed) layer, so gradients reach what the source mixes.
class LayerWeightSource {
public:
    virtual ~LayerWeightSource() = default;
    /// `weights` holds the layer's own on entry; the source overwrites the ones it supplies.
    /// Key/value projections may have fewer heads than the queries when they divide them.
    virtual void substitute(std::int64_t layer, LayerWeights& weights) const = 0;
};

struct ForwardOptions {
    KvCache* cache = nullptr;                         ///< incremental decoding when set
    AttentionObserver* observer = nullptr;            ///< calibration hook
    const LayerWeightSource* weightSource = nullptr;  ///< replaces projections when set
    /// Training memory: when grad mode is on, keep only each decoder layer's input and recompute
    /// the layer during backward (layercheckpoint.h); same values and gradients, one extra layer
    /// forward each in backward. No effect without grad mode. Throws with a cache or observer.
    bool checkpointLayers = false;
};

class DecoderModel {
public:
    /// Converts the checkpoint's tensors to `dtype` on `device`.
    DecoderModel(const Checkpoint& checkpoint, torch::ScalarType dtype = torch::kFloat32,
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
    /// The input of layer 0 [B, T, D]: the embeddings of tokens [B, T] (scaled where the family
    /// scales them). With layerForward, runs the model one layer at a time (the layer-wise
    /// least-squares fit, layerwisemerge.h); hiddenStates is the same sequence of calls.
    torch::Tensor embed(const torch::Tensor& tokens) const;
    /// Decoder layer `layer` on its input [B, T, D] at positions 0.. T-1, with this model's
    /// weights of that layer: its output [B, T, D]. Honours the options' observer only.
    torch::Tensor layerForward(std::int64_t layer, const torch::Tensor& hidden,
                               const ForwardOptions& options = {}) const;

    torch::Tensor embedTokens;  ///< [V, D]
    std::vector<LayerWeights> layers;
    torch::Tensor finalNorm, finalNormBias;  ///< [D]; undefined when the norm has none
    torch::Tensor lmHead;                    ///< [V, D]; the same tensor as embedTokens when tied
    torch::Tensor lmHeadBias;                ///< [V] (Phi); undefined otherwise

    /// The LM head as one matrix over hidden states extended by a constant 1 when it has a bias:
    /// logits = headInput(hidden) @ headMatrix()^T, for losses that chunk the vocabulary product.
    torch::Tensor headMatrix() const;
    torch::Tensor headInput(const torch::Tensor& hidden) const;
    /// Every weight the model holds, with its checkpoint name and its role for the training
    /// scope (roleName, or "embed_tokens", "norm", "lm_head"), in checkpoint order; a tied LM
    /// head is not listed (it is embedTokens).
    struct NamedWeight {
        std::string name, role;
        torch::Tensor* tensor;
    };
    std::vector<NamedWeight> namedWeights();

    /// A model computing in `dtype` whose weights are casts of this one's (autograd-tracked, so
    /// gradients reach these weights: float32 master weights, bfloat16 compute).
    DecoderModel castTo(torch::ScalarType dtype) const;

    /// The weights as a Checkpoint under standard Hugging Face names, stored in `dtype`.
    /// The config's numKvHeads follows the k_proj shapes.
    Checkpoint toCheckpoint(DType dtype) const;
    /// The same with every tensor in the dtype it is held in (frozen bfloat16 weights next to
    /// float32 masters during training); `configDtype` is what config.json records.
    Checkpoint toCheckpointAsHeld(DType configDtype) const;

private:
    /// visit(name, role, tensor) for every weight, in checkpoint order (namedWeights' order).
    template <class Model, class Visit>
    static void visitWeights(Model& model, Visit visit);
    Checkpoint checkpointOf(DType configDtype, std::optional<torch::ScalarType> tensorDtype) const;

    ModelConfig m_config;
    torch::ScalarType m_dtype;
    torch::Device m_device;
};

/// RMSNorm as in Llama: x / sqrt(mean(x^2) + eps) * weight, computed in float32 or wider.
torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
/// The config's normalisation of x with the given weight and bias (either may be undefined).
torch::Tensor normalize(const ModelConfig& config, const torch::Tensor& x,
                        const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace gqa
