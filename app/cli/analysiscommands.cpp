// SPDX-License-Identifier: GPL-3.0-or-later
// Head analysis subcommands: calibrate (statistics into the run file), analyze (similarity,
// grouping, predicted merge cost per G) and align (training-free conversion).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "analysis/calibration.h"
#include "analysis/groupingfile.h"
#include "pipeline/alignedmodel.h"
#include "pipeline/calibrationstore.h"
#include "base/runtime.h"
#include "io/checkpoint.h"
#include "clioptions.h"
#include "commands.h"
#include "base/error.h"
#include "analysis/headanalysis.h"
#include "runfile/runfile.h"
#include "terminalprogress.h"
#include "text/tokenizer.h"

namespace gqa::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

OptionSpec runOption() { return {"run", "FILE", "the run file (HDF5)", "run.h5"}; }

std::vector<OptionSpec> analysisOptions() {
    return {{"group-by", "KIND", "similarity that drives grouping: value or key", "value"},
            {"criterion", "C", "dist or cos", "dist"},
            {"search", "METHOD", "strong or reference", "strong"},
            {"seed", "N", "grouping search seed", "0"},
            {"merged-head", "HOW",
             "the least-squares merge's merged key/value head: principal (the directions that "
             "carry most of the group's signal, docs/method.md §7.3) or mean (the aligned heads' "
             "mean)",
             mergedHeadName(kDefaultMergedHead)}};
}

AnalysisConfig analysisConfig(const Arguments& a) {
    AnalysisConfig c;
    const std::string kind = a.text("group-by"), criterion = a.text("criterion"),
                      search = a.text("search");
    if (kind != "value" && kind != "key") throw InputError("--group-by must be value or key");
    if (criterion != "dist" && criterion != "cos")
        throw InputError("--criterion must be dist or cos");
    if (search != "strong" && search != "reference")
        throw InputError("--search must be strong or reference");
    c.groupBy = kind == "key" ? HeadKind::Keys : HeadKind::Values;
    c.criterion = criterion == "cos" ? Criterion::Cos : Criterion::Dist;
    c.method = search == "reference" ? GroupSearchMethod::Reference : GroupSearchMethod::Strong;
    c.seed = static_cast<std::uint64_t>(a.integer("seed"));
    c.mergedHead = parseMergedHead(a.text("merged-head"));
    return c;
}

Json costJson(const MergeCost& c) {
    return {{"key_residual", c.keyResidual},
            {"value_residual", c.valueResidual},
            {"key_relative", c.keyRelative},
            {"value_relative", c.valueRelative}};
}
}  // namespace

