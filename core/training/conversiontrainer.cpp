// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "training/conversiontraining.h"
#include "base/threadpolicy.h"
#include "training/distilldata.h"
#include "base/error.h"
#include "base/metrics.h"
#include "training/conversionsession.h"
#include "distributed/dataparallel.h"
#include "training/gatedkvmodel.h"
#include "training/gqaexport.h"
#include "training/leastsquaresstart.h"
#include "base/memorytracker.h"
#include "base/processmemory.h"
#include "text/tokendataset.h"
#include "text/tokenizer.h"
#include "training/trainingcheckpoint.h"
#include "runfile/runfolder.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {

void validateSettings(const ConversionTrainingConfig& c) {
    auto require = [](bool ok, const std::string& message) {
        if (!ok) throw InputError(message);
    };
    require(!c.studentFolder.empty(), "the conversion training needs a model folder");
    require(!c.outputDir.empty(), "the conversion training needs an output folder");
    require(c.groups >= 1, "the number of KV heads must be >= 1");
    require(c.steps >= 1 && c.batchSize >= 1 && c.seqLen >= 2 && c.gradAccumulation >= 1,
            "steps, batch size and accumulation must be >= 1, sequence length >= 2");
    require(c.learningRate >= 0.0 && c.mergedLrScale >= 0.0 && c.gateLearningRate >= 0.0 &&
                c.multiplierLearningRate >= 0.0,
            "learning rates must be >= 0");
    require((c.warmupSteps >= 0 || c.warmupSteps == ConversionTrainingConfig::kAutoWarmup) &&
                c.weightDecay >= 0.0 && c.gradClip >= 0.0,
            "warmup, weight decay and clipping must be >= 0");
    require(c.beta1 >= 0.0 && c.beta1 < 1.0 && c.beta2 >= 0.0 && c.beta2 < 1.0,
            "AdamW betas must be in [0, 1)");
    require(c.compute == torch::kFloat32 || c.compute == torch::kBFloat16 ||
                c.compute == torch::kFloat64,
            "the conversion training computes in float32, bfloat16 or float64");
    require(c.checkpointEvery >= 0 && c.evalEvery >= 0 && c.evalBatches >= 0,
            "eval and checkpoint intervals must be >= 0");
    const int sources =
        int(!c.trainFiles.empty()) + int(!c.trainJsonl.empty()) + int(!c.trainTokens.empty());
    require(sources == 1, "give exactly one kind of training data (text files or jsonl)");
}

double crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets) {
    return torch::nn::functional::cross_entropy(
               logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32),
               targets.reshape({-1}).to(logits.device()),
               torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100))
        .item<double>();
}

DistillData loadTrainingData(const ConversionTrainingConfig& c, const std::string& tokenizerPath,
                             ProgressSink& progress) {
    if (!c.trainTokens.empty())
        return DistillData::fromTokens(TokenDataset(c.trainTokens), c.seqLen);
    if (!c.trainJsonl.empty())
        return DistillData::fromJsonl(c.trainJsonl, Tokenizer::load(tokenizerPath), c.seqLen,
                                      progress);
    return DistillData::fromTokens(
        TokenDataset::fromTextFiles(c.trainFiles, tokenizerPath,
                                    RunFolder(c.outputDir).trainTokens(), progress),
        c.seqLen);
}

std::vector<DistillBatch> loadValidation(const ConversionTrainingConfig& c,
                                         const std::string& tokenizerPath, ProgressSink& progress) {
    TokenDataset tokens;
    if (!c.validationTokens.empty())
        tokens = TokenDataset(c.validationTokens);
    else if (!c.validationFile.empty())
        tokens = TokenDataset::fromTextFiles({c.validationFile}, tokenizerPath,
                                             RunFolder(c.outputDir).validationTokens(), progress);
    if (tokens.size() < c.seqLen + 1) return {};
    return DistillData::fromTokens(std::move(tokens), c.seqLen)
        .fixedBatches(c.batchSize, c.evalBatches > 0 ? c.evalBatches : 1);
}

