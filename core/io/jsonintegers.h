// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Integers read from JSON files without undefined behaviour or silent rounding.
//
// nlohmann::json converts any number to an integer type on request: 2.5 becomes 2, and a float
// beyond the target's range (2.2e+72 as int64) is undefined behaviour, which fuzzing found in the
// run config and grouping-file parsers (docs/hardening.md). Every parser that takes an integer
// from a user's file goes through int64FromJson, which accepts JSON integers inside int64's range
// only, and the caller turns "no value" into an error that names the field.

#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

namespace gqa {

/// The value of `value` if it is a JSON integer that fits an int64; nothing for floats (even
/// integral ones like 3.0, which a tool writing our files never produces), strings, and integers
/// written beyond int64's range.
inline std::optional<std::int64_t> int64FromJson(const nlohmann::json& value) {
    if (value.is_number_unsigned()) {
        const auto u = value.get<std::uint64_t>();
        if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
        return std::int64_t(u);
    }
    if (value.is_number_integer()) return value.get<std::int64_t>();
    return std::nullopt;
}

}  // namespace gqa
