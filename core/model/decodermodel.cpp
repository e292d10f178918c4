// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/decodermodel.h"

#include <cmath>
#include <memory>

#include "base/error.h"
#include "io/tensorconvert.h"
#include "model/attentionkernel.h"
#include "model/rope.h"
#include "training/layercheckpoint.h"

namespace gqa {

namespace F = torch::nn::functional;

torch::Tensor tokenRows(const torch::Tensor& x) {
    return x.permute({0, 2, 1, 3}).reshape({x.size(0) * x.size(2), x.size(1), x.size(3)});
}

torch::Tensor& LayerWeights::operator[](LayerTensor role) {
    switch (role) {
        case LayerTensor::InputNormWeight:
            return inputNorm;
        case LayerTensor::InputNormBias:
            return inputNormBias;
        case LayerTensor::PostNormWeight:
            return postAttentionNorm;
        case LayerTensor::PostNormBias:
            return postAttentionNormBias;
        case LayerTensor::QWeight:
            return qProj;
        case LayerTensor::QBias:
            return qBias;
        case LayerTensor::KWeight:
            return kProj;
        case LayerTensor::KBias:
            return kBias;
        case LayerTensor::VWeight:
            return vProj;
        case LayerTensor::VBias:
            return vBias;
        case LayerTensor::OWeight:
            return oProj;
        case LayerTensor::OBias:
            return oBias;
        case LayerTensor::GateWeight:
            return gateProj;
        case LayerTensor::GateBias:
            return gateBias;
        case LayerTensor::UpWeight:
            return upProj;
        case LayerTensor::UpBias:
            return upBias;
        case LayerTensor::DownWeight:
            return downProj;
        case LayerTensor::DownBias:
            return downBias;
    }
    throw Error("unknown layer tensor");
}

const torch::Tensor& LayerWeights::operator[](LayerTensor role) const {
    return const_cast<LayerWeights&>(*this)[role];
}

torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
    // As Hugging Face: normalise in float32 (or wider), cast back, then scale.
    const auto wide = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    torch::Tensor h = x.to(wide);
    h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return weight * h.to(x.scalar_type());
}

torch::Tensor normalize(const ModelConfig& c, const torch::Tensor& x, const torch::Tensor& weight,
                        const torch::Tensor& bias) {
    const auto wide = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    switch (c.norm()) {
        case NormKind::Rms:
            return rmsNorm(x, weight, c.normEps);
        case NormKind::RmsUnitOffset: {
            // Gemma: scale by (1 + weight) in float32, then cast back (method §13).
            torch::Tensor h = x.to(wide);
            h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + c.normEps);
            return (h * (1.0 + weight.to(wide))).to(x.scalar_type());
        }
        case NormKind::LayerNorm:
            return torch::layer_norm(x, {x.size(-1)}, weight, bias, c.normEps);
        case NormKind::LayerNormPlain:
            // OLMo: no parameters, computed in float32 and cast back.
            return torch::layer_norm(x.to(wide), {x.size(-1)}, {}, {}, c.normEps)
                .to(x.scalar_type());
    }
    throw Error("unknown norm kind");
}

DecoderModel::DecoderModel(const Checkpoint& checkpoint, torch::ScalarType dtype,
                           torch::Device device)
    : m_config(checkpoint.config), m_dtype(dtype), m_device(device) {
    const ModelConfig& c = m_config;
    auto take = [&](const std::string& name) { return checkpoint.at(name).to(device, dtype); };
    auto global = [&](GlobalTensor t) {
        return storesTensor(c, t) ? take(tensorName(c, t)) : torch::Tensor();
    };
    embedTokens = global(GlobalTensor::Embedding);
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        LayerWeights w;
        for (LayerTensor role : allLayerTensors())
            if (storesTensor(c, role)) w[role] = take(tensorName(c, l, role));
        layers.push_back(std::move(w));
    }
    finalNorm = global(GlobalTensor::FinalNormWeight);
    finalNormBias = global(GlobalTensor::FinalNormBias);
    lmHead = c.tieWordEmbeddings ? embedTokens : global(GlobalTensor::LmHeadWeight);
    lmHeadBias = global(GlobalTensor::LmHeadBias);
}

