// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/llamamodel.h"

#include <cmath>
#include <memory>

#include "base/error.h"
#include "training/layercheckpoint.h"
#include "model/rope.h"
#include "io/tensorconvert.h"

namespace gqa {
namespace F = torch::nn::functional;

std::string layerTensorName(std::int64_t layer, const std::string& suffix) {
    return "model.layers." + std::to_string(layer) + "." + suffix;
}

torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
    // As Hugging Face: normalise in float32 (or wider), cast back, then scale.
    const auto wide = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    torch::Tensor h = x.to(wide);
    h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return weight * h.to(x.scalar_type());
}

LlamaModel::LlamaModel(const Checkpoint& checkpoint, torch::ScalarType dtype, torch::Device device)
    : m_config(checkpoint.config), m_dtype(dtype), m_device(device) {
    auto take = [&](const std::string& name) { return checkpoint.at(name).to(device, dtype); };
    embedTokens = take("model.embed_tokens.weight");
    for (std::int64_t l = 0; l < m_config.numLayers; ++l) {
        auto name = [l](const char* s) { return layerTensorName(l, s); };
        LayerWeights w;
        w.inputNorm = take(name("input_layernorm.weight"));
        w.postAttentionNorm = take(name("post_attention_layernorm.weight"));
        w.qProj = take(name("self_attn.q_proj.weight"));
        w.kProj = take(name("self_attn.k_proj.weight"));
        w.vProj = take(name("self_attn.v_proj.weight"));
        w.oProj = take(name("self_attn.o_proj.weight"));
        w.gateProj = take(name("mlp.gate_proj.weight"));
        w.upProj = take(name("mlp.up_proj.weight"));
        w.downProj = take(name("mlp.down_proj.weight"));
        layers.push_back(std::move(w));
    }
    finalNorm = take("model.norm.weight");
    lmHead = m_config.tieWordEmbeddings ? embedTokens : take("lm_head.weight");
}

namespace {

// A layer's tensors in LayerWeights' declaration order, for the checkpointed path.
constexpr std::size_t kLayerTensorCount = 9;

std::vector<torch::Tensor> layerTensors(const LayerWeights& w) {
    return {w.inputNorm, w.postAttentionNorm, w.qProj,  w.kProj,   w.vProj,
            w.oProj,     w.gateProj,          w.upProj, w.downProj};
}

LayerWeights layerWeights(torch::TensorList t) {
    if (t.size() != kLayerTensorCount) throw Error("a decoder layer reads 9 weight tensors");
    return {t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]};
}

/// Self-attention of one layer; `w.kProj`/`w.vProj` are the projections the layer uses.
torch::Tensor attention(const ModelConfig& config, std::int64_t layerIndex, const LayerWeights& w,
                        const torch::Tensor& normed, std::int64_t startPos,
                        const ForwardOptions& options) {
    const std::int64_t B = normed.size(0), T = normed.size(1), d = config.headDim;
    const std::int64_t H = w.qProj.size(0) / d, KV = w.kProj.size(0) / d;
    if (KV == 0 || H % KV != 0)
        throw Error("layer " + std::to_string(layerIndex) + ": KV heads must divide query heads");

    // [B, T, heads*d] -> [B, heads, T, d]
    auto heads = [&](const torch::Tensor& x, std::int64_t n) {
        return x.view({B, T, n, d}).transpose(1, 2);
    };
    torch::Tensor q = heads(F::linear(normed, w.qProj), H);
    torch::Tensor k = heads(F::linear(normed, w.kProj), KV);
    torch::Tensor v = heads(F::linear(normed, w.vProj), KV);
    if (options.observer) options.observer->observe(layerIndex, k, v);

    RopeTables rope = ropeTables(config, startPos, T, q.scalar_type(), q.device());
    q = applyRope(q, rope);
    k = applyRope(k, rope);
    if (options.cache) std::tie(k, v) = options.cache->append(layerIndex, k, v);
    const std::int64_t S = k.size(2);  // key positions, cached ones included

    // repeat_kv without copying keys and values: query head h = kv * rep + r reads KV head kv,
    // so the rep query heads of a KV head attend as one [rep * T] block of rows. Keys and values
    // are read once per KV head, which is what makes GQA decoding cheaper.
    const std::int64_t rep = H / KV;
    torch::Tensor scores = torch::matmul(q.reshape({B, KV, rep * T, d}), k.transpose(-2, -1)) /
                           std::sqrt(double(d));  // [B, KV, rep * T, S]
    if (T > 1) {
        // Query i (absolute position startPos + i) sees keys at positions <= startPos + i.
        torch::Tensor mask =
            torch::ones({T, S}, torch::TensorOptions().dtype(torch::kBool).device(scores.device()))
                .triu(S - T + 1);
        scores = scores.view({B, KV, rep, T, S})
                     .masked_fill(mask, -std::numeric_limits<double>::infinity())
                     .view({B, KV, rep * T, S});
    }
    // Softmax in float32 (float64 for float64 models), as Hugging Face does for half precision.
    const auto softmaxType =
        scores.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    torch::Tensor probs = torch::softmax(scores.to(softmaxType), -1).to(q.scalar_type());
    torch::Tensor out =
        torch::matmul(probs, v).view({B, H, T, d}).transpose(1, 2).reshape({B, T, H * d});
    return F::linear(out, w.oProj);
}

