// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/gatedkvmodel.h"

#include "base/error.h"
#include "io/tensorconvert.h"

namespace gqa {

std::string mergedKeyName(std::int64_t layer) {
    return layerTensorName(layer, "self_attn.kv_layer.0.weight");
}
std::string mergedValueName(std::int64_t layer) {
    return layerTensorName(layer, "self_attn.kv_layer.1.weight");
}
std::string mergedKeyBiasName(std::int64_t layer) {
    return layerTensorName(layer, "self_attn.kv_layer.0.bias");
}
std::string mergedValueBiasName(std::int64_t layer) {
    return layerTensorName(layer, "self_attn.kv_layer.1.bias");
}

torch::Tensor groupMeanProjection(const torch::Tensor& projection, std::int64_t groups,
                                  std::int64_t headDim) {
    if (projection.dim() == 1) return projection.view({groups, -1, headDim}).mean(1).reshape({-1});
    const std::int64_t D = projection.size(1);
    return projection.view({groups, -1, headDim, D}).mean(1).reshape({groups * headDim, D});
}

namespace {
void checkShape(const ModelConfig& c, std::int64_t groups) {
    if (!c.isMha())
        throw InputError("the conversion training starts from an MHA model; this one already has " +
                         std::to_string(c.numKvHeads) + " KV heads");
    if (groups < 1 || c.numHeads % groups != 0)
        throw InputError("the number of KV heads (" + std::to_string(groups) +
                         ") must divide the number of heads (" + std::to_string(c.numHeads) + ")");
}

/// Feeds the gated projections into DecoderModel's attention.
class GatedSource final : public KvWeightSource {
public:
    GatedSource(const GatedKvModel& model, const torch::Tensor& gates, torch::ScalarType compute)
        : m_model(model), m_gates(gates), m_compute(compute) {}
    KeyValueProjections keyValue(std::int64_t layer) const override {
        KeyValueProjections p = m_model.effectiveKeyValue(layer, m_gates);
        for (torch::Tensor* t : {&p.keyWeight, &p.keyBias, &p.valueWeight, &p.valueBias})
            if (t->defined()) *t = t->to(m_compute);
        return p;
    }

private:
    const GatedKvModel& m_model;
    torch::Tensor m_gates;
    torch::ScalarType m_compute;
};
}  // namespace

GatedKvModel::GatedKvModel(const Checkpoint& contiguousMha, std::int64_t groups,
                           torch::ScalarType dtype, torch::Device device)
    : model((checkShape(contiguousMha.config, groups), contiguousMha), dtype, device),
      m_groups(groups) {
    const std::int64_t d = config().headDim, D = config().hiddenSize;
    const bool stored = contiguousMha.tensors.count(mergedKeyName(0)) > 0;
    // A stored merged tensor (a training checkpoint) of the expected shape, else the group mean
    // of the layer's own projection.
    auto merged = [&](const std::string& name, const torch::Tensor& own,
                      std::vector<std::int64_t> shape, std::int64_t layer) -> torch::Tensor {
        if (!own.defined()) return {};
        if (!stored) return groupMeanProjection(own, groups, d);
        const torch::Tensor& t = contiguousMha.at(name);
        if (t.sizes() != torch::IntArrayRef(shape))
            throw InputError("merged projections of layer " + std::to_string(layer) +
                             " do not have " + std::to_string(groups) + " heads");
        return t.to(device, dtype);
    };
    for (std::int64_t l = 0; l < config().numLayers; ++l) {
        const LayerWeights& w = model.layers[l];
        mergedKeys.push_back(merged(mergedKeyName(l), w.kProj, {groups * d, D}, l));
        mergedValues.push_back(merged(mergedValueName(l), w.vProj, {groups * d, D}, l));
        mergedKeyBiases.push_back(merged(mergedKeyBiasName(l), w.kBias, {groups * d}, l));
        mergedValueBiases.push_back(merged(mergedValueBiasName(l), w.vBias, {groups * d}, l));
    }
}

std::vector<std::pair<std::string, torch::Tensor*>> GatedKvModel::mergedTensors() {
    std::vector<std::pair<std::string, torch::Tensor*>> out;
    // Keys of every layer, then values, then biases: the optimiser's parameter order, which
    // training checkpoints written before biases existed rely on.
    auto add = [&](std::string (*name)(std::int64_t), std::vector<torch::Tensor>& list) {
        for (std::int64_t l = 0; l < std::int64_t(list.size()); ++l)
            if (list[l].defined()) out.push_back({name(l), &list[l]});
    };
    add(mergedKeyName, mergedKeys);
    add(mergedValueName, mergedValues);
    add(mergedKeyBiasName, mergedKeyBiases);
    add(mergedValueBiasName, mergedValueBiases);
    return out;
}

std::vector<std::pair<std::string, torch::Tensor>> GatedKvModel::mergedTensors() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& [name, tensor] : const_cast<GatedKvModel&>(*this).mergedTensors())
        out.push_back({name, *tensor});
    return out;
}

