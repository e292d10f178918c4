// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/dtype.h"

#include <array>
#include <utility>

namespace gqa {
namespace {
struct DTypeRow {
    DType type;
    const char* name;
    std::size_t size;
    const char* torchName;
};
constexpr std::array<DTypeRow, 10> kRows{{
    {DType::F64, "F64", 8, "float64"},
    {DType::F32, "F32", 4, "float32"},
    {DType::F16, "F16", 2, "float16"},
    {DType::BF16, "BF16", 2, "bfloat16"},
    {DType::I64, "I64", 8, "int64"},
    {DType::I32, "I32", 4, "int32"},
    {DType::I16, "I16", 2, "int16"},
    {DType::I8, "I8", 1, "int8"},
    {DType::U8, "U8", 1, "uint8"},
    {DType::Bool, "BOOL", 1, "bool"},
}};

const DTypeRow& row(DType t) {
    for (const auto& r : kRows)
        if (r.type == t) return r;
    return kRows[1];
}
}  // namespace

std::size_t dtypeSize(DType t) { return row(t).size; }
std::string dtypeName(DType t) { return row(t).name; }
std::string torchDtypeName(DType t) { return row(t).torchName; }

std::optional<DType> dtypeFromName(const std::string& name) {
    for (const auto& r : kRows)
        if (name == r.name) return r.type;
    return std::nullopt;
}

std::optional<DType> dtypeFromTorchName(const std::string& name) {
    static const std::pair<const char*, DType> kFloatNames[] = {
        {"float32", DType::F32}, {"float", DType::F32},     {"float16", DType::F16},
        {"half", DType::F16},    {"bfloat16", DType::BF16}, {"float64", DType::F64}};
    for (const auto& [n, t] : kFloatNames)
        if (name == n) return t;
    return std::nullopt;
}

}  // namespace gqa
