// SPDX-License-Identifier: GPL-3.0-or-later
#include "text/tokenizersettings.h"

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace gqa {
using Json = nlohmann::json;

namespace {
std::optional<bool> flag(const Json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_boolean()) return std::nullopt;
    return it->get<bool>();
}
}  // namespace

TokenizerSettings parseTokenizerSettings(const std::string& jsonText, const std::string& origin) {
    Json j;
    try {
        j = Json::parse(jsonText);
    } catch (const Json::exception& e) {  // parse_error; out_of_range for 1e999
        throw InputError(origin + ": malformed JSON: " + e.what());
    }
    if (!j.is_object()) throw InputError(origin + ": expected a JSON object of tokenizer settings");
    return {flag(j, "add_bos_token"), flag(j, "add_eos_token")};
}

}  // namespace gqa
