// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Element types of stored tensors, named as in safetensors headers ("F32", "BF16", ...).
// Torch-free so that headers of the studio can use it.

#include <cstddef>
#include <optional>
#include <string>

namespace gqa {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

/// Bytes per element.
std::size_t dtypeSize(DType t);
/// Safetensors name: "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL".
std::string dtypeName(DType t);
/// Parses a safetensors dtype name; nullopt when unknown.
std::optional<DType> dtypeFromName(const std::string& name);
/// Hugging Face config `torch_dtype` name ("float32", "bfloat16", ...), F32/F16/BF16/F64 only.
std::optional<DType> dtypeFromTorchName(const std::string& name);
std::string torchDtypeName(DType t);

}  // namespace gqa