namespace {

/// A layer's defined tensors in allLayerTensors() order, for the checkpointed path.
std::vector<torch::Tensor> layerTensors(const LayerWeights& w) {
    std::vector<torch::Tensor> out;
    for (LayerTensor role : allLayerTensors())
        if (w[role].defined()) out.push_back(w[role]);
    return out;
}

/// The roles layerTensors(w) lists, so that the recompute can rebuild the layer.
std::vector<LayerTensor> definedRoles(const LayerWeights& w) {
    std::vector<LayerTensor> roles;
    for (LayerTensor role : allLayerTensors())
        if (w[role].defined()) roles.push_back(role);
    return roles;
}

LayerWeights layerWeights(const std::vector<LayerTensor>& roles, torch::TensorList t) {
    if (t.size() != roles.size()) throw Error("a decoder layer's tensors do not match its roles");
    LayerWeights w;
    for (std::size_t i = 0; i < roles.size(); ++i) w[roles[i]] = t[i];
    return w;
}

torch::Tensor activate(Activation a, const torch::Tensor& x) {
    switch (a) {
        case Activation::Silu:
            return torch::silu(x);
        case Activation::GeluTanh:
            return torch::gelu(x, "tanh");
        case Activation::GeluErf:
            return torch::gelu(x);
    }
    throw Error("unknown activation");
}

torch::Tensor mlp(const ModelConfig& c, const LayerWeights& w, const torch::Tensor& n) {
    if (!w.gateProj.defined())  // plain: fc2(act(fc1(n)))
        return F::linear(activate(c.activation, F::linear(n, w.upProj, w.upBias)), w.downProj,
                         w.downBias);
    return F::linear(activate(c.activation, F::linear(n, w.gateProj, w.gateBias)) *
                         F::linear(n, w.upProj, w.upBias),
                     w.downProj, w.downBias);
}

/// Which (query, key) pairs are hidden: key positions after the query's, and with a sliding
/// window W those at or before query - W (Hugging Face's current masking: a query sees exactly
/// the last W positions, itself included). `hidden` is undefined when nothing is hidden.
AttentionMask attentionMask(const ModelConfig& c, std::int64_t T, std::int64_t S,
                            torch::Device device) {
    const auto options = torch::TensorOptions().dtype(torch::kBool).device(device);
    AttentionMask mask;
    // Query i (absolute position S - T + i) sees keys at positions <= S - T + i.
    if (T > 1) mask.hidden = torch::ones({T, S}, options).triu(S - T + 1);
    const bool windowed = c.slidingWindow > 0 && S > c.slidingWindow;
    mask.causalOnly = T > 1 && T == S && !windowed;
    if (windowed) {
        const torch::Tensor far = torch::ones({T, S}, options).tril(S - T - c.slidingWindow);
        mask.hidden = mask.hidden.defined() ? mask.hidden.logical_or(far) : far;
    }
    return mask;
}

/// Self-attention of one layer; `w`'s key/value projections are the ones the layer uses.
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
    torch::Tensor q = heads(F::linear(normed, w.qProj, w.qBias), H);
    torch::Tensor k = heads(F::linear(normed, w.kProj, w.kBias), KV);
    torch::Tensor v = heads(F::linear(normed, w.vProj, w.vBias), KV);
    if (options.observer) options.observer->observe(layerIndex, k, v);

    RopeTables rope = ropeTables(config, startPos, T, q.scalar_type(), q.device());
    q = applyRope(q, rope);
    k = applyRope(k, rope);
    if (options.cache) std::tie(k, v) = options.cache->append(layerIndex, k, v);
    const std::int64_t S = k.size(2);  // key positions, cached ones included

    const torch::Tensor out =
        attend(q, k, v, attentionMask(config, T, S, q.device()), attentionKernel());
    return F::linear(out.transpose(1, 2).reshape({B, T, H * d}), w.oProj, w.oBias);
}

/// One decoder layer: hidden [B, T, D] -> hidden [B, T, D]. The plain and the checkpointed
/// forward both run this.
torch::Tensor decoderLayer(const ModelConfig& config, std::int64_t layerIndex,
                           const torch::Tensor& hidden, const LayerWeights& w,
                           std::int64_t startPos, const ForwardOptions& options) {
    const torch::Tensor n = normalize(config, hidden, w.inputNorm, w.inputNormBias);
    const torch::Tensor attended = attention(config, layerIndex, w, n, startPos, options);
    if (config.parallelResidual) return hidden + attended + mlp(config, w, n);
    const torch::Tensor x = hidden + attended;
    return x + mlp(config, w, normalize(config, x, w.postAttentionNorm, w.postAttentionNormBias));
}

}  // namespace

torch::Tensor DecoderModel::hiddenStates(const torch::Tensor& tokens,
                                         const ForwardOptions& options) const {
    if (tokens.dim() != 2) throw InputError("tokens must be a [batch, length] tensor");
    if (options.checkpointLayers && (options.cache || options.observer))
        throw Error("layer checkpointing cannot be combined with a KV cache or an observer");
    const bool checkpoint = options.checkpointLayers && torch::GradMode::is_enabled();
    // Shared by the recompute closures, which outlive this (possibly temporary) model.
    const auto config = checkpoint ? std::make_shared<const ModelConfig>(m_config) : nullptr;
    const std::int64_t startPos = options.cache ? options.cache->length() : 0;
    torch::Tensor x = embed(tokens);
    for (std::int64_t l = 0; l < m_config.numLayers; ++l) {
        LayerWeights w = layers[l];
        // Once per layer and outside the checkpoint: the source's graph (gates, merged heads)
        // stays in the outer graph, and the checkpoint receives the result as an input.
        if (options.weightSource) options.weightSource->substitute(l, w);
        if (!checkpoint) {
            x = decoderLayer(m_config, l, x, w, startPos, options);
            continue;
        }
        auto layer = [config, l, roles = definedRoles(w)](const torch::Tensor& hidden,
                                                          torch::TensorList tensors) {
            return decoderLayer(*config, l, hidden, layerWeights(roles, tensors), 0,
                                ForwardOptions{});
        };
        x = checkpointLayer(layer, x, layerTensors(w));
    }
    return normalize(m_config, x, finalNorm, finalNormBias);
}

