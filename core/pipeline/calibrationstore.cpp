// SPDX-License-Identifier: GPL-3.0-or-later
#include "pipeline/calibrationstore.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "io/checkpoint.h"
#include "model/decodermodel.h"
#include "text/tokenizer.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {
bool sameModel(const ModelIdentity& a, const ModelIdentity& b) {
    return a.checksum == b.checksum && a.configJson == b.configJson;
}
}  // namespace

CalibrationOutcome calibrateOrReuse(const CalibrationRequest& request, ProgressSink& progress,
                                    const Checkpoint* loaded) {
    if (request.inputFiles.empty())
        throw InputError("no calibration text: give one or more .txt or .jsonl files");
    if (request.runFile.empty()) throw InputError("calibration needs a run file to record it in");
    if (request.sequences < 1) throw InputError("the number of calibration sequences must be >= 1");
    CalibrationOutcome outcome;
    outcome.runFile = request.runFile;

    reportOrCancel(progress, {0.0, "checking the run file", {}, {}});
    const ModelConfig config =
        ModelConfig::fromFile((fs::path(request.modelFolder) / "config.json").string());
    std::int64_t length =
        request.sequenceLength > 0 ? request.sequenceLength : defaultSequenceLength(config);
    if (length > config.maxPositionEmbeddings) {
        length = config.maxPositionEmbeddings;
        outcome.warnings.push_back("calibration sequences shortened to the model's " +
                                   std::to_string(length) + " positions");
    }
    ModelIdentity identity = modelIdentity(request.modelFolder);
    identity.modelFolder = fs::absolute(request.modelFolder).string();
    CalibrationSettings wanted;
    wanted.inputFiles = absoluteInputPaths(request.inputFiles);
    wanted.inputChecksum = filesChecksum(request.inputFiles);
    wanted.numSequences = request.sequences;
    wanted.sequenceLength = length;

    bool createNew = !fs::exists(request.runFile);
    if (!createNew) {
        std::optional<RunFile> existing;
        try {
            existing.emplace(RunFile::open(request.runFile));
        } catch (const InputError& e) {
            if (request.foreignRunFile == ForeignRunFile::Refuse) throw;
            outcome.warnings.push_back(std::string(e.what()) + ": replaced by a new run file");
            createNew = true;
        }
        const std::optional<ModelIdentity> stored =
            existing && existing->hasModelIdentity()
                ? std::optional<ModelIdentity>(existing->readModelIdentity())
                : std::nullopt;
        if (stored && !sameModel(*stored, identity)) {
            if (request.foreignRunFile == ForeignRunFile::Refuse)
                throw InputError(request.runFile + " holds the run of another model (" +
                                 stored->modelFolder +
                                 "); choose another run file, or delete this one");
            outcome.warnings.push_back(request.runFile + " held the run of another model (" +
                                       stored->modelFolder + "): replaced by a new run file");
            createNew = true;
        }
        if (existing && !createNew && request.reuse &&
            existing->calibrationMatches(identity, wanted)) {
            reportOrCancel(progress, {0.9, "reading the stored statistics", {}, {}});
            outcome.statistics = existing->readCalibration();
            outcome.reused = true;
            reportOrCancel(progress, {1.0, "reading the stored statistics", {}, {}});
            return outcome;
        }
    }

    CalibrationConfig calibration;
    calibration.inputFiles = request.inputFiles;
    calibration.modelFolder = request.modelFolder;
    calibration.numSequences = request.sequences;
    calibration.sequenceLength = length;
    calibration.batchSize = request.batchSize;
    ScaledProgress loading(progress, 0.0, 0.1);
    const DecoderModel model(loaded ? *loaded : Checkpoint::load(request.modelFolder, loading),
                             request.dtype, request.device);
    ScaledProgress calibrating(progress, 0.1, 1.0);
    CalibrationResult result = calibrate(model, calibration, calibrating);
    for (const auto& w : result.warnings) outcome.warnings.push_back(w);

    const fs::path parent = fs::absolute(request.runFile).parent_path();
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) throw Error("cannot create " + parent.string() + " for the run file: " + ec.message());
    RunFile run = createNew ? RunFile::create(request.runFile) : RunFile::open(request.runFile);
    run.writeModelIdentity(identity);
    run.writeCalibration(result.settings, result.layers);
    outcome.statistics = {std::move(result.settings), std::move(result.layers)};
    return outcome;
}

StoredCalibration storedCalibrationFor(const std::string& runFile, const std::string& modelFolder) {
    const RunFile run = RunFile::open(runFile);
    if (!run.hasCalibration())
        throw InputError(runFile + ": no calibration statistics; run `gqa-cli calibrate` first");
    const ModelIdentity stored = run.readModelIdentity(), current = modelIdentity(modelFolder);
    if (!sameModel(stored, current))
        throw InputError(runFile + ": its statistics were computed for another model (" +
                         stored.modelFolder + "); calibrate this one with a new run file");
    return run.readCalibration();
}

std::vector<std::vector<std::int64_t>> storedCalibrationTokens(const CalibrationSettings& settings,
                                                               const std::string& modelFolder,
                                                               const ModelConfig& model,
                                                               ProgressSink& progress) {
    if (settings.inputFiles.empty() || settings.numSequences < 1 || settings.sequenceLength < 1)
        throw InputError("the run file does not record which text its calibration read");
    std::string checksum;
    try {
        checksum = filesChecksum(settings.inputFiles);
    } catch (const InputError& e) {
        throw InputError(std::string("the calibration text cannot be read again (") + e.what() +
                         "): calibrate again to fit layer by layer");
    }
    if (checksum != settings.inputChecksum)
        throw InputError(
            "the calibration text has changed since the run file's statistics were "
            "made: calibrate again to fit layer by layer");
    CalibrationConfig config;
    config.inputFiles = settings.inputFiles;
    config.numSequences = settings.numSequences;
    config.sequenceLength = settings.sequenceLength;
    config.batchSize = settings.batchSize;
    const Tokenizer tokenizer = Tokenizer::forModelFolder(modelFolder, model);
    return calibrationSequences(config, tokenizer, progress);
}

}  // namespace gqa
