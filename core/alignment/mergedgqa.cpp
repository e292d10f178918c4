// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignment/mergedgqa.h"

#include "base/error.h"
#include "model/decodermodel.h"

namespace gqa {

Checkpoint mergeToGqa(const Checkpoint& mha, std::int64_t groups) {
    const ModelConfig& c = mha.config;
    if (!c.isMha()) throw InputError("merging needs an MHA checkpoint (KV heads = heads)");
    if (groups < 1 || c.numHeads % groups != 0)
        throw InputError("the number of KV heads (" + std::to_string(groups) +
                         ") must divide the number of heads (" + std::to_string(c.numHeads) + ")");
    Checkpoint out = mha;
    const std::int64_t k = c.numHeads / groups, d = c.headDim, D = c.hiddenSize;
    for (std::int64_t l = 0; l < c.numLayers; ++l)
        for (LayerTensor role :
             {LayerTensor::KWeight, LayerTensor::VWeight, LayerTensor::KBias, LayerTensor::VBias}) {
            if (!storesTensor(c, role)) continue;
            const std::string name = tensorName(c, l, role);
            const torch::Tensor w = mha.at(name);
            const std::int64_t columns = w.dim() == 2 ? D : 1;  // a bias merges like a column
            torch::Tensor merged = w.to(torch::kFloat64).view({groups, k, d, columns}).mean(1);
            std::vector<std::int64_t> shape{groups * d};
            if (w.dim() == 2) shape.push_back(D);
            out.set(name, merged.reshape(shape).to(w.scalar_type()).contiguous());
        }
    out.config.numKvHeads = groups;
    return out;
}

Checkpoint alignCheckpoint(const Checkpoint& mha, const std::vector<LayerAlignment>& layers) {
    if (std::int64_t(layers.size()) != mha.config.numLayers)
        throw InputError("one alignment per layer is needed (" + std::to_string(layers.size()) +
                         " given for " + std::to_string(mha.config.numLayers) + " layers)");
    Checkpoint out = mha;
    for (std::int64_t l = 0; l < mha.config.numLayers; ++l) applyLayerAlignment(out, l, layers[l]);
    return out;
}

namespace {
void addGroupCost(const GramStatistics& s, std::int64_t groups, double& residual, double& energy) {
    const std::int64_t k = s.heads / groups, d = s.headDim;
    const double n = double(std::max<std::int64_t>(1, s.tokens));
    for (std::int64_t g = 0; g < groups; ++g) {
        const torch::Tensor block =
            s.raw.slice(0, g * k * d, (g + 1) * k * d).slice(1, g * k * d, (g + 1) * k * d);
        // sum_r ||Y_r||^2 and k ||M||^2 = (1/k) sum_{r,s} tr(Y_r^T Y_s)
        const double own = torch::trace(block).item<double>();
        double cross = 0.0;
        for (std::int64_t r = 0; r < k; ++r)
            for (std::int64_t q = 0; q < k; ++q)
                cross +=
                    torch::trace(block.slice(0, r * d, (r + 1) * d).slice(1, q * d, (q + 1) * d))
                        .item<double>();
        residual += (own - cross / double(k)) / n;
        energy += own / n;
    }
}
}  // namespace

MergeCost predictMergeCost(const LayerStatistics& stats, std::int64_t groups) {
    if (groups < 1 || stats.values.heads % groups != 0)
        throw InputError("the number of groups must divide the number of heads");
    MergeCost cost;
    double keyEnergy = 0.0, valueEnergy = 0.0;
    addGroupCost(stats.keys, groups, cost.keyResidual, keyEnergy);
    addGroupCost(stats.values, groups, cost.valueResidual, valueEnergy);
    cost.keyRelative = keyEnergy > 0 ? cost.keyResidual / keyEnergy : 0.0;
    cost.valueRelative = valueEnergy > 0 ? cost.valueResidual / valueEnergy : 0.0;
    return cost;
}

}  // namespace gqa