torch::Tensor DecoderModel::embed(const torch::Tensor& tokens) const {
    if (tokens.dim() != 2) throw InputError("tokens must be a [batch, length] tensor");
    torch::Tensor x = F::embedding(tokens.to(m_device, torch::kLong), embedTokens);
    // Gemma: times sqrt(hidden) rounded to the compute dtype first, as Hugging Face does.
    if (m_config.scaleEmbeddings())
        x = x * torch::scalar_tensor(std::sqrt(double(m_config.hiddenSize)), x.options());
    return x;
}

torch::Tensor DecoderModel::layerForward(std::int64_t layer, const torch::Tensor& hidden,
                                         const ForwardOptions& options) const {
    if (layer < 0 || layer >= m_config.numLayers)
        throw Error("layer " + std::to_string(layer) + " out of range (" +
                    std::to_string(m_config.numLayers) + " layers)");
    ForwardOptions observed;
    observed.observer = options.observer;
    return decoderLayer(m_config, layer, hidden, layers[std::size_t(layer)], 0, observed);
}

torch::Tensor DecoderModel::forward(const torch::Tensor& tokens,
                                    const ForwardOptions& options) const {
    return F::linear(hiddenStates(tokens, options), lmHead, lmHeadBias);
}

torch::Tensor DecoderModel::headMatrix() const {
    if (!lmHeadBias.defined()) return lmHead;
    return torch::cat({lmHead, lmHeadBias.to(lmHead.scalar_type()).unsqueeze(1)}, 1);
}

torch::Tensor DecoderModel::headInput(const torch::Tensor& hidden) const {
    if (!lmHeadBias.defined()) return hidden;
    auto shape = hidden.sizes().vec();
    shape.back() = 1;
    return torch::cat({hidden, torch::ones(shape, hidden.options())}, -1);
}

template <class Model, class Visit>
void DecoderModel::visitWeights(Model& m, Visit visit) {
    const ModelConfig& c = m.m_config;
    visit(tensorName(c, GlobalTensor::Embedding), "embed_tokens", m.embedTokens);
    for (std::int64_t l = 0; l < std::int64_t(m.layers.size()); ++l)
        for (LayerTensor role : allLayerTensors())
            if (m.layers[l][role].defined())
                visit(tensorName(c, l, role), roleName(role), m.layers[l][role]);
    if (m.finalNorm.defined())
        visit(tensorName(c, GlobalTensor::FinalNormWeight), "norm", m.finalNorm);
    if (m.finalNormBias.defined())
        visit(tensorName(c, GlobalTensor::FinalNormBias), "norm", m.finalNormBias);
    if (!c.tieWordEmbeddings) visit(tensorName(c, GlobalTensor::LmHeadWeight), "lm_head", m.lmHead);
    if (m.lmHeadBias.defined())
        visit(tensorName(c, GlobalTensor::LmHeadBias), "lm_head", m.lmHeadBias);
}

std::vector<DecoderModel::NamedWeight> DecoderModel::namedWeights() {
    std::vector<NamedWeight> out;
    visitWeights(*this, [&](const std::string& name, const std::string& role, torch::Tensor& t) {
        out.push_back({name, role, &t});
    });
    return out;
}

DecoderModel DecoderModel::castTo(torch::ScalarType dtype) const {
    DecoderModel out = *this;
    out.m_dtype = dtype;
    // Weights may mix dtypes (frozen ones in the compute dtype, trained float32 masters): cast
    // each; .to() returns the tensor itself when it already has the dtype.
    for (NamedWeight& w : out.namedWeights()) *w.tensor = w.tensor->to(dtype);
    if (m_config.tieWordEmbeddings) out.lmHead = out.embedTokens;
    return out;
}

Checkpoint DecoderModel::toCheckpoint(DType dtype) const {
    return checkpointOf(dtype, toTorch(dtype));
}

Checkpoint DecoderModel::toCheckpointAsHeld(DType configDtype) const {
    return checkpointOf(configDtype, std::nullopt);
}

Checkpoint DecoderModel::checkpointOf(DType configDtype,
                                      std::optional<torch::ScalarType> tensorDtype) const {
    Checkpoint out;
    out.config = m_config;
    out.config.dtype = configDtype;
    out.config.numKvHeads =
        layers.empty() ? m_config.numKvHeads : layers[0].kProj.size(0) / m_config.headDim;
    visitWeights(*this, [&](const std::string& name, const std::string&, const torch::Tensor& t) {
        out.set(name,
                t.detach().to(torch::kCPU, tensorDtype.value_or(t.scalar_type())).contiguous());
    });
    return out;
}

}  // namespace gqa
