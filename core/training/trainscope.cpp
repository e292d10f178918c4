// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/trainscope.h"

namespace gqa {

std::string trainScopeName(TrainScope scope) {
    switch (scope) {
        case TrainScope::Merged:
            return "merged";
        case TrainScope::KeyValue:
            return "kv";
        case TrainScope::Attention:
            return "attention";
        case TrainScope::All:
            return "all";
    }
    return "kv";
}

std::optional<TrainScope> parseTrainScope(const std::string& name) {
    for (TrainScope s :
         {TrainScope::Merged, TrainScope::KeyValue, TrainScope::Attention, TrainScope::All})
        if (trainScopeName(s) == name) return s;
    return std::nullopt;
}

bool isTrainedIn(TrainScope scope, const std::string& projection) {
    switch (scope) {
        case TrainScope::All:
            return true;
        case TrainScope::Attention:
            if (projection == "q_proj" || projection == "o_proj") return true;
            [[fallthrough]];
        case TrainScope::KeyValue:
            return projection == "k_proj" || projection == "v_proj";
        case TrainScope::Merged:
            return false;
    }
    return false;
}

}  // namespace gqa
