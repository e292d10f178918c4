// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The two gate schemes of the conversion training (method §6.2, kvgates.h), by name. Torch-free so
// that the studio's settings hold the scheme as a value, not as a string.

#include <string>

namespace gqa {

enum class GateScheme { Reference, HardConcrete };

/// "reference", "hard-concrete".
std::string gateSchemeName(GateScheme scheme);

/// Inverse of gateSchemeName; InputError naming the valid values otherwise.
GateScheme parseGateScheme(const std::string& name);

}  // namespace gqa
