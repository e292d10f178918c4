// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/groupingfile.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "text/tokenizer.h"

namespace gqa {
using Json = nlohmann::json;

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
        Grouping g;
        try {
            g = j[l].get<Grouping>();
        } catch (const Json::exception&) {
            throw InputError(origin + ": layer " + std::to_string(l) +
                             " is not a list of lists of heads");
        }
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
