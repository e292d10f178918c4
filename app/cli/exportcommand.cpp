// SPDX-License-Identifier: GPL-3.0-or-later
// The export subcommand: a standard Hugging Face GQA model from a conversion training checkpoint
// (OUTPUT/checkpoint of `gqa-cli train`), reloaded and verified against the gated model at z = 0
// (gqaexport.h). The trainer records every gate as exactly 0 from the update after its prune step
// on; a checkpoint whose last recorded gates are not all 0 is an unfinished conversion, refused
// unless --force, which names the gates still open. Tokenizer and generation config come from the
// model the run started from: --model, else the folder recorded in the checkpoint or in the run
// file (--run, or OUTPUT/run.h5 as the studio writes it).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "clioptions.h"
#include "runfile/runfolder.h"
#include "commands.h"
#include "training/conversiontraining.h"
#include "base/error.h"
#include "training/gqaexport.h"
#include "runfile/runfile.h"
#include "terminalprogress.h"
#include "training/trainingcheckpoint.h"

namespace gqa::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr std::size_t kGatesNamed = 8;  ///< open gates listed in a message, the rest counted

struct OpenGate {
    std::int64_t layer = 0, head = 0;
    double value = 0.0;
};

bool sameFolder(const std::string& a, const std::string& b) {
    return fs::weakly_canonical(fs::absolute(a)) == fs::weakly_canonical(fs::absolute(b));
}

/// The checkpoint in `given`, or in `given`/checkpoint (a training output folder).
std::string resolveCheckpoint(const std::string& given) {
    std::string found = findTrainingCheckpoint(given);
    if (found.empty()) found = findTrainingCheckpoint(conversionCheckpointFolder(given));
    if (found.empty())
        throw InputError(given +
                         ": no complete training checkpoint here (give the OUTPUT/checkpoint "
                         "folder that `gqa-cli train` writes, or OUTPUT)");
    return found;
}

/// The training output folder that holds `checkpoint` (OUTPUT for OUTPUT/checkpoint[.old]).
std::string outputFolderOf(const std::string& checkpoint) {
    const fs::path p = fs::absolute(checkpoint).lexically_normal();
    const std::string name = p.filename().string();
    return name == RunFolder::kCheckpointName ||
                   name == std::string(RunFolder::kCheckpointName) + ".old"
               ? p.parent_path().string()
               : "";
}

/// KV heads of the merged projections; InputError when the checkpoint has none.
std::int64_t mergedGroups(const Checkpoint& c, const std::string& folder) {
    const auto merged = c.tensors.find(mergedKeyName(0));
    if (merged == c.tensors.end())
        throw InputError(folder +
                         ": not a conversion training checkpoint (no merged KV heads; a "
                         "pretraining checkpoint?)");
    return merged->second.size(0) / c.config.headDim;
}

/// Gates of the last recorded update that are not 0; every gate (value 1, as training starts)
/// when no update was recorded.
std::vector<OpenGate> openGates(const TrainerState& state, const ModelConfig& c) {
    const TrainingHistory h = TrainingHistory::fromTensors(
        state.tensors, state.extra.value("metric_names", std::vector<std::string>{}), c.numLayers,
        c.numHeads);
    std::vector<OpenGate> open;
    for (std::int64_t l = 0; l < c.numLayers; ++l)
        for (std::int64_t hd = 0; hd < c.numHeads; ++hd) {
            const double v = h.gates.empty() ? 1.0 : h.gates.back()[l * c.numHeads + hd];
            if (v != 0.0) open.push_back({l, hd, v});
        }
    return open;
}

std::string gateList(const std::vector<OpenGate>& gates) {
    std::string text;
    for (std::size_t i = 0; i < gates.size() && i < kGatesNamed; ++i) {
        char item[80];
        std::snprintf(item, sizeof item, "%slayer %lld head %lld (%.3g)", i ? ", " : "",
                      (long long)gates[i].layer, (long long)gates[i].head, gates[i].value);
        text += item;
    }
    if (gates.size() > kGatesNamed)
        text += " and " + std::to_string(gates.size() - kGatesNamed) + " more";
    return text;
}

