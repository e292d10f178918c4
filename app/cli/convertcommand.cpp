// SPDX-License-Identifier: GPL-3.0-or-later
// `gqa-cli convert CONFIG.json`: the whole conversion from one run config (calibrate, group,
// align, train, export), with every setting resolved and written next to the result so the run
// can be reproduced. Format: docs/convert.md.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "alignedmodel.h"
#include "arguments.h"
#include "clioptions.h"
#include "commands.h"
#include "conversiontraining.h"
#include "error.h"
#include "runtime.h"
#include "terminalprogress.h"
#include "tokenizer.h"

namespace gqa::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

/// Refuses keys that are not in `allowed`, so a typo never silently falls back to a default.
void checkKeys(const Json& object, const std::set<std::string>& allowed, const std::string& where) {
    if (!object.is_object()) throw InputError(where + " must be a JSON object");
    for (const auto& [key, value] : object.items())
        if (!allowed.count(key)) throw InputError(where + ": unknown key \"" + key + "\"");
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

/// Paths in the config are relative to the config file's folder.
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

int runConvert(const std::vector<std::string>& args) {
    Arguments a("convert",
                "Runs the whole conversion described by a JSON run config: calibrate, search the "
                "grouping, align, train the gates with distillation and export the GQA model "
                "(see docs/convert.md). Paths in the config are relative to its folder. The "
                "resolved settings are written to OUTPUT/convert-config.json; running the same "
                "config again resumes an interrupted run.",
                {"config.json"}, {jsonOption(), quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    const fs::path configPath = a.positional(0);
    Json j;
    try {
        j = Json::parse(readTextFile(configPath.string()));
    } catch (const Json::exception& e) {
        throw InputError(configPath.string() + ": not valid JSON: " + e.what());
    }
    const fs::path base = fs::absolute(configPath).parent_path();
    const std::string where = configPath.filename().string();
    checkKeys(j, {"model", "kv_heads", "start", "output", "calibration", "training"}, where);
    const Json calibrationJson = take<Json>(j, "calibration", Json::object(), where);
    const Json trainingJson = take<Json>(j, "training", Json::object(), where);
    checkKeys(calibrationJson, {"files", "sequences", "length"}, where + ".calibration");
    checkKeys(trainingJson,
              {"files", "jsonl", "validation", "teacher", "steps", "batch", "seq_len", "grad_accum",
               "lr", "gate_scheme", "kl_weight", "bild_weight", "lm_weight", "dtype", "device",
               "seed", "checkpoint_every", "eval_every"},
              where + ".training");

    const std::string start = take<std::string>(j, "start", "aligned", where);
    if (start != "aligned" && start != "mean-pool")
        throw InputError(where + ".start must be \"aligned\" or \"mean-pool\"");
    AlignedModelConfig prepare;
    prepare.modelFolder = resolve(base, take<std::string>(j, "model", "", where));
    prepare.groups = take<std::int64_t>(j, "kv_heads", 0, where);
    prepare.meanPool = start == "mean-pool";
    prepare.calibrationFiles = resolveAll(
        base, take<std::vector<std::string>>(calibrationJson, "files", {}, where + ".calibration"));
    prepare.calibrationSequences = take<std::int64_t>(calibrationJson, "sequences", 64, where);
    prepare.calibrationLength = take<std::int64_t>(calibrationJson, "length", 256, where);
    const std::string output = resolve(base, take<std::string>(j, "output", "", where));
    if (prepare.modelFolder.empty() || output.empty() || prepare.groups < 1)
        throw InputError(where + " needs \"model\", \"kv_heads\" and \"output\"");
    prepare.runFile = (fs::path(output) / "run.h5").string();
    prepare.outputFolder = (fs::path(output) / "aligned-mha").string();

    ConversionTrainingConfig c;
    const std::string w = where + ".training";
    c.trainFiles = resolveAll(base, take<std::vector<std::string>>(trainingJson, "files", {}, w));
    c.trainJsonl = resolve(base, take<std::string>(trainingJson, "jsonl", "", w));
    c.validationFile = resolve(base, take<std::string>(trainingJson, "validation", "", w));
    c.teacherFolder =
        resolve(base, take<std::string>(trainingJson, "teacher", prepare.modelFolder, w));
    c.steps = take<std::int64_t>(trainingJson, "steps", c.steps, w);
    c.batchSize = take<std::int64_t>(trainingJson, "batch", c.batchSize, w);
    c.seqLen = take<std::int64_t>(trainingJson, "seq_len", c.seqLen, w);
    c.gradAccumulation = take<std::int64_t>(trainingJson, "grad_accum", 1, w);
    c.learningRate = take<double>(trainingJson, "lr", c.learningRate, w);
    c.gates.scheme =
        parseGateScheme(take<std::string>(trainingJson, "gate_scheme", "reference", w));
    c.loss.klWeight = take<double>(trainingJson, "kl_weight", c.loss.klWeight, w);
    c.loss.bildWeight = take<double>(trainingJson, "bild_weight", c.loss.bildWeight, w);
    c.loss.lmWeight = take<double>(trainingJson, "lm_weight", c.loss.lmWeight, w);
    const std::string dtype = take<std::string>(trainingJson, "dtype", "float32", w);
    const std::string device = take<std::string>(trainingJson, "device", "cpu", w);
    c.compute = parseComputeDtype(dtype);
    c.device = parseDevice(device);
    c.seed = take<std::uint64_t>(trainingJson, "seed", c.seed, w);
    c.checkpointEvery = take<std::int64_t>(trainingJson, "checkpoint_every", c.checkpointEvery, w);
    c.evalEvery = take<std::int64_t>(trainingJson, "eval_every", c.evalEvery, w);
    c.groups = prepare.groups;
    c.outputDir = output;
    c.runFile = prepare.runFile;
    c.warmupSteps = std::min<std::int64_t>(ConversionTrainingConfig::kReferenceWarmupSteps,
                                           std::max<std::int64_t>(1, c.steps / 10));
    if (c.trainFiles.empty() && c.trainJsonl.empty())
        throw InputError(w + " needs \"files\" (text) or \"jsonl\"");
    if (!prepare.meanPool && prepare.calibrationFiles.empty())
        throw InputError(where + ".calibration needs \"files\"");

    // Everything resolved, written before the work starts: the run's own record.
    fs::create_directories(output);
    const Json resolved{{"model", prepare.modelFolder},
                        {"kv_heads", prepare.groups},
                        {"start", start},
                        {"output", output},
                        {"calibration",
                         {{"files", prepare.calibrationFiles},
                          {"sequences", prepare.calibrationSequences},
                          {"length", prepare.calibrationLength}}},
                        {"training",
                         {{"files", c.trainFiles},
                          {"jsonl", c.trainJsonl},
                          {"validation", c.validationFile},
                          {"teacher", c.teacherFolder},
                          {"steps", c.steps},
                          {"batch", c.batchSize},
                          {"seq_len", c.seqLen},
                          {"grad_accum", c.gradAccumulation},
                          {"lr", c.learningRate},
                          {"warmup", c.warmupSteps},
                          {"gate_scheme", gateSchemeName(c.gates.scheme)},
                          {"kl_weight", c.loss.klWeight},
                          {"bild_weight", c.loss.bildWeight},
                          {"lm_weight", c.loss.lmWeight},
                          {"dtype", dtype},
                          {"device", device},
                          {"seed", c.seed},
                          {"checkpoint_every", c.checkpointEvery},
                          {"eval_every", c.evalEvery}}},
                        {"gqa_studio_version", GQA_VERSION}};
    {
        std::ofstream out(fs::path(output) / "convert-config.json");
        out << resolved.dump(2) << "\n";
    }

    TerminalProgress progress(a.flag("quiet"));
    const AlignedModelResult aligned = prepareAlignedModel(prepare, progress);
    c.studentFolder = aligned.folder;
    c.exportDtype = aligned.originalDtype;
    const ConversionTrainingResult r = trainConversion(c, progress);
    progress.finish();
    for (const auto& warning : aligned.warnings)
        std::fprintf(stderr, "warning: %s\n", warning.c_str());
    for (const auto& warning : r.warnings) std::fprintf(stderr, "warning: %s\n", warning.c_str());
    if (a.flag("json")) {
        std::cout << Json{{"export_folder", r.exportFolder},
                          {"export_verified", r.exportVerified},
                          {"steps", r.steps},
                          {"resumed", r.resumed},
                          {"reused_calibration", aligned.reusedCalibration},
                          {"final_validation_loss", std::isfinite(r.finalValidationLoss)
                                                        ? Json(r.finalValidationLoss)
                                                        : Json()},
                          {"run_file", prepare.runFile}}
                         .dump(2)
                  << "\n";
        return kExitOk;
    }
    std::printf("converted %s to %lld KV heads (%s start, %lld updates%s)\n",
                prepare.modelFolder.c_str(), (long long)prepare.groups, start.c_str(),
                (long long)r.steps, r.resumed ? ", resumed" : "");
    if (std::isfinite(r.finalValidationLoss))
        std::printf("held-out perplexity of the GQA model: %.2f\n",
                    std::exp(r.finalValidationLoss));
    std::printf("model written to %s (verified), run file %s\n", r.exportFolder.c_str(),
                prepare.runFile.c_str());
    return kExitOk;
}

}  // namespace gqa::cli
