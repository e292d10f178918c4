// SPDX-License-Identifier: GPL-3.0-or-later
#include "pipeline/conversionrunconfig.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "base/runtime.h"
#include "io/jsonintegers.h"
#include "pipeline/trainingsettings.h"

namespace gqa {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {
bool isJsonl(const std::string& path) { return fs::path(path).extension() == ".jsonl"; }

void checkKeys(const Json& object, const std::vector<std::string>& allowed,
               const std::string& where) {
    if (!object.is_object()) throw InputError(where + " must be a JSON object");
    for (const auto& [key, value] : object.items())
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
            throw InputError(where + ": unknown key \"" + key + "\"");
}

template <class T>
T take(const Json& object, const std::string& key, const T& fallback, const std::string& where) {
    if (!object.contains(key)) return fallback;
    try {
        return object.at(key).get<T>();
    } catch (const Json::exception&) {
        throw InputError(where + "." + key + " has the wrong type");
    }
}

// Integers are not converted by nlohmann: a float there would be rounded or, out of range,
// undefined behaviour (io/jsonintegers.h).
template <>
std::int64_t take<std::int64_t>(const Json& object, const std::string& key,
                                const std::int64_t& fallback, const std::string& where) {
    if (!object.contains(key)) return fallback;
    if (const auto value = int64FromJson(object.at(key))) return *value;
    throw InputError(where + "." + key + " must be an integer (got " + object.at(key).dump() + ")");
}

std::string resolve(const fs::path& base, const std::string& path) {
    if (path.empty()) return path;
    const fs::path p(path);
    return (p.is_absolute() ? p : base / p).lexically_normal().string();
}
std::vector<std::string> resolveAll(const fs::path& base, const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    for (const auto& p : paths) out.push_back(resolve(base, p));
    return out;
}
}  // namespace

void assignTrainingInputs(const std::vector<std::string>& files, ConversionTrainingConfig& config) {
    if (files.empty()) throw InputError("no training text: give .txt files or one .jsonl file");
    std::vector<std::string> text, jsonl;
    for (const std::string& f : files) (isJsonl(f) ? jsonl : text).push_back(f);
    if (!jsonl.empty() && !text.empty())
        throw InputError("training files mix prompt/answer .jsonl (" + jsonl.front() +
                         ") and plain text (" + text.front() + "): use one kind");
    if (jsonl.size() > 1)
        throw InputError("give one prompt/answer .jsonl training file, not " +
                         std::to_string(jsonl.size()));
    config.trainFiles = text;
    config.trainJsonl = jsonl.empty() ? std::string() : jsonl.front();
}

ConversionRunConfig conversionRunConfigFromJson(const Json& j, const std::string& baseFolder,
                                                const std::string& where) {
    const fs::path base(baseFolder);
    // gqa_studio_version: written into resolved configs, informational.
    checkKeys(
        j,
        {"model", "kv_heads", "start", "output", "calibration", "training", "gqa_studio_version"},
        where);
    ConversionRunConfig c;
    try {
        c.start =
            parseTrainingStart(take<std::string>(j, "start", trainingStartName(c.start), where));
    } catch (const InputError& e) {
        throw InputError(where + ".start: " + e.what());
    }
    c.modelFolder = resolve(base, take<std::string>(j, "model", "", where));
    c.groups = take<std::int64_t>(j, "kv_heads", 0, where);
    c.outputFolder = resolve(base, take<std::string>(j, "output", "", where));
    if (c.modelFolder.empty() || c.outputFolder.empty() || c.groups < 1)
        throw InputError(where + " needs \"model\", \"kv_heads\" and \"output\"");

    const std::string cw = where + ".calibration";
    const Json calibration = take<Json>(j, "calibration", Json::object(), where);
    checkKeys(calibration, {"files", "sequences", "length"}, cw);
    c.calibrationFiles =
        resolveAll(base, take<std::vector<std::string>>(calibration, "files", {}, cw));
    c.calibrationSequences =
        take<std::int64_t>(calibration, "sequences", c.calibrationSequences, cw);
    c.calibrationLength = take<std::int64_t>(calibration, "length", c.calibrationLength, cw);
    if (alignsHeads(c.start) && c.calibrationFiles.empty())
        throw InputError(cw + " needs \"files\"");

    const std::string tw = where + ".training";
    const Json training = take<Json>(j, "training", Json::object(), where);
    applyTrainingSettingsJson(training, c.training, tw,
                              {"files", "jsonl", "validation", "teacher", "device"});
    std::vector<std::string> files =
        resolveAll(base, take<std::vector<std::string>>(training, "files", {}, tw));
    const std::string jsonl = resolve(base, take<std::string>(training, "jsonl", "", tw));
    if (!jsonl.empty()) files.push_back(jsonl);
    if (files.empty()) throw InputError(tw + " needs \"files\" (text) or \"jsonl\"");
    // Refused here, naming the key, not later when the run is written or started (fuzz_runconfig
    // found a config with both "files" and "jsonl" accepted, then failing in the writer).
    try {
        ConversionTrainingConfig check;
        assignTrainingInputs(files, check);
    } catch (const InputError& e) {
        throw InputError(tw + ": " + e.what());
    }
    c.trainingFiles = files;
    c.validationFile = resolve(base, take<std::string>(training, "validation", "", tw));
    c.teacherFolder = resolve(base, take<std::string>(training, "teacher", "", tw));
    c.training.device = parseDevice(take<std::string>(training, "device", "cpu", tw));
    return c;
}

Json conversionRunConfigJson(const ConversionRunConfig& c) {
    Json training = trainingSettingsJson(c.training);
    ConversionTrainingConfig inputs;
    assignTrainingInputs(c.trainingFiles, inputs);
    training["files"] = inputs.trainFiles;
    if (!inputs.trainJsonl.empty()) training["jsonl"] = inputs.trainJsonl;
    training["validation"] = c.validationFile;
    training["teacher"] = c.teacherFolder.empty() ? c.modelFolder : c.teacherFolder;
    training["device"] = c.training.device.str();
    return {{"model", c.modelFolder},
            {"kv_heads", c.groups},
            {"start", trainingStartName(c.start)},
            {"output", c.outputFolder},
            {"calibration",
             {{"files", c.calibrationFiles},
              {"sequences", c.calibrationSequences},
              {"length", c.calibrationLength}}},
            {"training", training}};
}

}  // namespace gqa
