// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The training-free conversion (method §4.4, §5, §8), as the one code path behind `gqa-cli
// align`, the start of `gqa-cli convert`, the Training tab and the wizard:
//
//   writeAlignedModel: from calibration statistics, choose each layer's grouping (searched,
//     consecutive, or given), permute and align the heads (the model computes the same
//     function), optionally merge each group (mean or least squares, method §7) into a standard
//     GQA checkpoint, and write
//     the folder. The weights are widened to float32 (float64 stays) before any transform and
//     rounded once to the output dtype; the folder is written beside the target and swapped in
//     only when complete and reloaded, so an interrupted or failed write leaves the previous
//     folder as it was.
//   prepareAlignedModel: calibrateOrReuse (calibrationstore.h) + writeAlignedModel(keep MHA,
//     float32): the aligned MHA model the conversion training starts from, with the
//     least-squares start beside it (leastsquaresstart.h) when the training starts from that
//     merge. The mean-pool baseline (method §8) needs neither: it starts from the original
//     folder, whose consecutive heads are its groups.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alignment/layerwisemerge.h"
#include "alignment/leastsquaresmerge.h"
#include "analysis/grouping.h"
#include "analysis/headanalysis.h"
#include "base/dtype.h"
#include "base/progress.h"
#include "pipeline/calibrationstore.h"
#include "pipeline/trainingstart.h"

namespace gqa {

/// The merge the gates move onto.
MergeMethod startMerge(TrainingStart start);

struct AlignRequest {
    std::string modelFolder;
    std::int64_t groups = 0;  ///< G, KV heads of the result
    bool meanPool = false;    ///< the baseline: the grouping's heads, no alignment transforms
    GroupingSource grouping = GroupingSource::Searched;
    std::vector<Grouping> givenGroupings;  ///< per layer, for GroupingSource::Given
    AnalysisConfig analysis;               ///< search settings (groupCounts is set to {groups})
    bool keepMha = false;                  ///< write the aligned MHA model (no merge)
    /// How the groups are merged (method §7, §7.2); the least-squares merge also refits each
    /// query head's q_proj/o_proj from the statistics. With keepMha, LeastSquares writes that
    /// merge as the training's least-squares start beside the MHA model (leastsquaresstart.h).
    MergeMethod merge = MergeMethod::Mean;
    /// The least-squares merge's merged key/value heads (method §7.3).
    MergedHead mergedHead = kDefaultMergedHead;
    /// What the least-squares merge is fitted on (method §7.4). Layerwise reads the calibration
    /// text again (`calibration` names it) with the model folder's tokenizer.
    LeastSquaresFit fit = LeastSquaresFit::Statistics;
    CalibrationSettings calibration;   ///< the statistics' settings (StoredCalibration::settings)
    std::optional<DType> outputDtype;  ///< default: the original's stored dtype
    std::string outputFolder;
};

struct AlignResult {
    std::string folder;
    std::int64_t kvHeads = 0;
    DType outputDtype = DType::F32;
    std::vector<Grouping> groupings;  ///< per layer, original head indices
};

/// InputError for bad requests (G not dividing the heads, groupings of the wrong shape), Cancelled
/// when the sink asks to stop (the output folder is then unchanged). `loaded`, when given, is
/// request.modelFolder's checkpoint already in memory (not read again).
AlignResult writeAlignedModel(const AlignRequest& request,
                              const std::vector<LayerStatistics>& stats, ProgressSink& progress,
                              const Checkpoint* loaded = nullptr);

struct AlignedModelConfig {
    std::string modelFolder;
    std::int64_t groups = 0;
    /// MeanPool: the baseline, no calibration, no alignment.
    TrainingStart start = TrainingStart::AlignedMean;
    std::vector<std::string> calibrationFiles;  ///< .txt or .jsonl ("text" field)
    std::int64_t calibrationSequences = 32;
    std::int64_t calibrationLength = 256;  ///< capped at the model's max_position_embeddings
    std::string runFile;       ///< statistics are stored here and reused when they match
    std::string outputFolder;  ///< the aligned MHA model (float32)
    /// Per-layer groupings chosen by the user (e.g. edited in the Similarity tab); empty: search.
    std::vector<Grouping> givenGroupings;
    ForeignRunFile foreignRunFile = ForeignRunFile::Refuse;
};

struct AlignedModelResult {
    std::string folder;  ///< where training starts: outputFolder, or modelFolder for meanPool
    bool reusedCalibration = false;
    /// The original model's stored dtype: the export should use it (the aligned folder is
    /// float32 for exact folding, which would double a bfloat16 model's size).
    DType originalDtype = DType::F32;
    std::vector<Grouping> groupings;  ///< per layer (consecutive for the mean-pool baseline)
    GroupingSource groupingSource = GroupingSource::Searched;
    std::vector<std::string> warnings;
};

/// InputError for bad settings or files; Cancelled when the sink asks to stop.
AlignedModelResult prepareAlignedModel(const AlignedModelConfig& config, ProgressSink& progress);

}  // namespace gqa