/// The model folder recorded by the training: in the checkpoint's trainer state ("model_folder",
/// or settings.model_folder), else in the run file's /training settings. Empty when neither
/// records one (today's trainer records it only in the run file).
std::string recordedModelFolder(const TrainerState& state, const std::string& runFile) {
    if (state.extra.value("model_folder", "") != "") return state.extra.value("model_folder", "");
    const Json settings = state.extra.value("settings", Json::object());
    if (settings.is_object() && settings.value("model_folder", "") != "")
        return settings.value("model_folder", "");
    if (runFile.empty() || !fs::exists(runFile)) return "";
    const RunFile file = RunFile::open(runFile);
    if (!file.hasTrainingHistory()) return "";
    const Json run = Json::parse(file.readTrainingHistory().settingsJson, nullptr, false);
    return run.is_object() ? run.value("model_folder", "") : "";
}

/// Checks that `folder` holds the model the checkpoint was trained from (same shape).
ModelConfig checkedModel(const std::string& folder, const ModelConfig& trained) {
    const ModelConfig c = ModelConfig::fromFile((fs::path(folder) / "config.json").string());
    if (c.numLayers != trained.numLayers || c.numHeads != trained.numHeads ||
        c.numKvHeads != trained.numHeads || c.hiddenSize != trained.hiddenSize ||
        c.vocabSize != trained.vocabSize)
        throw InputError(folder +
                         ": not the model this checkpoint was trained from (an MHA model with the "
                         "same layers, heads, hidden size and vocabulary); give it with --model");
    return c;
}

/// Records the export in the run file's /training settings ("result"), as the trainer does.
void recordExport(const std::string& path, const Json& result) {
    RunFile file = RunFile::open(path);
    RunFile::StoredTraining stored = file.readTrainingHistory();
    Json settings = Json::parse(stored.settingsJson, nullptr, false);
    if (!settings.is_object()) settings = Json::object();
    settings["result"] = result;
    file.writeTrainingHistory(stored.history, stored.validation, settings.dump());
}
}  // namespace

