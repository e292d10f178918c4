// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/gatescheme.h"

#include "base/error.h"

namespace gqa {

std::string gateSchemeName(GateScheme scheme) {
    switch (scheme) {
        case GateScheme::Reference:
            return "reference";
        case GateScheme::HardConcrete:
            return "hard-concrete";
    }
    return "reference";
}

GateScheme parseGateScheme(const std::string& name) {
    for (GateScheme s : {GateScheme::Reference, GateScheme::HardConcrete})
        if (name == gateSchemeName(s)) return s;
    throw InputError("unknown gate scheme '" + name + "' (valid: reference, hard-concrete)");
}

}  // namespace gqa