int runCalibrate(const std::vector<std::string>& args) {
    Arguments a("calibrate",
                "Runs calibration text through the model and records, per layer, the Gram "
                "statistics of the keys (pre-RoPE) and values of every head in the run file. "
                "Statistics already recorded for the same model and settings are reused.",
                {"model-folder"},
                {{"inputs", "FILES", "comma-separated .txt or .jsonl (\"text\" field) files", ""},
                 {"sequences", "N", "number of calibration sequences", "128"},
                 {"length", "N", "tokens per sequence (0: min(2048, max positions))", "0"},
                 {"batch", "N", "sequences per forward pass", "8"},
                 runOption(),
                 deviceOption(),
                 dtypeOption(),
                 quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    const std::string folder = a.positional(0), runPath = a.text("run");
    TerminalProgress progress(a.flag("quiet"));
    CalibrationRequest request;
    request.modelFolder = folder;
    request.inputFiles = splitList(a.text("inputs"));
    if (request.inputFiles.empty()) throw InputError("--inputs names no calibration file");
    request.sequences = a.integer("sequences");
    request.sequenceLength = a.integer("length");
    request.batchSize = a.integer("batch");
    request.runFile = runPath;
    request.device = parseDevice(a.text("device"));
    request.dtype = parseComputeDtype(a.text("dtype"));
    const CalibrationOutcome result = calibrateOrReuse(request, progress);
    progress.finish();
    for (const auto& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    const CalibrationSettings& s = result.statistics.settings;
    if (result.reused) {
        std::printf("%s already holds these statistics for this model: reused\n", runPath.c_str());
        return kExitOk;
    }
    std::printf("calibrated %lld sequences x %lld tokens (%lld tokens), %zu layers -> %s\n",
                (long long)s.numSequences, (long long)s.sequenceLength,
                (long long)(s.numSequences * s.sequenceLength), result.statistics.layers.size(),
                runPath.c_str());
    return kExitOk;
}

int runAnalyze(const std::vector<std::string>& args) {
    std::vector<OptionSpec> options{
        runOption(),
        {"groups", "LIST", "KV-head counts to evaluate (default: all)", ""},
        {"csv", "FILE", "also write the per-layer table as CSV", ""},
        jsonOption(),
        quietOption()};
    for (auto& o : analysisOptions()) options.push_back(o);
    Arguments a("analyze",
                "Head similarity before and after alignment, the best grouping for each number of "
                "KV heads, and the predicted merge cost with alignment and without (mean-pool "
                "baseline), from the statistics in the run file.",
                {"model-folder"}, options);
    if (parseOrHelp(a, args)) return kExitOk;
    const StoredCalibration stats = storedCalibrationFor(a.text("run"), a.positional(0));
    AnalysisConfig config = analysisConfig(a);
    config.groupCounts = splitIntegers(a.text("groups"), "groups");
    TerminalProgress progress(a.flag("quiet"));
    const AnalysisResult r = analyzeHeads(stats.layers, config, progress);
    progress.finish();

    Json layers = Json::array();
    std::ofstream csv;
    if (a.has("csv")) {
        csv.open(a.text("csv"));
        if (!csv) throw InputError(a.text("csv") + ": cannot write");
        // objective is the sum of in-group similarities under `criterion` (dist: negative mean
        // squared distances; cos: mean cosines); costs are fractions of the signal lost.
        csv << "layer,kv_heads,criterion,objective,consecutive_objective,exact,value_cost_aligned,"
               "value_cost_least_squares,value_cost_meanpool,key_cost_aligned,"
               "key_cost_least_squares,key_cost_meanpool,groups\n";
    }
    // Under dist the similarities are negative mean squared distances (squared activation units
    // per token: 0 is identical, more negative is further apart); under cos, mean cosines.
    const bool dist = config.criterion == Criterion::Dist;
    const char* measure = dist ? "negative mean squared distance between head outputs per token"
                               : "mean cosine similarity of head outputs";
    const char* shortName = dist ? "-msd" : "cos";
    if (!a.flag("json"))
        std::printf(
            "layer  value %s before/after  key %s before/after   G  objective  "
            "value cost aligned/LS/mean-pool  key cost aligned/LS/mean-pool\n",
            shortName, shortName);
    for (std::size_t l = 0; l < r.layers.size(); ++l) {
        const LayerAnalysis& layer = r.layers[l];
        Json choices = Json::array();
        for (const GroupingChoice& c : layer.choices) {
            choices.push_back({{"kv_heads", c.groups},
                               {"groups", c.grouping},
                               {"objective", c.objective},
                               {"consecutive_objective", c.consecutiveObjective},
                               {"exact", c.exact},
                               {"aligned_cost", costJson(c.alignedCost)},
                               {"least_squares_cost", costJson(c.leastSquaresCost)},
                               {"meanpool_cost", costJson(c.baselineCost)}});
            if (csv.is_open()) {
                std::string groups;
                for (const auto& g : c.grouping) {
                    groups += "[";
                    for (std::size_t i = 0; i < g.size(); ++i)
                        groups += (i ? " " : "") + std::to_string(g[i]);
                    groups += "]";
                }
                csv << l << ',' << c.groups << ',' << criterionName(config.criterion) << ','
                    << c.objective << ',' << c.consecutiveObjective << ',' << c.exact << ','
                    << c.alignedCost.valueRelative << ',' << c.leastSquaresCost.valueRelative << ','
                    << c.baselineCost.valueRelative << ',' << c.alignedCost.keyRelative << ','
                    << c.leastSquaresCost.keyRelative << ',' << c.baselineCost.keyRelative << ','
                    << groups << '\n';
            }
            if (!a.flag("json"))
                std::printf(
                    "%5zu  %9.4f %9.4f      %9.4f %9.4f  %3lld  %9.4f  %9.4f %8.4f %9.4f  "
                    "%9.4f %8.4f %9.4f\n",
                    l, meanOffDiagonal(layer.values.before), meanOffDiagonal(layer.values.after),
                    meanOffDiagonal(layer.keys.before), meanOffDiagonal(layer.keys.after),
                    (long long)c.groups, c.objective, c.alignedCost.valueRelative,
                    c.leastSquaresCost.valueRelative, c.baselineCost.valueRelative,
                    c.alignedCost.keyRelative, c.leastSquaresCost.keyRelative,
                    c.baselineCost.keyRelative);
        }
        layers.push_back(
            {{"layer", l},
             {"value_similarity_mean",
              {meanOffDiagonal(layer.values.before), meanOffDiagonal(layer.values.after)}},
             {"key_similarity_mean",
              {meanOffDiagonal(layer.keys.before), meanOffDiagonal(layer.keys.after)}},
             {"choices", choices}});
    }
    if (a.flag("json")) {
        std::cout << Json{{"criterion", criterionName(config.criterion)},
                          {"similarity_measure", measure},
                          {"cost_unit", "fraction of the heads' signal (0 = free, 1 = all lost)"},
                          {"group_by", headKindName(config.groupBy)},
                          {"layers", layers}}
                         .dump(2)
                  << "\n";
    } else {
        std::printf(
            "similarities (%s): %s; objective: their sum within groups; costs are relative "
            "residuals of the merge (0 = free, 1 = all signal lost); grouping by %s similarity "
            "after alignment\n",
            shortName, measure, headKindName(config.groupBy));
    }
    return kExitOk;
}

int runAlign(const std::vector<std::string>& args) {
    std::vector<OptionSpec> options{
        runOption(),
        {"groups", "G", "number of KV heads of the result", ""},
        {"out", "DIR", "output model folder", ""},
        {"keep-mha", "",
         "write the aligned MHA model (no merge); with the least-squares merge, its fit is "
         "written beside it as the conversion training's start (least-squares-start.safetensors)",
         ""},
        {"merge", "HOW",
         "least-squares (one merged key/value head per group, see --merged-head, and each query "
         "head's q_proj/o_proj refitted to it: docs/method.md §7.2; measured better at every G, "
         "docs/benchmarks.md) or mean (the paper's merge); default: least-squares, mean with "
         "--mean-pool",
         ""},
        {"fit", "HOW",
         "what the least-squares merge is fitted on: statistics (the run file's calibration "
         "statistics of the original model) or layerwise (layer by layer on the merged model's "
         "own inputs, reading the calibration text again: docs/method.md §7.4)",
         ""},
        {"mean-pool", "", "baseline: consecutive heads, no alignment", ""},
        {"grouping", "HOW",
         "searched, consecutive, or a JSON file of "
         "per-layer groups (original head indices)",
         "searched"},
        quietOption()};
    for (auto& o : analysisOptions()) options.push_back(o);
    Arguments a("align",
                "Training-free conversion: permutes and aligns the heads of every layer (the model "
                "computes the same function) and, unless --keep-mha, replaces each group's keys "
                "and values by one merged head, writing a standard GQA checkpoint.",
                {"model-folder"}, options);
    if (parseOrHelp(a, args)) return kExitOk;
    if (!a.has("groups") || !a.has("out")) throw InputError("align needs --groups and --out");
    const std::string folder = a.positional(0), out = a.text("out");
    const std::int64_t groups = a.integer("groups");
    const StoredCalibration stats = storedCalibrationFor(a.text("run"), folder);
    AlignRequest request;
    request.modelFolder = folder;
    request.groups = groups;
    request.meanPool = a.flag("mean-pool");
    request.analysis = analysisConfig(a);
    const std::string how = a.text("grouping");
    if (how == "consecutive" || (request.meanPool && how == "searched")) {
        request.grouping = GroupingSource::Consecutive;
    } else if (how != "searched") {
        request.grouping = GroupingSource::Given;
        const std::int64_t heads = stats.layers.at(0).values.heads;
        request.givenGroupings = groupingsFromFile(how, stats.layers.size(), heads, groups);
    }
    request.keepMha = a.flag("keep-mha");
    // The least-squares merge won at G = 4, 2 and 1 on held-out perplexity (docs/benchmarks.md);
    // the mean-pool baseline keeps its own, the mean.
    request.merge = a.text("merge").empty()
                        ? (request.meanPool ? MergeMethod::Mean : MergeMethod::LeastSquares)
                        : parseMergeMethod(a.text("merge"));
    request.mergedHead = request.analysis.mergedHead;
    if (a.has("merged-head") && request.merge != MergeMethod::LeastSquares)
        throw InputError("--merged-head applies to the least-squares merge only");
    if (a.has("fit")) {
        if (request.merge != MergeMethod::LeastSquares)
            throw InputError("--fit applies to the least-squares merge only");
        request.fit = parseLeastSquaresFit(a.text("fit"));
    }
    request.calibration = stats.settings;
    request.outputFolder = out;
    TerminalProgress progress(a.flag("quiet"));
    const AlignResult result = writeAlignedModel(request, stats.layers, progress);
    progress.finish();
    const std::string merge = mergeMethodName(request.merge);
    const std::string kind =
        std::string(request.meanPool ? "mean-pool baseline" : "aligned") +
        (request.keepMha ? (request.merge == MergeMethod::LeastSquares
                                ? ", with the least-squares start for training"
                                : "")
                         : ", " + merge + " merge") +
        (request.merge == MergeMethod::LeastSquares
             ? std::string(", fitted on ") + (request.fit == LeastSquaresFit::Layerwise
                                                  ? "the merged model's inputs, layer by layer"
                                                  : "the calibration statistics")
             : "");
    std::printf("wrote %s: %s with %lld KV heads (%s, %s)\n", out.c_str(),
                request.keepMha ? "aligned MHA" : "GQA", (long long)result.kvHeads, kind.c_str(),
                torchDtypeName(result.outputDtype).c_str());
    return kExitOk;
}

}  // namespace gqa::cli
