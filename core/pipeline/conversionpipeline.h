// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The whole conversion as one entry point, the same for every front end (`gqa-cli convert`, the
// studio's Training tab and conversion wizard): prepare (calibrate or reuse, group, align:
// alignedmodel.h) -> train the gates with distillation (conversiontraining.h) -> export and
// verify the GQA model, all inside one run folder (runfile/runfolder.h).
//
// Its settings are one typed value, ConversionRunConfig (pipeline/conversionrunconfig.h).

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/alignedmodel.h"
#include "pipeline/conversionrunconfig.h"
#include "runfile/runfolder.h"
#include "training/conversiontraining.h"

namespace gqa {

struct ConversionRunResult {
    std::string outputFolder;
    std::string runFile;
    AlignedModelResult prepared;
    ConversionTrainingResult trained;
    std::vector<std::string> warnings;  ///< of every stage
};

/// The training config the pipeline runs: `config.training` with the run's folders, groups, data,
/// teacher and run file filled in. Exposed for front ends that show the plan before starting.
ConversionTrainingConfig pipelineTrainingConfig(const ConversionRunConfig& config,
                                                const std::string& studentFolder);

/// InputError for bad settings or files, Cancelled after checkpointing when the sink asks to stop
/// (the same call with the same config resumes).
ConversionRunResult runConversionPipeline(const ConversionRunConfig& config,
                                          ProgressSink& progress);

}  // namespace gqa
