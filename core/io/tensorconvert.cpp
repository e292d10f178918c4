// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/tensorconvert.h"

#include <cstring>

#include "base/error.h"

namespace gqa {

torch::ScalarType toTorch(DType t) {
    switch (t) {
        case DType::F64:
            return torch::kFloat64;
        case DType::F32:
            return torch::kFloat32;
        case DType::F16:
            return torch::kFloat16;
        case DType::BF16:
            return torch::kBFloat16;
        case DType::I64:
            return torch::kInt64;
        case DType::I32:
            return torch::kInt32;
        case DType::I16:
            return torch::kInt16;
        case DType::I8:
            return torch::kInt8;
        case DType::U8:
            return torch::kUInt8;
        case DType::Bool:
            return torch::kBool;
    }
    throw Error("unknown dtype");
}

DType fromTorch(torch::ScalarType t) {
    for (DType d : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32,
                    DType::I16, DType::I8, DType::U8, DType::Bool})
        if (toTorch(d) == t) return d;
    throw InputError(std::string("tensor type ") + c10::toString(t) +
                     " cannot be stored in safetensors");
}

torch::Tensor tensorFromBytes(const TensorInfo& info, const std::uint8_t* data) {
    // Stored tensors need not be aligned (safetensors packs them): copy bytes, never cast.
    torch::Tensor t = torch::empty(info.shape, torch::TensorOptions().dtype(toTorch(info.dtype)));
    if (info.byteSize() > 0) std::memcpy(t.data_ptr(), data, info.byteSize());
    return t;
}

TensorView viewOf(const std::string& name, const torch::Tensor& tensor) {
    if (!tensor.device().is_cpu() || !tensor.is_contiguous())
        throw Error("tensor '" + name + "' must be contiguous and on the CPU to be written");
    return TensorView{name, fromTorch(tensor.scalar_type()),
                      std::vector<std::int64_t>(tensor.sizes().begin(), tensor.sizes().end()),
                      tensor.data_ptr()};
}

}  // namespace gqa