KeyValueProjections GatedKvModel::effectiveKeyValue(std::int64_t layer,
                                                    const torch::Tensor& gates) const {
    const std::int64_t d = config().headDim, k = groupSize();
    const LayerWeights& w = model.layers[layer];
    // Gate per row of a [H*d, ...] projection: z[h] repeated d times.
    const torch::Tensor zRows = gates[layer].to(w.kProj.scalar_type()).repeat_interleave(d);
    auto mix = [&](const torch::Tensor& original, const torch::Tensor& merged) -> torch::Tensor {
        if (!original.defined()) return {};
        const bool bias = original.dim() == 1;
        const torch::Tensor z = bias ? zRows : zRows.unsqueeze(1);
        const std::int64_t columns = bias ? 1 : merged.size(1);
        const torch::Tensor spread = merged.reshape({m_groups, 1, d, columns})
                                         .expand({m_groups, k, d, columns})
                                         .reshape_as(original);
        return z * original + (1 - z) * spread;
    };
    return {mix(w.kProj, mergedKeys[layer]), mix(w.kBias, mergedKeyBiases[layer]),
            mix(w.vProj, mergedValues[layer]), mix(w.vBias, mergedValueBiases[layer])};
}

torch::Tensor GatedKvModel::hiddenStates(const torch::Tensor& tokens, const torch::Tensor& gates,
                                         torch::ScalarType compute, bool checkpointLayers) const {
    if (gates.dim() != 2 || gates.size(0) != config().numLayers ||
        gates.size(1) != config().numHeads)
        throw Error("gates must be [layers, heads]");
    const GatedSource source(*this, gates.to(model.device()), compute);
    ForwardOptions options;
    options.kvWeights = &source;
    options.checkpointLayers = checkpointLayers;
    return model.castTo(compute).hiddenStates(tokens, options);
}

torch::Tensor GatedKvModel::forward(const torch::Tensor& tokens, const torch::Tensor& gates,
                                    torch::ScalarType compute, bool checkpointLayers) const {
    const torch::Tensor hidden = hiddenStates(tokens, gates, compute, checkpointLayers);
    const torch::Tensor bias =
        model.lmHeadBias.defined() ? model.lmHeadBias.to(compute) : torch::Tensor();
    return torch::nn::functional::linear(hidden, model.lmHead.to(compute), bias);
}

Checkpoint GatedKvModel::toTrainingCheckpoint(DType dtype) const {
    Checkpoint out = model.toCheckpoint(dtype);
    out.config.numKvHeads = config().numHeads;
    const torch::ScalarType st = toTorch(dtype);
    for (const auto& [name, t] : mergedTensors())
        out.set(name, t.detach().to(torch::kCPU, st).contiguous());
    return out;
}

Checkpoint GatedKvModel::toTrainingCheckpointAsHeld(DType configDtype) const {
    Checkpoint out = model.toCheckpointAsHeld(configDtype);
    out.config.numKvHeads = config().numHeads;
    for (const auto& [name, t] : mergedTensors())
        out.set(name, t.detach().to(torch::kCPU).contiguous());
    return out;
}

Checkpoint GatedKvModel::exportGqa(DType dtype) const {
    Checkpoint out = model.toCheckpoint(dtype);
    const ModelConfig& c = config();
    const torch::ScalarType st = toTorch(dtype);
    auto put = [&](LayerTensor role, std::int64_t l, const torch::Tensor& t) {
        if (t.defined())
            out.set(tensorName(c, l, role), t.detach().to(torch::kCPU, st).contiguous());
    };
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        put(LayerTensor::KWeight, l, mergedKeys[l]);
        put(LayerTensor::VWeight, l, mergedValues[l]);
        put(LayerTensor::KBias, l, mergedKeyBiases[l]);
        put(LayerTensor::VBias, l, mergedValueBiases[l]);
    }
    out.config.numKvHeads = m_groups;
    return out;
}

}  // namespace gqa
