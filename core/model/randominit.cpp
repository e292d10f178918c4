// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/randominit.h"

#include <set>

#include "io/modelfamily.h"
#include "io/tensorconvert.h"

namespace gqa {

Checkpoint initializeModel(const ModelConfig& config, std::uint64_t seed, double initStd) {
    config.validate();
    auto generator = at::detail::createCPUGenerator(seed);
    Checkpoint checkpoint;
    checkpoint.config = config;
    const auto stored = toTorch(config.dtype);
    std::set<std::string> norms;  // norm weight and bias names
    auto addNorm = [&](const std::string& name) { norms.insert(name); };
    for (GlobalTensor t : {GlobalTensor::FinalNormWeight, GlobalTensor::FinalNormBias})
        addNorm(tensorName(config, t));
    for (std::int64_t l = 0; l < config.numLayers; ++l)
        for (LayerTensor t : {LayerTensor::InputNormWeight, LayerTensor::InputNormBias,
                              LayerTensor::PostNormWeight, LayerTensor::PostNormBias})
            addNorm(tensorName(config, l, t));
    const double unitScale = config.norm() == NormKind::RmsUnitOffset ? 0.0 : 1.0;
    for (const auto& [name, shape] : expectedTensors(config)) {
        torch::Tensor t;
        if (!norms.count(name))
            t = at::normal(0.0, initStd, shape, generator);
        else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
            t = torch::zeros(shape, torch::kFloat32);
        else
            t = torch::full(shape, unitScale, torch::kFloat32);
        checkpoint.set(name, t.to(stored).contiguous());
    }
    return checkpoint;
}

}  // namespace gqa
