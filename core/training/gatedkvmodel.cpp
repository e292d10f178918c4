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
std::string mergedQueryName(std::int64_t layer) {
    return layerTensorName(layer, "self_attn.merged_q_proj.weight");
}
std::string mergedQueryBiasName(std::int64_t layer) {
    return layerTensorName(layer, "self_attn.merged_q_proj.bias");
}
std::string mergedOutputName(std::int64_t layer) {
    return layerTensorName(layer, "self_attn.merged_o_proj.weight");
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

/// Feeds the gated projections into DecoderModel's layers.
class GatedSource final : public LayerWeightSource {
public:
    GatedSource(const GatedKvModel& model, const torch::Tensor& gates, torch::ScalarType compute)
        : m_model(model), m_gates(gates), m_compute(compute) {}
    void substitute(std::int64_t layer, LayerWeights& weights) const override {
        m_model.blendLayer(layer, m_gates, m_compute, weights);
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
    const std::int64_t d = config().headDim, D = config().hiddenSize, H = config().numHeads;
    // A stored merged tensor of the expected shape (a training checkpoint, or a least-squares
    // start), else the group mean of the layer's own projection; the refitted q/o exist only
    // when stored.
    const bool stored = contiguousMha.tensors.count(mergedKeyName(0)) > 0;
    const bool storedQueries = contiguousMha.tensors.count(mergedQueryName(0)) > 0;
    auto storedTensor = [&](const std::string& name, std::vector<std::int64_t> shape,
                            std::int64_t layer) -> torch::Tensor {
        const torch::Tensor& t = contiguousMha.at(name);
        if (t.sizes() != torch::IntArrayRef(shape))
            throw InputError("merged projections of layer " + std::to_string(layer) +
                             " do not fit " + std::to_string(groups) + " KV heads (" + name + ")");
        return t.to(device, dtype);
    };
    // Merged k/v: stored, else the group mean of the layer's own projection.
    auto mergedKv = [&](const std::string& name, const torch::Tensor& own,
                        std::vector<std::int64_t> shape, std::int64_t layer) -> torch::Tensor {
        if (!own.defined()) return {};
        return stored ? storedTensor(name, shape, layer) : groupMeanProjection(own, groups, d);
    };
    // Refitted q/o: only when stored.
    auto refitted = [&](const std::string& name, const torch::Tensor& own,
                        std::vector<std::int64_t> shape, std::int64_t layer) -> torch::Tensor {
        if (!own.defined() || !storedQueries) return {};
        return storedTensor(name, shape, layer);
    };
    for (std::int64_t l = 0; l < config().numLayers; ++l) {
        const LayerWeights& w = model.layers[l];
        mergedKeys.push_back(mergedKv(mergedKeyName(l), w.kProj, {groups * d, D}, l));
        mergedValues.push_back(mergedKv(mergedValueName(l), w.vProj, {groups * d, D}, l));
        mergedKeyBiases.push_back(mergedKv(mergedKeyBiasName(l), w.kBias, {groups * d}, l));
        mergedValueBiases.push_back(mergedKv(mergedValueBiasName(l), w.vBias, {groups * d}, l));
        mergedQueries.push_back(refitted(mergedQueryName(l), w.qProj, {H * d, D}, l));
        mergedQueryBiases.push_back(refitted(mergedQueryBiasName(l), w.qBias, {H * d}, l));
        mergedOutputs.push_back(refitted(mergedOutputName(l), w.oProj, {D, H * d}, l));
    }
}

template <class Self, class Visit>
void GatedKvModel::visitMerged(Self& self, Visit visit) {
    visit(mergedKeyName, self.mergedKeys);
    visit(mergedValueName, self.mergedValues);
    visit(mergedKeyBiasName, self.mergedKeyBiases);
    visit(mergedValueBiasName, self.mergedValueBiases);
    visit(mergedQueryName, self.mergedQueries);
    visit(mergedQueryBiasName, self.mergedQueryBiases);
    visit(mergedOutputName, self.mergedOutputs);
}

std::vector<std::pair<std::string, torch::Tensor*>> GatedKvModel::mergedTensors() {
    std::vector<std::pair<std::string, torch::Tensor*>> out;
    visitMerged(*this, [&](std::string (*name)(std::int64_t), std::vector<torch::Tensor>& list) {
        for (std::int64_t l = 0; l < std::int64_t(list.size()); ++l)
            if (list[l].defined()) out.push_back({name(l), &list[l]});
    });
    return out;
}

std::vector<std::pair<std::string, torch::Tensor>> GatedKvModel::mergedTensors() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    visitMerged(*this,
                [&](std::string (*name)(std::int64_t), const std::vector<torch::Tensor>& list) {
                    for (std::int64_t l = 0; l < std::int64_t(list.size()); ++l)
                        if (list[l].defined()) out.push_back({name(l), list[l]});
                });
    return out;
}

void GatedKvModel::blendLayer(std::int64_t layer, const torch::Tensor& gates,
                              torch::ScalarType compute, LayerWeights& w) const {
    const std::int64_t d = config().headDim, k = groupSize();
    const LayerWeights& own = model.layers[layer];
    // Gate per row of a [H*d, ...] projection (per column of o_proj): z[h] repeated d times.
    const torch::Tensor zRows = gates[layer].to(own.kProj.scalar_type()).repeat_interleave(d);
    auto blend = [&](const torch::Tensor& original, const torch::Tensor& target,
                     const torch::Tensor& z) -> torch::Tensor {
        return (z * original + (1 - z) * target).to(compute);
    };
    auto rowGate = [&](const torch::Tensor& t) {
        return t.dim() == 1 ? zRows : zRows.unsqueeze(1);
    };
    // A merged [G*d, ...] tensor repeated for the k heads of each group: [H*d, ...].
    auto spread = [&](const torch::Tensor& merged, const torch::Tensor& like) {
        const std::int64_t columns = merged.dim() == 1 ? 1 : merged.size(1);
        return merged.reshape({m_groups, 1, d, columns})
            .expand({m_groups, k, d, columns})
            .reshape_as(like);
    };
    auto mixKv = [&](const torch::Tensor& original, const torch::Tensor& merged) -> torch::Tensor {
        if (!original.defined()) return {};
        return blend(original, spread(merged, original), rowGate(original));
    };
    w.kProj = mixKv(own.kProj, mergedKeys[layer]);
    w.kBias = mixKv(own.kBias, mergedKeyBiases[layer]);
    w.vProj = mixKv(own.vProj, mergedValues[layer]);
    w.vBias = mixKv(own.vBias, mergedValueBiases[layer]);
    if (!refitsQueries()) return;
    w.qProj = blend(own.qProj, mergedQueries[layer], rowGate(own.qProj));
    if (own.qBias.defined()) w.qBias = blend(own.qBias, mergedQueryBiases[layer], zRows);
    w.oProj = blend(own.oProj, mergedOutputs[layer], zRows.unsqueeze(0));
}

torch::Tensor GatedKvModel::hiddenStates(const torch::Tensor& tokens, const torch::Tensor& gates,
                                         torch::ScalarType compute, bool checkpointLayers) const {
    if (gates.dim() != 2 || gates.size(0) != config().numLayers ||
        gates.size(1) != config().numHeads)
        throw Error("gates must be [layers, heads]");
    const GatedSource source(*this, gates.to(model.device()), compute);
    ForwardOptions options;
    options.weightSource = &source;
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
        if (!refitsQueries()) continue;
        put(LayerTensor::QWeight, l, mergedQueries[l]);
        put(LayerTensor::QBias, l, mergedQueryBiases[l]);
        put(LayerTensor::OWeight, l, mergedOutputs[l]);
    }
    out.config.numKvHeads = m_groups;
    return out;
}

}  // namespace gqa