/// One decoder layer: hidden [B, T, D] -> hidden [B, T, D]. The plain and the checkpointed
/// forward both run this.
torch::Tensor decoderLayer(const ModelConfig& config, std::int64_t layerIndex,
                           const torch::Tensor& hidden, const LayerWeights& w,
                           std::int64_t startPos, const ForwardOptions& options) {
    const double eps = config.rmsNormEps;
    const torch::Tensor x =
        hidden +
        attention(config, layerIndex, w, rmsNorm(hidden, w.inputNorm, eps), startPos, options);
    const torch::Tensor n = rmsNorm(x, w.postAttentionNorm, eps);
    return x +
           F::linear(torch::silu(F::linear(n, w.gateProj)) * F::linear(n, w.upProj), w.downProj);
}

}  // namespace

torch::Tensor LlamaModel::hiddenStates(const torch::Tensor& tokens,
                                       const ForwardOptions& options) const {
    if (tokens.dim() != 2) throw InputError("tokens must be a [batch, length] tensor");
    if (options.checkpointLayers && (options.cache || options.observer))
        throw Error("layer checkpointing cannot be combined with a KV cache or an observer");
    const bool checkpoint = options.checkpointLayers && torch::GradMode::is_enabled();
    // Shared by the recompute closures, which outlive this (possibly temporary) model.
    const auto config = checkpoint ? std::make_shared<const ModelConfig>(m_config) : nullptr;
    const std::int64_t startPos = options.cache ? options.cache->length() : 0;
    torch::Tensor x = F::embedding(tokens.to(m_device, torch::kLong), embedTokens);
    for (std::int64_t l = 0; l < m_config.numLayers; ++l) {
        LayerWeights w = layers[l];
        // Once per layer and outside the checkpoint: the source's graph (gates, merged heads)
        // stays in the outer graph, and the checkpoint receives the result as an input.
        if (options.kvWeights) std::tie(w.kProj, w.vProj) = options.kvWeights->keyValueWeights(l);
        if (!checkpoint) {
            x = decoderLayer(m_config, l, x, w, startPos, options);
            continue;
        }
        auto layer = [config, l](const torch::Tensor& hidden, torch::TensorList tensors) {
            return decoderLayer(*config, l, hidden, layerWeights(tensors), 0, ForwardOptions{});
        };
        x = checkpointLayer(layer, x, layerTensors(w));
    }
    return rmsNorm(x, finalNorm, m_config.rmsNormEps);
}

torch::Tensor LlamaModel::forward(const torch::Tensor& tokens,
                                  const ForwardOptions& options) const {
    return F::linear(hiddenStates(tokens, options), lmHead);
}

LlamaModel LlamaModel::castTo(torch::ScalarType dtype) const {
    LlamaModel out = *this;
    out.m_dtype = dtype;
    // Weights may mix dtypes (frozen ones in the compute dtype, trained float32 masters): cast
    // each; .to() returns the tensor itself when it already has the dtype.
    auto cast = [dtype](torch::Tensor& t) { t = t.to(dtype); };
    cast(out.embedTokens);
    for (LayerWeights& w : out.layers)
        for (torch::Tensor* t : {&w.inputNorm, &w.postAttentionNorm, &w.qProj, &w.kProj, &w.vProj,
                                 &w.oProj, &w.gateProj, &w.upProj, &w.downProj})
            cast(*t);
    cast(out.finalNorm);
    out.lmHead = m_config.tieWordEmbeddings ? out.embedTokens : lmHead.to(dtype);
    return out;
}

Checkpoint LlamaModel::toCheckpoint(DType dtype) const {
    return checkpointOf(dtype, toTorch(dtype));
}

Checkpoint LlamaModel::toCheckpointAsHeld(DType configDtype) const {
    return checkpointOf(configDtype, std::nullopt);
}

Checkpoint LlamaModel::checkpointOf(DType configDtype,
                                    std::optional<torch::ScalarType> tensorDtype) const {
    Checkpoint out;
    out.config = m_config;
    out.config.dtype = configDtype;
    out.config.numKvHeads =
        layers.empty() ? m_config.numKvHeads : layers[0].kProj.size(0) / m_config.headDim;
    auto put = [&](const std::string& name, const torch::Tensor& t) {
        out.set(name,
                t.detach().to(torch::kCPU, tensorDtype.value_or(t.scalar_type())).contiguous());
    };
    put("model.embed_tokens.weight", embedTokens);
    for (std::int64_t l = 0; l < std::int64_t(layers.size()); ++l) {
        const LayerWeights& w = layers[l];
        put(layerTensorName(l, "input_layernorm.weight"), w.inputNorm);
        put(layerTensorName(l, "self_attn.q_proj.weight"), w.qProj);
        put(layerTensorName(l, "self_attn.k_proj.weight"), w.kProj);
        put(layerTensorName(l, "self_attn.v_proj.weight"), w.vProj);
        put(layerTensorName(l, "self_attn.o_proj.weight"), w.oProj);
        put(layerTensorName(l, "post_attention_layernorm.weight"), w.postAttentionNorm);
        put(layerTensorName(l, "mlp.gate_proj.weight"), w.gateProj);
        put(layerTensorName(l, "mlp.up_proj.weight"), w.upProj);
        put(layerTensorName(l, "mlp.down_proj.weight"), w.downProj);
    }
    put("model.norm.weight", finalNorm);
    if (!m_config.tieWordEmbeddings) put("lm_head.weight", lmHead);
    return out;
}

}  // namespace gqa