int runExport(const std::vector<std::string>& args) {
    Arguments a(
        "export",
        "Exports the standard Hugging Face GQA model (num_key_value_heads = G, every gate at 0) "
        "from a conversion training checkpoint: the OUTPUT/checkpoint folder that `gqa-cli "
        "train` writes (or OUTPUT itself). The export is reloaded and its logits compared with "
        "the gated model's at z = 0. A checkpoint whose gates are not all closed (training "
        "stopped before the prune step) is refused unless --force. Tokenizer and generation "
        "config are copied from the model the run started from.",
        {"checkpoint-folder"},
        {{"out", "FOLDER", "where to write the model (default: OUTPUT/model next to checkpoint/)",
          ""},
         {"model", "FOLDER",
          "the model the training started from, for its tokenizer and generation config "
          "(default: the one the checkpoint or the run file records)",
          ""},
         {"run", "FILE",
          "run file of the training: its recorded model folder is used, and the export and its "
          "verification are recorded in its /training settings (default: OUTPUT/run.h5 is read)",
          ""},
         {"dtype", "TYPE",
          "stored dtype of the export: float32, bfloat16, float16 or float64 (default: the "
          "model's)",
          ""},
         {"force", "", "export even when gates are still open (they are listed)", ""},
         jsonOption(),
         quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    const std::string checkpointFolder = resolveCheckpoint(a.positional(0));
    const std::string output = outputFolderOf(checkpointFolder);
    const std::string exportFolder = a.has("out")     ? a.text("out")
                                     : output.empty() ? ""
                                                      : conversionExportFolder(output);
    if (exportFolder.empty())
        throw InputError(checkpointFolder + " is not named checkpoint: give --out FOLDER");
    const std::string runFile = a.text("run");
    if (!runFile.empty() && !RunFile::open(runFile).hasTrainingHistory())  // before the work
        throw InputError(runFile + ": no /training recorded to add the export to");
    const std::string lookupRun = !runFile.empty() ? runFile
                                  : output.empty() ? ""
                                                   : RunFolder(output).runFile();
    std::optional<DType> dtype;
    if (a.has("dtype")) {
        dtype = dtypeFromTorchName(a.text("dtype"));
        if (!dtype) throw InputError("--dtype must be float32, bfloat16, float16 or float64");
    }

    TerminalProgress progress(a.flag("quiet"));
    progress.report({0.0, "loading the checkpoint", {}, {}});
    auto [checkpoint, state] = loadTrainingCheckpoint(checkpointFolder);
    const ModelConfig& config = checkpoint.config;
    const std::int64_t groups = mergedGroups(checkpoint, checkpointFolder);
    const Json settings = state.extra.value("settings", Json::object());
    const std::int64_t totalSteps = settings.is_object() ? settings.value("steps", 0) : 0;
    std::vector<std::string> warnings;
    const std::vector<OpenGate> open = openGates(state, config);
    const std::string stepText = "update " + std::to_string(state.step) +
                                 (totalSteps > 0 ? " of " + std::to_string(totalSteps) : "");
    if (!open.empty()) {
        const std::string what = std::to_string(open.size()) + " of " +
                                 std::to_string(config.numLayers * config.numHeads) +
                                 " gates are still open at " + stepText + ": " + gateList(open);
        if (!a.flag("force"))
            throw InputError(
                checkpointFolder + " is not a finished conversion: " + what +
                ". The trainer closes every gate after its prune step (--prune-ratio of the "
                "updates); run the same `gqa-cli train` command again to finish, or pass --force "
                "to export the GQA model anyway (it then differs from the trained gated model)");
        warnings.push_back("exported although " + what);
    } else if (totalSteps > 0 && state.step < totalSteps) {
        warnings.push_back("training stopped at " + stepText +
                           ": the gates are closed, the remaining updates were not made");
    }

    std::string modelFolder = a.text("model");
    if (modelFolder.empty()) modelFolder = recordedModelFolder(state, lookupRun);
    if (modelFolder.empty())
        throw InputError(checkpointFolder +
                         " does not record the model it was trained from: give --model FOLDER "
                         "(its tokenizer and generation config are copied into the export)");
    if (!fs::exists(fs::path(modelFolder) / "config.json"))
        throw InputError(modelFolder + " (the model the training started from) has no " +
                         "config.json: give the model folder with --model");
    const ModelConfig original = checkedModel(modelFolder, config);
    for (const std::string& kept : {checkpointFolder, modelFolder})
        if (fs::exists(exportFolder) && sameFolder(exportFolder, kept))
            throw InputError(
                exportFolder + " is " +
                (kept == modelFolder ? "the model the training started from" : "the checkpoint") +
                ", which the export would replace: choose another --out");
    if (!fs::exists(fs::path(modelFolder) / "tokenizer.model"))
        warnings.push_back(modelFolder + " has no tokenizer.model: the export has none");
    const DType exportDtype = dtype.value_or(original.dtype);

    progress.report({0.3, "building the gated model", {}, {}});
    const GatedKvModel student(checkpoint, groups, torch::kFloat32, torch::kCPU);
    progress.report({0.6, "exporting and verifying", {}, {}});
    const ExportVerification v = exportAndVerify(student, exportDtype, exportFolder, modelFolder);
    progress.finish();
    const std::string absoluteExport = fs::absolute(exportFolder).lexically_normal().string();
    if (!runFile.empty())
        recordExport(runFile, {{"export_folder", absoluteExport},
                               {"export_verified", v.passed},
                               {"export_max_relative_logit_diff", v.maxRelativeLogitDiff},
                               {"export_dtype", torchDtypeName(exportDtype)},
                               {"exported_at_step", state.step},
                               {"open_gates_at_export", open.size()}});
    for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (a.flag("json")) {
        Json gates = Json::array();
        for (const auto& g : open)
            gates.push_back({{"layer", g.layer}, {"head", g.head}, {"value", g.value}});
        std::cout << Json{{"checkpoint_folder", checkpointFolder},
                          {"step", state.step},
                          {"total_steps", totalSteps},
                          {"kv_heads", groups},
                          {"export_folder", absoluteExport},
                          {"dtype", torchDtypeName(exportDtype)},
                          {"auxiliary_files_from", fs::absolute(modelFolder).string()},
                          {"export_verified", v.passed},
                          {"export_max_relative_logit_diff", v.maxRelativeLogitDiff},
                          {"open_gates", gates},
                          {"warnings", warnings}}
                         .dump(2)
                  << "\n";
    } else {
        std::printf(
            "exported %lld KV heads (%s) from %s to %s: %s (max relative logit "
            "difference %.2g)\n",
            (long long)groups, torchDtypeName(exportDtype).c_str(), stepText.c_str(),
            absoluteExport.c_str(), v.passed ? "verified" : "NOT verified", v.maxRelativeLogitDiff);
    }
    if (!v.passed)
        throw Error(
            "the exported model's logits differ from the gated model's at z = 0 "
            "(relative " +
            std::to_string(v.maxRelativeLogitDiff) + ")");
    return kExitOk;
}

}  // namespace gqa::cli
