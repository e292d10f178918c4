// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The settings of one whole conversion (pipeline/conversionpipeline.h) as one typed value, read
// from and written to JSON here (the format of docs/convert.md): paths, the start (least-squares,
// aligned or mean-pool), calibration, and the training hyper-parameters of
// pipeline/trainingsettings.h. Unknown keys are refused by name. Kept apart from the pipeline so
// that the parser can be tested and fuzzed without the stages (tests/fuzz/fuzz_runconfig.cpp).
//
// Training inputs are classified once, here: ".jsonl" files are prompt/answer examples, anything
// else plain text (a mix of both is refused).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/grouping.h"
#include "pipeline/calibrationstore.h"
#include "pipeline/trainingstart.h"
#include "training/conversiontraining.h"

namespace gqa {

struct ConversionRunConfig {
    /// docs/convert.md's default: twice the studio's quick analysis, still seconds on the demo.
    static constexpr std::int64_t kDefaultCalibrationSequences = 64;
    static constexpr std::int64_t kDefaultCalibrationLength = 256;

    std::string modelFolder;  ///< the original MHA model
    std::int64_t groups = 0;  ///< G, the KV heads of the result
    /// Aligned heads moving onto the least-squares or the mean merge, or the mean-pool baseline.
    TrainingStart start = kDefaultTrainingStart;
    std::vector<std::string> calibrationFiles;
    std::int64_t calibrationSequences = kDefaultCalibrationSequences;
    std::int64_t calibrationLength = kDefaultCalibrationLength;
    /// Per-layer groupings chosen by the user (Similarity tab); empty: searched.
    std::vector<Grouping> givenGroupings;
    std::string outputFolder;                ///< the run folder
    std::vector<std::string> trainingFiles;  ///< plain text, or one .jsonl
    std::string validationFile;              ///< held-out plain text (optional)
    std::string teacherFolder;               ///< empty: the original model
    /// Hyper-parameters (trainingsettings.h), device and data-parallel settings. Its folders,
    /// groups, run file and data paths are filled in by the pipeline.
    ConversionTrainingConfig training;
    ForeignRunFile foreignRunFile = ForeignRunFile::Refuse;
};

/// Puts `files` into config.trainFiles (plain text) or config.trainJsonl (one .jsonl).
/// InputError for no files, several .jsonl files, or a mix.
void assignTrainingInputs(const std::vector<std::string>& files, ConversionTrainingConfig& config);

/// A run config from JSON (docs/convert.md); relative paths are resolved against `baseFolder`.
/// InputError naming `where` and the key for unknown keys, wrong types and missing values.
ConversionRunConfig conversionRunConfigFromJson(const nlohmann::json& json,
                                                const std::string& baseFolder,
                                                const std::string& where);

/// Every setting of `config`, resolved (absolute paths, defaults filled in): reading it back
/// gives the same run.
nlohmann::json conversionRunConfigJson(const ConversionRunConfig& config);

}  // namespace gqa
