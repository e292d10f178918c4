// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/groupingfile.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/jsonintegers.h"
#include "text/tokenizer.h"

namespace gqa {
using Json = nlohmann::json;

namespace {
// One layer's groups, read element by element: nlohmann's own conversion would round a float
// head index, or convert a huge one with undefined behaviour (io/jsonintegers.h).
std::optional<Grouping> groupingFromJson(const Json& layer) {
    if (!layer.is_array()) return std::nullopt;
    Grouping g;
    for (const Json& group : layer) {
        if (!group.is_array()) return std::nullopt;
        std::vector<std::int64_t> heads;
        for (const Json& head : group) {
            const auto index = int64FromJson(head);
            if (!index) return std::nullopt;
            heads.push_back(*index);
        }
        g.push_back(std::move(heads));
    }
    return g;
}
}  // namespace

std::vector<Grouping> groupingsFromJsonText(const std::string& jsonText, const std::string& origin,
                                            std::size_t layers, std::int64_t heads,
                                            std::int64_t groups) {
    Json j;
    try {
        j = Json::parse(jsonText);
    } catch (const Json::exception& e) {
        throw InputError(origin + ": not a grouping file (" + e.what() + ")");
    }
    if (!j.is_array() || j.size() != layers)
        throw InputError(origin + ": expected a list of " + std::to_string(layers) +
                         " per-layer groupings");
    std::vector<Grouping> out;
    for (std::size_t l = 0; l < layers; ++l) {
        const std::optional<Grouping> parsed = groupingFromJson(j[l]);
        if (!parsed)
            throw InputError(origin + ": layer " + std::to_string(l) +
                             " is not a list of lists of integer head indices");
        const Grouping& g = *parsed;
        try {
            validateGrouping(g, heads);
        } catch (const InputError& e) {
            throw InputError(origin + ": layer " + std::to_string(l) + ": " + e.what());
        }
        if (std::int64_t(g.size()) != groups)
            throw InputError(origin + ": layer " + std::to_string(l) + " has " +
                             std::to_string(g.size()) + " groups, --groups says " +
                             std::to_string(groups));
        out.push_back(g);
    }
    return out;
}

std::vector<Grouping> groupingsFromFile(const std::string& path, std::size_t layers,
                                        std::int64_t heads, std::int64_t groups) {
    return groupingsFromJsonText(readTextFile(path), path, layers, heads, groups);
}

}  // namespace gqa
