// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Human-readable numbers for the studio's panels: parameter counts ("12.3 M"), byte sizes in
// binary units ("4.0 KiB"), exact integers with thousands separators ("27,008") and tensor shapes
// ("[32, 61]"). Deterministic (no locale lookup) so that tests and screenshots are stable.

#include <cstdint>
#include <vector>

#include <QString>

namespace gqa {

/// Counts with a decimal suffix: 812, "27.0 K", "12.3 M", "6.7 B", "1.2 T".
QString formatCount(std::int64_t count);
/// Bytes in binary units: "512 B", "4.0 KiB", "12.5 MiB", "13.5 GiB".
QString formatBytes(std::uint64_t bytes);
/// Exact integer with comma thousands separators: "27,008".
QString formatInteger(std::int64_t value);
/// A tensor shape as in safetensors headers: "[32, 61]"; a scalar is "[]".
QString formatShape(const std::vector<std::int64_t>& shape);

}  // namespace gqa