/// Token-weighted mean cross-entropy of `logitsOf(inputs)` over the batches, without grad.
template <class LogitsOf>
double heldOutLoss(const std::vector<DistillBatch>& batches, LogitsOf logitsOf) {
    torch::NoGradGuard noGrad;
    double sum = 0.0;
    std::int64_t tokens = 0;
    for (const DistillBatch& b : batches) {
        const std::int64_t n = b.tokens();
        sum += crossEntropy(logitsOf(b.inputs), b.targets) * double(n);
        tokens += n;
    }
    return tokens ? sum / double(tokens) : std::numeric_limits<double>::quiet_NaN();
}

constexpr double kMiB = 1024.0 * 1024.0;

/// The "settings" a training checkpoint was written with (trainer_state.json), without loading
/// its weights.
nlohmann::json savedSettings(const std::string& folder) {
    std::ifstream in(fs::path(folder) / "trainer_state.json");
    const nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
    if (state.is_discarded()) throw InputError(folder + "/trainer_state.json is not valid JSON");
    return state.value("extra", nlohmann::json::object())
        .value("settings", nlohmann::json::object());
}

/// What the micro-batches of one update measured, over the global batch.
struct UpdateSums {
    double loss = 0.0, kl = 0.0, bild = 0.0, lm = 0.0;
    std::int64_t tokens = 0;            ///< all ranks
    int buckets = 0, bucketsEarly = 0;  ///< of the overlapped all-reduce
};

/// Forward, distillation and backward of every micro-batch of update `step`; with several
/// ranks, each takes its shard of the global batch, the sums are all-reduced and the gradients
/// summed (onto every rank, or onto their owners with ZeRO-1), so that the combined batch's
/// gradient is where the optimiser needs it (dataparallel.h).
UpdateSums accumulateGradients(ConversionSession& session, const DistillData& data,
                               const ConversionTrainingConfig& config, std::int64_t step) {
    Communicator* comm = config.communicator.get();
    const int rank = comm ? comm->rank() : 0, world = comm ? comm->worldSize() : 1;
    UpdateSums sums;
    std::unique_ptr<OverlappedReduce> overlapped;
    for (std::int64_t micro = 0; micro < config.gradAccumulation; ++micro) {
        const torch::Tensor z = session.gates().sample(step, true, session.generator());
        const DistillBatch global = data.sample(config.batchSize * world, session.generator());
        const DistillBatch batch = world > 1 ? rankShard(global, rank, world) : global;
        const ShardShares shares = world > 1 ? shardShares(global, batch) : ShardShares{};
        const torch::Tensor hidden = session.student().hiddenStates(batch.inputs, z, config.compute,
                                                                    config.checkpointActivations);
        torch::Tensor teacherHidden;
        {
            torch::NoGradGuard noGrad;
            teacherHidden = session.teacher().hiddenStates(batch.inputs);
        }
        // headInput/headMatrix fold an LM-head bias (Phi) into the chunked vocabulary product.
        const DecoderModel& studentModel = session.student().model;
        const DistillationLoss loss = distillationLoss(
            studentModel.headInput(hidden), studentModel.headMatrix().to(config.compute),
            session.teacher().headInput(teacherHidden), session.teacher().headMatrix(), batch,
            shardLossSettings(config.loss, shares));
        if (micro + 1 == config.gradAccumulation && session.overlapsReduce())
            overlapped = session.startOverlappedReduce();
        (loss.total / double(config.gradAccumulation)).backward();
        sums.loss += loss.total.item<double>();
        sums.kl += loss.kl.item<double>() * shares.kl;
        sums.bild += loss.bild.item<double>() * shares.bild;
        sums.lm += loss.lm.item<double>() * shares.lm;
        sums.tokens += global.tokens();
    }
    if (comm) {
        if (overlapped) {
            session.finishOverlappedReduce(*overlapped);
            sums.buckets = overlapped->bucketCount();
            sums.bucketsEarly = overlapped->bucketsStartedEarly();
        } else
            session.reduceGradients();
        std::vector<torch::Tensor> values{
            torch::tensor({sums.loss, sums.kl, sums.bild, sums.lm}, torch::kFloat64)};
        comm->allReduceSum(values);
        const torch::Tensor v = values[0];
        sums.loss = v[0].item<double>();
        sums.kl = v[1].item<double>();
        sums.bild = v[2].item<double>();
        sums.lm = v[3].item<double>();
    }
    return sums;
}

