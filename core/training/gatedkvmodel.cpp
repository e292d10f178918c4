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

torch::Tensor groupMeanProjection(const torch::Tensor& projection, std::int64_t groups,
                                  std::int64_t headDim) {
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

/// Gate per row of a [H*d, D] projection: z[h] repeated d times, as a column.
torch::Tensor rowGates(const torch::Tensor& layerGates, std::int64_t d) {
    return layerGates.repeat_interleave(d).unsqueeze(1);
}

/// Feeds the gated projections into LlamaModel's attention.
class GatedSource final : public KvWeightSource {
public:
    GatedSource(const GatedKvModel& model, const torch::Tensor& gates, torch::ScalarType compute)
        : m_model(model), m_gates(gates), m_compute(compute) {}
    std::pair<torch::Tensor, torch::Tensor> keyValueWeights(std::int64_t layer) const override {
        auto [k, v] = m_model.effectiveKeyValue(layer, m_gates);
        return {k.to(m_compute), v.to(m_compute)};
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
    for (std::int64_t l = 0; l < config().numLayers; ++l) {
        const auto stored = contiguousMha.tensors.find(mergedKeyName(l));
        if (stored != contiguousMha.tensors.end()) {
            torch::Tensor k = stored->second, v = contiguousMha.at(mergedValueName(l));
            for (const torch::Tensor& t : {k, v})
                if (t.sizes() != torch::IntArrayRef({groups * d, D}))
                    throw InputError("merged projections of layer " + std::to_string(l) +
                                     " do not have " + std::to_string(groups) + " heads");
            mergedKeys.push_back(k.to(device, dtype));
            mergedValues.push_back(v.to(device, dtype));
        } else {
            mergedKeys.push_back(groupMeanProjection(model.layers[l].kProj, groups, d));
            mergedValues.push_back(groupMeanProjection(model.layers[l].vProj, groups, d));
        }
    }
}

std::pair<torch::Tensor, torch::Tensor> GatedKvModel::effectiveKeyValue(
    std::int64_t layer, const torch::Tensor& gates) const {
    const std::int64_t d = config().headDim, k = groupSize();
    const LayerWeights& w = model.layers[layer];
    const torch::Tensor z = rowGates(gates[layer].to(w.kProj.scalar_type()), d);
    auto mix = [&](const torch::Tensor& original, const torch::Tensor& merged) {
        const torch::Tensor spread = merged.view({m_groups, 1, d, -1})
                                         .expand({m_groups, k, d, merged.size(1)})
                                         .reshape_as(original);
        return z * original + (1 - z) * spread;
    };
    return {mix(w.kProj, mergedKeys[layer]), mix(w.vProj, mergedValues[layer])};
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
    return torch::nn::functional::linear(hidden, model.lmHead.to(compute));
}

Checkpoint GatedKvModel::toTrainingCheckpoint(DType dtype) const {
    Checkpoint out = model.toCheckpoint(dtype);
    out.config.numKvHeads = config().numHeads;
    const torch::ScalarType st = toTorch(dtype);
    for (std::int64_t l = 0; l < config().numLayers; ++l) {
        out.set(mergedKeyName(l), mergedKeys[l].detach().to(torch::kCPU, st).contiguous());
        out.set(mergedValueName(l), mergedValues[l].detach().to(torch::kCPU, st).contiguous());
    }
    return out;
}

Checkpoint GatedKvModel::toTrainingCheckpointAsHeld(DType configDtype) const {
    Checkpoint out = model.toCheckpointAsHeld(configDtype);
    out.config.numKvHeads = config().numHeads;
    for (std::int64_t l = 0; l < config().numLayers; ++l) {
        out.set(mergedKeyName(l), mergedKeys[l].detach().to(torch::kCPU).contiguous());
        out.set(mergedValueName(l), mergedValues[l].detach().to(torch::kCPU).contiguous());
    }
    return out;
}

Checkpoint GatedKvModel::exportGqa(DType dtype) const {
    Checkpoint out = model.toCheckpoint(dtype);
    const torch::ScalarType st = toTorch(dtype);
    for (std::int64_t l = 0; l < config().numLayers; ++l) {
        out.set(layerTensorName(l, "self_attn.k_proj.weight"),
                mergedKeys[l].detach().to(torch::kCPU, st).contiguous());
        out.set(layerTensorName(l, "self_attn.v_proj.weight"),
                mergedValues[l].detach().to(torch::kCPU, st).contiguous());
    }
    out.config.numKvHeads = m_groups;
    return out;
}

}  // namespace gqa
