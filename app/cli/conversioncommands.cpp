// SPDX-License-Identifier: GPL-3.0-or-later
// The conversion training subcommand: gated merging of KV heads with distillation, then export.
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "arguments.h"
#include "clioptions.h"
#include "commands.h"
#include "base/metrics.h"
#include "pipeline/trainingsettings.h"
#include "training/conversiontraining.h"
#include "base/error.h"
#include "base/runtime.h"
#include "terminalprogress.h"
#include "training/leastsquaresstart.h"
#include "training/trainingcheckpoint.h"
#include "training/trainingestimate.h"
#include "trainingplan.h"
#include "workerlauncher.h"

namespace gqa::cli {
namespace {
nlohmann::json numberOrNull(double value) {
    return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

/// The run's shape for the memory and time plan (trainingestimate.h).
TrainingShape trainingShape(const ConversionTrainingConfig& c, int worldSize) {
    TrainingShape s;
    s.groups = c.groups;
    s.scope = c.scope;
    s.compute = c.compute == torch::kBFloat16 ? DType::BF16 : DType::F32;
    s.batchSize = c.batchSize;
    s.seqLen = c.seqLen;
    s.gradAccumulation = c.gradAccumulation;
    s.steps = c.steps;
    s.checkpointActivations = c.checkpointActivations;
    s.chunkPositions = c.loss.chunkPositions;
    s.bildTopK = c.loss.bildTopK;
    s.separateTeacher = !c.teacherFolder.empty() && c.teacherFolder != c.studentFolder;
    // As trainConversion resolves an unset start merge.
    s.refitsQueries = c.startMerge ? *c.startMerge == MergeMethod::LeastSquares
                                   : !c.studentFolder.empty() &&
                                         hasLeastSquaresStartFor(c.studentFolder, c.groups);
    s.worldSize = worldSize;
    s.shardOptimizer = c.shardOptimizer;
    s.cpu = c.device.is_cpu();
    return s;
}

nlohmann::json resultJson(const ConversionTrainingResult& r) {
    nlohmann::json validation = nlohmann::json::array();
    for (const auto& [step, loss] : r.validationHistory) validation.push_back({step, loss});
    nlohmann::json metrics = nlohmann::json::object();
    for (const std::string& name : r.history.metricNames) metrics[name] = r.history.column(name);
    return {{"start_step", r.startStep},
            {"resumed", r.resumed},
            {"already_complete", r.alreadyComplete},
            {"trainable_parameters", r.trainableParameters},
            {"frozen_parameters", r.frozenParameters},
            {"tokens_per_second", r.tokensPerSecond},
            {"peak_memory_mb", r.peakMemoryMb},
            {"peak_tensor_memory_mb", r.peakTensorMb},
            {"rollbacks", r.rollbacks},
            {"final_gates", r.finalGates},
            {"final_validation_loss", numberOrNull(r.finalValidationLoss)},
            {"validation_history", validation},
            {"history", metrics},
            {"checkpoint_folder", r.checkpointFolder},
            {"export_folder", r.exportFolder},
            {"start_merge", mergeMethodName(r.startMerge)},
            {"export_verified", r.exportVerified},
            {"export_max_relative_logit_diff", r.exportMaxLogitDiff},
            {"warnings", r.warnings}};
}
}  // namespace

Arguments trainArguments() {
    using C = ConversionTrainingConfig;
    const C defaults;
    std::vector<OptionSpec> options{
        {"model", "FOLDER", "MHA model whose groups are contiguous (align --keep-mha)", ""},
        {"kv-heads", "G", "KV heads of the result (a divisor of the head count)", ""},
        {"teacher", "FOLDER", "teacher model (default: --model, which computes the original)", ""},
        {"start-merge", "HOW",
         "the merge the gates move onto: least-squares (each query head's q_proj/o_proj move to "
         "their refit too; needs the least-squares start that `align --keep-mha` writes beside "
         "the model) or mean (the paper's); default: least-squares when --model holds that "
         "start for --kv-heads, else mean",
         ""},
        {"train", "FILES", "comma-separated text files or folders of .txt files", ""},
        {"train-jsonl", "FILE", "prompt/answer jsonl (instruction, input, output fields)", ""},
        {"no-activation-checkpointing", "",
         "keep every layer's activations for backward (faster, more memory)", ""},
        {"dry-run", "",
         "print the memory and time plan and exit; needs only the model's config.json", ""},
        {"model-config", "FILE", "config.json to plan for instead of --model's (--dry-run)", ""},
        {"device-tflops", "X",
         "effective TFLOP/s the device sustains, for the time in the plan (0: no time)", "0"},
        {"shard-optimizer", "",
         "ZeRO-1: divide the AdamW state across the ranks of a data-parallel run", ""},
        {"no-overlap-reduce", "",
         "all-reduce the gradients after backward instead of while it runs (data parallel)", ""},
        {"bucket-mb", "X", "gradient bucket size of the overlapped all-reduce, MiB",
         std::to_string(OverlappedReduce::kDefaultBucketBytes / (1024 * 1024))},
        {"run", "FILE", "HDF5 run file that records the training history (optional)", ""},
        {"validation", "FILE", "held-out text for the validation loss (empty for none)", ""},
        {"tokenizer", "FILE", "SentencePiece model (default: the model's tokenizer.model)", ""},
        {"no-export", "", "stop after training (no OUTPUT/model)", ""},
        deviceOption(),
        jsonOption(),
        quietOption()};
    // The training hyper-parameters: one table in core, shared with convert's JSON keys.
    for (const TrainingSetting& s : trainingSettings())
        options.push_back({s.name, s.valueName, s.help, s.text(defaults)});
    for (const OptionSpec& o : rendezvousOptions()) options.push_back(o);
    return Arguments(
        "train",
        "Converts an MHA model with grouped heads into GQA by training (docs/method.md §6): every "
        "original KV head is gated between itself and its group's merged head, the gates are "
        "driven to 0 by an L0 regulariser while the model is distilled from a frozen teacher, "
        "and the result is exported as a standard GQA checkpoint to OUTPUT/model and verified. "
        "--model is the output of `gqa-cli align --keep-mha` (or the original model for the "
        "mean-pool baseline). Checkpoints go to OUTPUT/checkpoint; Ctrl-C writes one and exits "
        "with code 3; the same command resumes. Before training it prints the memory and time "
        "plan; --dry-run prints only that (a config.json is enough, no weights). --nproc N "
        "trains data-parallel over N local processes (c10d Gloo); --rank/--world-size/"
        "--master-addr/--master-port join a run across machines.",
        {"output-folder"}, options);
}

ConversionTrainingConfig trainConfigFromArguments(const Arguments& a) {
    const bool dryRun = a.flag("dry-run");
    ConversionTrainingConfig config;
    config.outputDir = a.positional(0);
    config.studentFolder = a.text("model");
    config.groups = a.integer("kv-heads");
    config.teacherFolder = a.text("teacher");
    if (!a.text("start-merge").empty()) config.startMerge = parseMergeMethod(a.text("start-merge"));
    config.validationFile = a.text("validation");
    config.runFile = a.text("run");
    if (!a.text("train").empty())
        config.trainFiles = expandInputs(a.text("train"), config.validationFile);
    config.trainJsonl = a.text("train-jsonl");
    if (config.trainFiles.empty() && config.trainJsonl.empty() && !dryRun)
        throw InputError("train needs --train text files or --train-jsonl");
    config.tokenizerPath = a.text("tokenizer");
    for (const TrainingSetting& s : trainingSettings()) s.setText(config, a.text(s.name));
    config.checkpointActivations = !a.flag("no-activation-checkpointing");
    config.exportModel = !a.flag("no-export");
    if (!dryRun) config.device = parseDevice(a.text("device"));
    config.shardOptimizer = a.flag("shard-optimizer");
    config.overlapReduce = !a.flag("no-overlap-reduce");
    const double bucketMb = a.number("bucket-mb");
    if (!(bucketMb > 0.0)) throw InputError("--bucket-mb must be positive");
    config.reduceBucketBytes = std::int64_t(bucketMb * 1024.0 * 1024.0);
    return config;
}

int runTrain(const std::vector<std::string>& args) {
    Arguments a = trainArguments();
    if (parseOrHelp(a, args)) return kExitOk;
    const bool dryRun = a.flag("dry-run");
    if (a.text("model").empty() && !(dryRun && !a.text("model-config").empty()))
        throw InputError("train needs --model (or --dry-run with --model-config)");
    if (a.text("kv-heads").empty()) throw InputError("train needs --kv-heads");
    const int nproc = nprocFromArguments(a);
    const RendezvousSettings rendezvous = rendezvousFromArguments(a);
    if (nproc > 1 && !dryRun) {
        std::vector<std::string> argv{"train"};
        argv.insert(argv.end(), args.begin(), args.end());
        return launchLocalWorkers(nproc, argv, rendezvous);
    }

    ConversionTrainingConfig config = trainConfigFromArguments(a);
    // A dry run plans for the device named, present or not (a GPU to rent, say).
    const bool plannedOnGpu = plansCuda(a.text("device"));

    // The plan, from the config alone: before anything is allocated, and all of a dry run.
    const ModelConfig modelConfig = ModelConfig::fromFile(
        !a.text("model-config").empty()
            ? a.text("model-config")
            : (std::filesystem::path(config.studentFolder) / "config.json").string());
    const int worldSize = std::max(nproc, rendezvous.worldSize);
    TrainingShape shape = trainingShape(config, worldSize);
    if (dryRun) shape.cpu = !plannedOnGpu;
    const TrainingPlan plan = planTraining(modelConfig, shape, a.number("device-tflops") * 1e12);
    const bool quiet = a.flag("quiet");
    if (dryRun) {
        printTrainingPlan(modelConfig, shape, plan, a.flag("json"), stdout);
        return kExitOk;
    }
    if (rendezvous.worldSize > 1) {
        config.device = deviceForRank(config.device, rendezvous.rank);
        config.communicator = connectFor(rendezvous, config.device);
        if (!quiet)
            std::fprintf(stderr, "rank %d of %d: %s on %s\n", rendezvous.rank, rendezvous.worldSize,
                         config.communicator->backendName().c_str(), config.device.str().c_str());
    }
    if (!quiet && rendezvous.rank == 0) printTrainingPlan(modelConfig, shape, plan, false, stderr);

    const std::string resumeFrom =
        findTrainingCheckpoint(conversionCheckpointFolder(config.outputDir));
    if (!quiet)
        std::fprintf(
            stderr, "converting %s to %lld KV heads, gates: %s; %s\n", config.studentFolder.c_str(),
            (long long)config.groups, gateSchemeName(config.gates.scheme).c_str(),
            resumeFrom.empty() ? "starting fresh" : ("resuming from " + resumeFrom).c_str());
    TerminalProgress progress(quiet);
    const ConversionTrainingResult r = trainConversion(config, progress);
    progress.finish();
    for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (a.flag("json")) {
        std::cout << resultJson(r).dump(2) << "\n";
        return kExitOk;
    }
    const std::vector<double> loss = r.history.column(metricKey(Metric::Loss));
    if (r.alreadyComplete) {
        std::printf("the run in %s was already complete (%lld updates): nothing was trained\n",
                    config.outputDir.c_str(), (long long)r.steps);
        if (config.exportModel)
            std::printf(
                "model written to %s again (verified: max relative logit difference %.2g)\n",
                r.exportFolder.c_str(), r.exportMaxLogitDiff);
        return kExitOk;
    }
    std::printf(
        "trained %lld updates (%s %lld), %lld trainable parameters (%lld frozen), %.0f "
        "tokens/s, peak memory %.0f MB (tensors %.0f MiB)\n",
        (long long)r.steps, r.resumed ? "resumed at" : "from", (long long)r.startStep,
        (long long)r.trainableParameters, (long long)r.frozenParameters, r.tokensPerSecond,
        r.peakMemoryMb, r.peakTensorMb);
    if (!loss.empty()) std::printf("final loss %.4f\n", loss.back());
    if (std::isfinite(r.finalValidationLoss))
        std::printf("exported GQA model: validation loss %.4f (perplexity %.2f)\n",
                    r.finalValidationLoss, std::exp(r.finalValidationLoss));
    if (config.exportModel)
        std::printf("model written to %s (verified: max relative logit difference %.2g)\n",
                    r.exportFolder.c_str(), r.exportMaxLogitDiff);
    return kExitOk;
}

}  // namespace gqa::cli