/// Whether any rank asked to stop (every rank must call it at the same update).
bool anyRankStops(const ConversionTrainingConfig& config, bool stop) {
    if (!config.communicator) return stop;
    std::vector<torch::Tensor> flag{torch::tensor({stop ? 1.0 : 0.0}, torch::kFloat64)};
    config.communicator->allReduceSum(flag);
    return flag[0].item<double>() > 0.0;
}

std::vector<double> flatGates(const torch::Tensor& values) {
    const torch::Tensor flat = values.to(torch::kCPU, torch::kFloat64).contiguous().view(-1);
    return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}
}  // namespace

std::string conversionCheckpointFolder(const std::string& outputDir) {
    return RunFolder(outputDir).checkpoint();
}
std::string conversionExportFolder(const std::string& outputDir) {
    return RunFolder(outputDir).exportedModel();
}

std::int64_t defaultConversionWarmupSteps(std::int64_t steps) {
    return std::min(ConversionTrainingConfig::kReferenceWarmupSteps,
                    std::max<std::int64_t>(1, steps / 10));
}

std::int64_t resolvedWarmupSteps(const ConversionTrainingConfig& config) {
    return config.warmupSteps == ConversionTrainingConfig::kAutoWarmup
               ? defaultConversionWarmupSteps(config.steps)
               : config.warmupSteps;
}

