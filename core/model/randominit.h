// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Random initialisation of a Llama checkpoint: the starting point of pretraining, and the source
// of tiny test models. Matrices are drawn from N(0, std^2) (Hugging Face's initializer_range,
// 0.02 by default), RMSNorm weights are 1. Seeded and reproducible.

#include <cstdint>

#include "io/checkpoint.h"

namespace gqa {

/// Hugging Face LlamaConfig.initializer_range default.
constexpr double kDefaultInitStd = 0.02;

Checkpoint initializeLlama(const ModelConfig& config, std::uint64_t seed,
                           double initStd = kDefaultInitStd);

}  // namespace gqa
