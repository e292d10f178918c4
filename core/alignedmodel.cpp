// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignedmodel.h"

#include <algorithm>
#include <filesystem>

#include "alignment.h"
#include "calibration.h"
#include "checkpoint.h"
#include "error.h"
#include "headanalysis.h"
#include "mergedgqa.h"
#include "runfile.h"
#include "trainingcheckpoint.h"

namespace gqa {
namespace fs = std::filesystem;

AlignedModelResult prepareAlignedModel(const AlignedModelConfig& config, ProgressSink& progress) {
    AlignedModelResult result;
    if (config.meanPool) {
        result.folder = config.modelFolder;
        result.originalDtype =
            ModelConfig::fromFile((fs::path(config.modelFolder) / "config.json").string()).dtype;
        return result;
    }
    if (config.calibrationFiles.empty()) throw InputError("no calibration text given");
    if (config.runFile.empty() || config.outputFolder.empty())
        throw InputError("aligning needs a run file and an output folder");
    Checkpoint original = Checkpoint::load(config.modelFolder, progress);
    result.originalDtype = original.config.dtype;
    // Fold the transforms in float32: bfloat16 storage would round the aligned weights.
    for (auto& [name, tensor] : original.tensors)
        if (tensor.is_floating_point()) tensor = tensor.to(torch::kFloat32);
    original.config.dtype = DType::F32;
    const std::int64_t heads = original.config.numHeads;
    if (config.groups < 1 || heads % config.groups != 0)
        throw InputError(std::to_string(config.groups) + " KV heads do not divide " +
                         std::to_string(heads) + " heads");

    const std::int64_t length =
        std::min(config.calibrationLength, original.config.maxPositionEmbeddings);
    if (length < config.calibrationLength)
        result.warnings.push_back("calibration sequences shortened to the model's " +
                                  std::to_string(length) + " positions");
    CalibrationConfig calibration;
    calibration.inputFiles = config.calibrationFiles;
    calibration.modelFolder = config.modelFolder;
    calibration.numSequences = config.calibrationSequences;
    calibration.sequenceLength = length;
    CalibrationSettings wanted;
    wanted.inputFiles = absoluteInputPaths(config.calibrationFiles);
    wanted.inputChecksum = filesChecksum(config.calibrationFiles);
    wanted.numSequences = config.calibrationSequences;
    wanted.sequenceLength = length;

    std::vector<LayerStatistics> stats;
    if (fs::exists(config.runFile) &&
        RunFile::open(config.runFile).calibrationMatches(config.modelFolder, wanted)) {
        stats = RunFile::open(config.runFile).readCalibration().layers;
        result.reusedCalibration = true;
    } else {
        const CalibrationResult calibrated =
            calibrate(LlamaModel(original, torch::kFloat32), calibration, progress);
        for (const auto& w : calibrated.warnings) result.warnings.push_back(w);
        if (!config.runFile.empty())
            fs::create_directories(fs::absolute(config.runFile).parent_path());
        RunFile run = fs::exists(config.runFile) ? RunFile::open(config.runFile)
                                                 : RunFile::create(config.runFile);
        run.writeModelIdentity(modelIdentity(config.modelFolder));
        run.writeCalibration(calibrated.settings, calibrated.layers);
        stats = calibrated.layers;
    }
    reportOrCancel(progress, {0.0, "searching groups and aligning", {}});
    AnalysisConfig analysis;
    analysis.groupCounts = {config.groups};
    const AnalysisResult analyzed = analyzeHeads(stats, analysis, progress);
    const Checkpoint aligned = alignCheckpoint(
        original, planAlignment(stats, analyzed, config.groups, false, AlignmentConfig{}));
    const std::string staged = config.outputFolder + ".tmp";
    fs::remove_all(staged);
    aligned.save(staged, 0, config.modelFolder);
    replaceFolder(staged, config.outputFolder);
    result.folder = config.outputFolder;
    return result;
}

}  // namespace gqa
