// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/randominit.h"

#include "io/modelsummary.h"
#include "io/tensorconvert.h"

namespace gqa {

Checkpoint initializeLlama(const ModelConfig& config, std::uint64_t seed, double initStd) {
    config.validate();
    auto generator = at::detail::createCPUGenerator(seed);
    Checkpoint checkpoint;
    checkpoint.config = config;
    const auto stored = toTorch(config.dtype);
    for (const auto& [name, shape] : expectedLlamaTensors(config)) {
        const bool isNorm = shape.size() == 1;
        torch::Tensor t = isNorm ? torch::ones(shape, torch::kFloat32)
                                 : at::normal(0.0, initStd, shape, generator);
        checkpoint.set(name, t.to(stored).contiguous());
    }
    return checkpoint;
}

}  // namespace gqa
