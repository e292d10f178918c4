// SPDX-License-Identifier: GPL-3.0-or-later
#include "pipeline/conversionpipeline.h"

#include <filesystem>

#include "base/error.h"

namespace gqa {
namespace fs = std::filesystem;

ConversionTrainingConfig pipelineTrainingConfig(const ConversionRunConfig& config,
                                                const std::string& studentFolder) {
    const RunFolder folder(config.outputFolder);
    ConversionTrainingConfig c = config.training;
    assignTrainingInputs(config.trainingFiles, c);
    c.studentFolder = studentFolder;
    c.teacherFolder = config.teacherFolder.empty() ? config.modelFolder : config.teacherFolder;
    c.validationFile = config.validationFile;
    c.groups = config.groups;
    c.startMerge = startMerge(config.start);
    c.outputDir = folder.root();
    c.runFile = folder.runFile();
    return c;
}

ConversionRunResult runConversionPipeline(const ConversionRunConfig& config,
                                          ProgressSink& progress) {
    if (config.modelFolder.empty() || config.outputFolder.empty() || config.groups < 1)
        throw InputError("a conversion needs a model folder, an output folder and G >= 1");
    if (alignsHeads(config.start) && config.calibrationFiles.empty())
        throw InputError("the aligned start needs calibration text");
    // Refuse bad training inputs before minutes of calibration.
    ConversionTrainingConfig check;
    assignTrainingInputs(config.trainingFiles, check);
    const RunFolder folder(config.outputFolder);
    fs::create_directories(folder.root());

    ConversionRunResult result;
    result.outputFolder = folder.root();
    result.runFile = folder.runFile();
    AlignedModelConfig prepare;
    prepare.modelFolder = config.modelFolder;
    prepare.groups = config.groups;
    prepare.start = config.start;
    prepare.calibrationFiles = config.calibrationFiles;
    prepare.calibrationSequences = config.calibrationSequences;
    prepare.calibrationLength = config.calibrationLength;
    prepare.givenGroupings = config.givenGroupings;
    prepare.runFile = folder.runFile();
    prepare.outputFolder = folder.alignedModel();
    prepare.foreignRunFile = config.foreignRunFile;
    result.prepared = prepareAlignedModel(prepare, progress);

    ConversionTrainingConfig training = pipelineTrainingConfig(config, result.prepared.folder);
    if (!training.exportDtype) training.exportDtype = result.prepared.originalDtype;
    training.groupings = result.prepared.groupings;
    training.groupingSource = result.prepared.groupingSource;
    result.trained = trainConversion(training, progress);
    result.warnings = result.prepared.warnings;
    for (const auto& w : result.trained.warnings) result.warnings.push_back(w);
    return result;
}

}  // namespace gqa