ConversionTrainingResult trainConversion(const ConversionTrainingConfig& requested,
                                         ProgressSink& progress) {
    validateSettings(requested);
    ConversionTrainingConfig config = requested;
    config.warmupSteps = resolvedWarmupSteps(requested);
    fs::create_directories(config.outputDir);
    Communicator* comm = config.communicator.get();
    ConversionTrainingResult result;
    result.checkpointFolder = conversionCheckpointFolder(config.outputDir);
    result.exportFolder = conversionExportFolder(config.outputDir);

    TensorMemory::install();  // the measured peak of tensor memory (trainingestimate.h's check)
    TensorMemory::resetPeak(config.device);
    reportOrCancel(progress, {0.0, stageText(Stage::LoadingModels), {}, {}});
    Checkpoint studentCheckpoint = Checkpoint::load(config.studentFolder);
    useThreadsForModel(studentCheckpoint.config.hiddenSize);
    if (!config.startMerge)
        config.startMerge = hasLeastSquaresStartFor(config.studentFolder, config.groups)
                                ? MergeMethod::LeastSquares
                                : MergeMethod::Mean;
    result.startMerge = *config.startMerge;
    const std::string tokenizerPath =
        !config.tokenizerPath.empty()
            ? config.tokenizerPath
            : (fs::path(config.studentFolder) / "tokenizer.model").string();
    const std::string teacherFolder =
        config.teacherFolder.empty() ? config.studentFolder : config.teacherFolder;
    const Checkpoint teacherCheckpoint =
        teacherFolder == config.studentFolder ? studentCheckpoint : Checkpoint::load(teacherFolder);
    // After the teacher's copy: the start's tensors belong to the student only.
    if (result.startMerge == MergeMethod::LeastSquares)
        addLeastSquaresStart(config.studentFolder, config.groups, studentCheckpoint);
    if (teacherCheckpoint.config.vocabSize != studentCheckpoint.config.vocabSize)
        throw InputError("the teacher's vocabulary (" +
                         std::to_string(teacherCheckpoint.config.vocabSize) +
                         ") differs from the model's (" +
                         std::to_string(studentCheckpoint.config.vocabSize) + ")");
    const DType exportDtype = config.exportDtype.value_or(studentCheckpoint.config.dtype);

    // Rank 0 tokenizes first and writes the token caches; the others then read them.
    if (comm && comm->rank() != 0) comm->barrier();
    const DistillData data = loadTrainingData(config, tokenizerPath, progress);
    const std::vector<DistillBatch> validation = loadValidation(config, tokenizerPath, progress);
    if (comm && comm->rank() == 0) comm->barrier();
    for (const std::string& w : data.warnings()) result.warnings.push_back(w);
    if (data.maxId() >= studentCheckpoint.config.vocabSize)
        throw InputError("token id " + std::to_string(data.maxId()) +
                         " is outside the model's vocabulary");

    ConversionSession session(config, result);
    const std::string resumeFrom = findTrainingCheckpoint(result.checkpointFolder);
    if (comm) comm->barrier();  // every rank has looked before rank 0 writes the first one
    if (!resumeFrom.empty()) {
        // Checked before anything is loaded: another shape of run cannot resume this one.
        const nlohmann::json saved = savedSettings(resumeFrom);
        const nlohmann::json now = conversionSettingsJson(config);
        for (const char* key :
             {"groups", "start_merge", "steps", "scope", "world_size", "shard_optimizer"})
            if (saved.value(key, now[key]) != now[key])
                throw InputError(resumeFrom + " holds a run whose " + std::string(key) + " is " +
                                 saved[key].dump() + ", not " + now[key].dump() +
                                 " as asked; choose another output folder, remove it to start "
                                 "over, or resume with the same settings");
        session.restore(resumeFrom, teacherCheckpoint);
        const std::string changed = settingsDifferences(saved, now);
        if (!changed.empty())
            result.warnings.push_back("training settings differ from the checkpoint's (" + changed +
                                      "); the run continues with the new ones");
        result.resumed = true;
        result.startStep = session.state().step;
        result.alreadyComplete = result.startStep >= config.steps;
        result.rollbacks = session.state().extra.value("rollbacks", 0);
    } else {
        session.build(studentCheckpoint, teacherCheckpoint);
        session.state().seed = config.seed;
        session.history().layers = studentCheckpoint.config.numLayers;
        session.history().heads = studentCheckpoint.config.numHeads;
        session.save();  // the rollback target of the NaN guard
    }
    result.trainableParameters = session.trainableCount();
    result.frozenParameters = session.frozenCount();
    reportOrCancel(
        progress,
        {double(session.state().step) / double(config.steps),
         "training " + std::to_string(result.trainableParameters) + " parameters (" +
             trainScopeName(config.scope) + " scope), " + std::to_string(result.frozenParameters) +
             " frozen, towards the " + mergeMethodName(result.startMerge) + " merge",
         {{"trainable_parameters", double(result.trainableParameters)},
          {"frozen_parameters", double(result.frozenParameters)}},
         {}});

    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    std::int64_t tokensSeen = 0;
    bool poisoned = false;
    TrainerState& state = session.state();
    while (state.step < config.steps) {
        const std::int64_t step = state.step + 1;
        const double factor = session.applyLearningRates(step);
        session.gates().beforeOptimizerStep(step, session.lastSparsity());
        session.zeroGradients();
        const UpdateSums sums = accumulateGradients(session, data, config, step);
        tokensSeen += sums.tokens;
        result.reduceBuckets = sums.buckets;
        result.reduceBucketsStartedEarly = sums.bucketsEarly;
        // After the all-reduce: the regulariser's gradient is the same on every rank.
        const torch::Tensor regularizer = session.gates().regularizer(step);
        if (regularizer.requires_grad()) regularizer.backward();
        // s_prev of the next update is what this update's regulariser measured (method §6.4).
        const double sparsity = session.gates().expectedSparsity().item<double>();
        const double n = double(config.gradAccumulation);
        double loss = sums.loss / n + regularizer.item<double>();
        if (step == config.poisonStepForTests && !poisoned) {
            poisoned = true;
            loss = std::numeric_limits<double>::quiet_NaN();
        }
        const double gradNorm = session.clipGradients(
            config.gradClip > 0.0 ? config.gradClip : std::numeric_limits<double>::infinity());
        if (!std::isfinite(loss) || !std::isfinite(gradNorm)) {
            if (result.rollbacks >= config.maxRollbacks)
                throw Error("training diverged at update " + std::to_string(step) + " after " +
                            std::to_string(result.rollbacks) +
                            " roll-backs; lower the learning rate");
            ++result.rollbacks;
            const std::string from = findTrainingCheckpoint(result.checkpointFolder);
            session.restore(from, teacherCheckpoint);
            session.lrScale() *= ConversionTrainingConfig::kRollbackLrFactor;
            result.warnings.push_back("update " + std::to_string(step) +
                                      ": non-finite loss; rolled back to update " +
                                      std::to_string(state.step) + ", learning rates x" +
                                      std::to_string(session.lrScale()));
            reportOrCancel(progress,
                           {double(state.step) / double(config.steps),
                            "non-finite loss: rolled back to update " + std::to_string(state.step),
                            {{"rollbacks", double(result.rollbacks)}},
                            {}});
            continue;
        }
        session.optimizer().step();
        session.shareUpdatedParameters();
        session.gates().afterOptimizerStep(step);
        ++state.step;
        session.lastSparsity() = sparsity;
        state.lossHistory.push_back(loss);

        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        result.tokensPerSecond = double(tokensSeen) / std::max(elapsed, 1e-9);
        result.peakMemoryMb = peakResidentMemoryMb();
        result.peakTensorMb = double(TensorMemory::peakBytes(config.device)) / kMiB;
        const bool pruned = step > session.gates().pruneSteps();
        const std::int64_t L = session.history().layers, H = session.history().heads;
        const std::vector<double> gateValues = pruned ? std::vector<double>(std::size_t(L * H), 0.0)
                                                      : flatGates(session.gates().displayValues());
        std::vector<std::pair<std::string, double>> metrics{
            {metricKey(Metric::Step), double(state.step)},
            {metricKey(Metric::Loss), loss},
            {metricKey(Metric::Kl), sums.kl / n},
            {metricKey(Metric::Bild), sums.bild / n},
            {metricKey(Metric::Lm), sums.lm / n},
            {metricKey(Metric::Regularizer), regularizer.item<double>()},
            {metricKey(Metric::Sparsity), sparsity},
            {metricKey(Metric::TargetSparsity), session.gates().targetSparsity(step)},
            {metricKey(Metric::LearningRate), config.learningRate * factor},
            {metricKey(Metric::GateLearningRate), pruned ? 0.0 : session.gateLr() * factor},
            {metricKey(Metric::GradNorm), gradNorm},
            {metricKey(Metric::TokensPerSecond), result.tokensPerSecond},
            {metricKey(Metric::MemoryMb), result.peakMemoryMb},
            {metricKey(Metric::TensorMemoryMb), result.peakTensorMb}};
        for (const auto& m : session.gates().multiplierValues()) metrics.push_back(m);
        session.history().append(metrics, gateValues);

        ProgressUpdate update{double(state.step) / double(config.steps),
                              stageText(Stage::ConversionTraining),
                              metrics,
                              {{kGatesArray, gateValues}}};
        const bool last = state.step == config.steps;
        if (((config.evalEvery > 0 && state.step % config.evalEvery == 0) || last) &&
            !validation.empty() && session.isWriter()) {
            const torch::Tensor evalGates =
                pruned ? torch::zeros({L, H}) : session.gates().displayValues().to(torch::kFloat32);
            const double v = heldOutLoss(validation, [&](const torch::Tensor& inputs) {
                return session.student().forward(inputs, evalGates, config.compute);
            });
            state.validationHistory.emplace_back(state.step, v);
            update.metrics.emplace_back(metricKey(Metric::ValidationLoss), v);
        }
        const bool goOn = !anyRankStops(config, !progress.report(update));
        if (!goOn || last ||
            (config.checkpointEvery > 0 && state.step % config.checkpointEvery == 0))
            session.save();
        if (!goOn)
            throw Cancelled("conversion training (checkpoint saved at update " +
                            std::to_string(state.step) + ")");
    }

    result.steps = state.step;
    result.history = session.history();
    result.validationHistory = state.validationHistory;
    result.finalGates =
        session.history().gates.empty() ? std::vector<double>{} : session.history().gates.back();
    result.finalValidationLoss = std::numeric_limits<double>::quiet_NaN();
    if (config.exportModel && session.isWriter()) {
        reportOrCancel(progress, {1.0, "exporting the GQA model", {}, {}});
        const ExportVerification verification = exportAndVerify(
            session.student(), exportDtype, result.exportFolder, config.studentFolder);
        result.exportVerified = verification.passed;
        result.exportMaxLogitDiff = verification.maxRelativeLogitDiff;
        session.writeRunFile(
            {{"export_folder", fs::absolute(result.exportFolder).string()},
             {"export_verified", verification.passed},
             {"export_max_relative_logit_diff", verification.maxRelativeLogitDiff}});
        if (!verification.passed)
            throw Error("the exported model's logits differ from the trained model's (relative " +
                        std::to_string(verification.maxRelativeLogitDiff) + ")");
        if (!validation.empty()) {
            const DecoderModel exported(Checkpoint::load(result.exportFolder), torch::kFloat32,
                                        config.device);
            result.finalValidationLoss = heldOutLoss(
                validation, [&](const torch::Tensor& inputs) { return exported.forward(inputs); });
        }
    }
    return result;
}

}  // namespace gqa
