// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes tokenizer_config.json parsing (parseTokenizerSettings). gqa::Error (InputError) is the
// expected refusal; a crash, sanitizer report or other exception is a finding, and so is a setting
// read from a file that does not hold exactly that boolean under its key.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "text/tokenizersettings.h"

#include "fuzzsupport.h"

using namespace gqa;

namespace {
// The expected value, computed independently of the parser from the already parsed object.
std::optional<bool> expected(const nlohmann::json& object, const char* key) {
    if (!object.contains(key)) return std::nullopt;
    const nlohmann::json& v = object[key];
    if (v.is_boolean()) return v.get<bool>();
    return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    TokenizerSettings settings;
    try {
        settings = parseTokenizerSettings(text, "tokenizer_config.json");
    } catch (const gqa::Error&) {
        return 0;  // InputError: not a JSON object
    }
    const nlohmann::json object = nlohmann::json::parse(text);  // accepted: must parse again
    FUZZ_CHECK(object.is_object());
    FUZZ_CHECK(settings.addBos == expected(object, "add_bos_token"));
    FUZZ_CHECK(settings.addEos == expected(object, "add_eos_token"));
    return 0;
}
