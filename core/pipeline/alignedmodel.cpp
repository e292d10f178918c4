// SPDX-License-Identifier: GPL-3.0-or-later
#include "pipeline/alignedmodel.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "alignment/alignment.h"
#include "alignment/mergedgqa.h"
#include "base/error.h"
#include "io/checkpoint.h"
#include "training/leastsquaresstart.h"
#include "training/trainingcheckpoint.h"

namespace gqa {
namespace fs = std::filesystem;

MergeMethod startMerge(TrainingStart start) {
    return start == TrainingStart::LeastSquares ? MergeMethod::LeastSquares : MergeMethod::Mean;
}

namespace {
/// The per-layer plan of `request`, checking its groupings against the model.
std::vector<LayerAlignment> alignmentPlan(const AlignRequest& request,
                                          const std::vector<LayerStatistics>& stats,
                                          ProgressSink& progress) {
    if (stats.empty()) throw InputError("the calibration holds no layers");
    const std::int64_t heads = stats.front().values.heads;
    if (request.groups < 1 || heads % request.groups != 0)
        throw InputError(std::to_string(request.groups) + " KV heads do not divide " +
                         std::to_string(heads) + " heads");
    AlignmentConfig alignment;
    alignment.criterion = request.analysis.criterion;
    if (request.grouping == GroupingSource::Searched) {
        AnalysisResult analysis;
        if (!request.meanPool) {
            AnalysisConfig config = request.analysis;
            config.groupCounts = {request.groups};
            analysis = analyzeHeads(stats, config, progress);
        }
        return planAlignment(stats, analysis, request.groups, request.meanPool, alignment);
    }
    std::vector<Grouping> given = request.givenGroupings;
    if (request.grouping == GroupingSource::Consecutive)
        given.assign(stats.size(), consecutiveGrouping(heads, request.groups));
    if (given.size() != stats.size())
        throw InputError("the grouping names " + std::to_string(given.size()) +
                         " layers, the model has " + std::to_string(stats.size()));
    std::vector<LayerAlignment> plan;
    for (std::size_t l = 0; l < stats.size(); ++l) {
        try {
            validateGrouping(given[l], heads);
        } catch (const InputError& e) {
            throw InputError("layer " + std::to_string(l) + ": " + e.what());
        }
        if (std::int64_t(given[l].size()) != request.groups)
            throw InputError("layer " + std::to_string(l) + " has " +
                             std::to_string(given[l].size()) + " groups, not " +
                             std::to_string(request.groups));
        plan.push_back(request.meanPool ? permutationOnly(given[l], stats[l].values.headDim)
                                        : alignLayer(stats[l], given[l], alignment));
    }
    return plan;
}
}  // namespace

AlignResult writeAlignedModel(const AlignRequest& request,
                              const std::vector<LayerStatistics>& stats, ProgressSink& progress,
                              const Checkpoint* loaded) {
    if (request.outputFolder.empty()) throw InputError("aligning needs an output folder");
    reportOrCancel(progress, {0.0, "searching groups and aligning", {}, {}});
    const std::vector<LayerAlignment> plan = alignmentPlan(request, stats, progress);
    reportOrCancel(progress, {0.3, "loading the model", {}, {}});
    const Checkpoint original = loaded ? *loaded : Checkpoint::load(request.modelFolder);
    const DType stored = original.config.dtype;
    // Fold the transforms in float32 at least: bfloat16 storage would round the aligned weights,
    // and the merge would round their mean again. One rounding, at the end.
    const DType work = stored == DType::F64 ? DType::F64 : DType::F32;
    const Checkpoint aligned = alignCheckpoint(convertedTo(original, work), plan);
    const DType outputDtype = request.outputDtype.value_or(stored);
    auto leastSquaresMerge = [&] {
        if (request.fit == LeastSquaresFit::Layerwise) {
            LayerwiseFitConfig fit;
            fit.groups = request.groups;
            fit.mergedHead = request.mergedHead;
            fit.batchSize = std::max<std::int64_t>(1, request.calibration.batchSize);
            fit.dtype = work == DType::F64 ? torch::kFloat64 : torch::kFloat32;
            ScaledProgress fitting(progress, 0.3, 0.6);
            return layerwiseLeastSquaresMergeToGqa(
                aligned,
                storedCalibrationTokens(request.calibration, request.modelFolder, aligned.config,
                                        fitting),
                fit, fitting);
        }
        std::vector<LayerStatistics> alignedStats;
        for (std::size_t l = 0; l < stats.size(); ++l)
            alignedStats.push_back(alignedStatistics(stats[l], plan[l]));
        return leastSquaresMergeToGqa(aligned, alignedStats, request.groups, request.mergedHead);
    };
    // Fitted once: the GQA model, or with keepMha the training's least-squares start.
    std::optional<Checkpoint> leastSquares;
    if (request.merge == MergeMethod::LeastSquares) leastSquares = leastSquaresMerge();
    Checkpoint merged;
    if (request.keepMha)
        merged = aligned;
    else
        merged = leastSquares ? *leastSquares : mergeToGqa(aligned, request.groups);
    const Checkpoint result = convertedTo(merged, outputDtype);

    reportOrCancel(progress, {0.6, "writing the model", {}, {}});
    const std::string staged = request.outputFolder + ".tmp";
    fs::remove_all(staged);
    result.save(staged, 0, request.modelFolder);
    try {
        if (request.keepMha && leastSquares) writeLeastSquaresStart(staged, *leastSquares);
        reportOrCancel(progress, {0.8, "verifying the written model", {}, {}});
        Checkpoint::load(staged);  // the folder must reload as a valid checkpoint
    } catch (...) {
        fs::remove_all(staged);
        throw;
    }
    replaceFolder(staged, request.outputFolder);
    reportOrCancel(progress, {1.0, "writing the model", {}, {}});

    AlignResult r;
    r.folder = request.outputFolder;
    r.kvHeads = result.config.numKvHeads;
    r.outputDtype = outputDtype;
    for (const LayerAlignment& layer : plan) r.groupings.push_back(layer.groups);
    return r;
}

AlignedModelResult prepareAlignedModel(const AlignedModelConfig& config, ProgressSink& progress) {
    AlignedModelResult result;
    if (!alignsHeads(config.start)) {
        const ModelConfig model =
            ModelConfig::fromFile((fs::path(config.modelFolder) / "config.json").string());
        result.folder = config.modelFolder;
        result.originalDtype = model.dtype;
        if (config.groups >= 1 && model.numHeads % config.groups == 0)
            result.groupings.assign(std::size_t(model.numLayers),
                                    consecutiveGrouping(model.numHeads, config.groups));
        result.groupingSource = GroupingSource::Consecutive;
        return result;
    }
    if (config.runFile.empty() || config.outputFolder.empty())
        throw InputError("aligning needs a run file and an output folder");
    // Read once, for calibration and alignment both; G checked before minutes of calibration.
    const Checkpoint original = Checkpoint::load(config.modelFolder, progress);
    const ModelConfig& model = original.config;
    if (config.groups < 1 || model.numHeads % config.groups != 0)
        throw InputError(std::to_string(config.groups) + " KV heads do not divide " +
                         std::to_string(model.numHeads) + " heads");
    CalibrationRequest calibration;
    calibration.modelFolder = config.modelFolder;
    calibration.inputFiles = config.calibrationFiles;
    calibration.sequences = config.calibrationSequences;
    calibration.sequenceLength = config.calibrationLength;
    calibration.runFile = config.runFile;
    calibration.foreignRunFile = config.foreignRunFile;
    ScaledProgress calibrating(progress, 0.0, 0.7);
    const CalibrationOutcome calibrated = calibrateOrReuse(calibration, calibrating, &original);
    result.reusedCalibration = calibrated.reused;
    result.warnings = calibrated.warnings;

    AlignRequest align;
    align.modelFolder = config.modelFolder;
    align.groups = config.groups;
    if (!config.givenGroupings.empty()) {
        align.grouping = GroupingSource::Given;
        align.givenGroupings = config.givenGroupings;
    }
    align.keepMha = true;
    align.merge = startMerge(config.start);
    align.outputDtype = DType::F32;  // the training starts from the exactly folded weights
    align.outputFolder = config.outputFolder;
    ScaledProgress aligning(progress, 0.7, 1.0);
    const AlignResult aligned =
        writeAlignedModel(align, calibrated.statistics.layers, aligning, &original);
    result.folder = aligned.folder;
    result.groupings = aligned.groupings;
    result.groupingSource = align.grouping;
    result.originalDtype = model.dtype;
    return result;
}

}  // namespace gqa
