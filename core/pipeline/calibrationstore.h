// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// "Reuse the run file's calibration, or calibrate and record it": the one place every front end
// gets calibration statistics from (gqa-cli calibrate/align/convert, the Similarity tab, the
// Training tab and the wizard), with one explicit policy:
//
//   1. The run file holds statistics for this model (same config.json text and tensor checksum)
//      and these settings (input files and their checksum, number and length of sequences):
//      they are read back, nothing is computed (unless `reuse` is false).
//   2. Otherwise the model is calibrated (method §3) and the statistics replace the file's
//      calibration; a missing run file is created with its folders.
//   3. A run file that belongs to another model, or that is not a readable run file, is never
//      changed silently: with ForeignRunFile::Refuse (the default, for paths a user typed) it is
//      an InputError naming the file and what it holds; with ForeignRunFile::Replace (for a run
//      file the program names itself, like the studio's per-model cache) it is replaced and the
//      result carries a warning saying so.
//   4. A run file that cannot be written is an error: statistics that were computed are never
//      dropped without saying so.
//
// The sequence length 0 means defaultSequenceLength(config); a length beyond the model's
// max_position_embeddings is shortened to it with a warning.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "analysis/calibration.h"
#include "base/progress.h"
#include "runfile/runfile.h"

namespace gqa {

class Checkpoint;

enum class ForeignRunFile { Refuse, Replace };

struct CalibrationRequest {
    std::string modelFolder;
    std::vector<std::string> inputFiles;  ///< .txt or .jsonl ("text" field)
    std::int64_t sequences = CalibrationConfig::kReferenceSequences;
    std::int64_t sequenceLength = 0;  ///< 0: defaultSequenceLength(model config)
    std::int64_t batchSize = CalibrationConfig::kReferenceBatchSize;
    std::string runFile;
    bool reuse = true;  ///< false: calibrate even when the file holds matching statistics
    ForeignRunFile foreignRunFile = ForeignRunFile::Refuse;
    /// The model is loaded only when calibration is needed, in this dtype on this device.
    torch::ScalarType dtype = torch::kFloat32;
    torch::Device device = torch::kCPU;
};

struct CalibrationOutcome {
    StoredCalibration statistics;
    bool reused = false;
    std::string runFile;
    std::vector<std::string> warnings;
};

/// The policy above. `loaded`, when given, is request.modelFolder's checkpoint already in memory:
/// it is calibrated instead of reading the folder again. InputError for bad requests and the
/// refusals above, Cancelled when the sink asks to stop (the run file is then unchanged).
CalibrationOutcome calibrateOrReuse(const CalibrationRequest& request, ProgressSink& progress,
                                    const Checkpoint* loaded = nullptr);

/// The statistics a run file holds for this model folder, for stages that need them to exist
/// (analyze, align): InputError when there are none or they belong to another model.
StoredCalibration storedCalibrationFor(const std::string& runFile, const std::string& modelFolder);

/// The token sequences a stored calibration was made of, read again from its input files with
/// the model folder's tokenizer (the layer-wise least-squares fit, method §7.4, needs the tokens;
/// the run file keeps only statistics). InputError when the files are gone or have changed since
/// (their checksum differs), saying to calibrate again.
std::vector<std::vector<std::int64_t>> storedCalibrationTokens(const CalibrationSettings& settings,
                                                               const std::string& modelFolder,
                                                               const ModelConfig& model,
                                                               ProgressSink& progress);

}  // namespace gqa
