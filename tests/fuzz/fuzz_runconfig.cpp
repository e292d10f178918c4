// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes the conversion run config (`gqa-cli convert CONFIG.json`, conversionRunConfigFromJson).
// gqa::Error (InputError) is the expected refusal; a crash, sanitizer report or other exception is
// a finding, and so is an accepted config whose resolved form (conversionRunConfigJson, what
// convert writes to convert-config.json) does not read back as the same run.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "pipeline/conversionrunconfig.h"

#include "fuzzsupport.h"

using namespace gqa;
using Json = nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Json j;
    try {
        j = Json::parse(data, data + size);
    } catch (const Json::exception&) {
        return 0;  // convert refuses text that is not JSON before this parser sees it
    }
    ConversionRunConfig config;
    try {
        config = conversionRunConfigFromJson(j, "/runs/base", "run.json");
    } catch (const gqa::Error&) {
        return 0;
    }
    FUZZ_CHECK(config.groups >= 1);
    FUZZ_CHECK(!config.modelFolder.empty() && !config.outputFolder.empty());
    FUZZ_CHECK(!config.trainingFiles.empty());
    const Json resolved = conversionRunConfigJson(config);
    const ConversionRunConfig again =
        conversionRunConfigFromJson(resolved, "/elsewhere", "convert-config.json");
    FUZZ_CHECK(conversionRunConfigJson(again) == resolved);
    return 0;
}
