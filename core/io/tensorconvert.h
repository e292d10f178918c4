// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Conversions between stored tensors (DType + bytes) and torch tensors.

#include <torch/torch.h>

#include "base/dtype.h"
#include "io/safetensors.h"

namespace gqa {

torch::ScalarType toTorch(DType t);
/// Throws InputError for torch types that safetensors cannot hold.
DType fromTorch(torch::ScalarType t);

/// Copies a stored tensor's bytes into a new CPU tensor of the same dtype and shape.
torch::Tensor tensorFromBytes(const TensorInfo& info, const std::uint8_t* data);

/// A view for writing: `tensor` must be contiguous, on the CPU, and outlive the view.
TensorView viewOf(const std::string& name, const torch::Tensor& tensor);

}  // namespace gqa
