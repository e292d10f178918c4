// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Random initialisation of a checkpoint of any family: the starting point of pretraining, and the
// source of tiny test models. Matrices and biases are drawn from N(0, std^2) (Hugging Face's
// initializer_range, 0.02 by default; biases are drawn too, unlike Hugging Face's zeros, so that
// they matter in tests), norm weights are the identity scale (1; 0 for Gemma's 1 + w) and norm
// biases 0. Seeded and reproducible.

#include <cstdint>

#include "io/checkpoint.h"

namespace gqa {

/// Hugging Face LlamaConfig.initializer_range default.
constexpr double kDefaultInitStd = 0.02;

Checkpoint initializeModel(const ModelConfig& config, std::uint64_t seed,
                           double initStd = kDefaultInitStd);

}  // namespace gqa
