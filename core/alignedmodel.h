// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The training-free half of a conversion, as one step: calibrate (or reuse the run file's
// statistics for the same model and settings), search the grouping for G KV heads, align, and
// write the aligned MHA model that the conversion training starts from. The same steps as
// `gqa-cli calibrate` + `gqa-cli align --keep-mha`, for the studio and for whole-pipeline runs.
//
// The mean-pool baseline (spec section 8) needs none of this: it starts from the original
// folder, whose consecutive heads are its groups; prepareAlignedModel then only returns it.

#include <cstdint>
#include <string>
#include <vector>

#include "dtype.h"
#include "progress.h"

namespace gqa {

struct AlignedModelConfig {
    std::string modelFolder;
    std::int64_t groups = 0;
    bool meanPool = false;                      ///< baseline: no calibration, no alignment
    std::vector<std::string> calibrationFiles;  ///< .txt or .jsonl ("text" field)
    std::int64_t calibrationSequences = 32;
    std::int64_t calibrationLength = 256;  ///< capped at the model's max_position_embeddings
    std::string runFile;       ///< statistics are stored here and reused when they match
    std::string outputFolder;  ///< the aligned MHA model (float32)
};

struct AlignedModelResult {
    std::string folder;  ///< where training starts: outputFolder, or modelFolder for meanPool
    bool reusedCalibration = false;
    /// The original model's stored dtype: the export should use it (the aligned folder is
    /// float32 for exact folding, which would double a bfloat16 model's size).
    DType originalDtype = DType::F32;
    std::vector<std::string> warnings;
};

/// InputError for bad settings or files; Cancelled when the sink asks to stop.
AlignedModelResult prepareAlignedModel(const AlignedModelConfig& config, ProgressSink& progress);

}  // namespace gqa
