// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/pretrainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "base/error.h"
#include "base/metrics.h"
#include "base/threadpolicy.h"
#include "model/decodermodel.h"
#include "training/lrschedule.h"
#include "text/tokendataset.h"
#include "training/training.h"
#include "training/trainingcheckpoint.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {
void validateSettings(const PretrainConfig& c) {
    auto require = [](bool ok, const std::string& message) {
        if (!ok) throw InputError(message);
    };
    c.model.validate();
    require(!c.outputDir.empty(), "pretraining needs an output folder");
    require(c.steps >= 1, "steps must be >= 1");
    require(c.batchSize >= 1, "batch size must be >= 1");
    require(c.seqLen >= 1, "sequence length must be >= 1");
    require(c.seqLen <= c.model.maxPositionEmbeddings,
            "sequence length " + std::to_string(c.seqLen) + " exceeds max_position_embeddings (" +
                std::to_string(c.model.maxPositionEmbeddings) + ")");
    require(c.gradAccumulation >= 1, "gradient accumulation must be >= 1");
    require(c.peakLr > 0.0 && c.minLr >= 0.0 && c.minLr <= c.peakLr,
            "learning rates must satisfy 0 <= min lr <= peak lr, peak lr > 0");
    require(c.warmupSteps >= 0, "warmup steps must be >= 0");
    require(c.weightDecay >= 0.0, "weight decay must be >= 0");
    require(c.beta1 >= 0.0 && c.beta1 < 1.0 && c.beta2 >= 0.0 && c.beta2 < 1.0,
            "AdamW betas must be in [0, 1)");
    require(c.gradClip >= 0.0, "gradient clip must be >= 0");
    require(c.evalEvery >= 0 && c.evalBatches >= 0 && c.checkpointEvery >= 0,
            "eval and checkpoint intervals must be >= 0");
    require(!c.trainTokens.empty() || !c.trainFiles.empty(), "no training data given");
    require(!c.trainTokens.empty() || !c.tokenizerPath.empty(),
            "text training data needs a tokenizer");
}

TokenDataset loadData(const std::vector<std::int64_t>& tokens,
                      const std::vector<std::string>& files, const PretrainConfig& c,
                      const std::string& cacheName, ProgressSink& progress) {
    if (!tokens.empty()) return TokenDataset(tokens);
    if (files.empty()) return {};
    return TokenDataset::fromTextFiles(files, c.tokenizerPath,
                                       (fs::path(c.outputDir) / cacheName).string(), progress);
}

bool sameShape(const ModelConfig& a, const ModelConfig& b) {
    return a.vocabSize == b.vocabSize && a.hiddenSize == b.hiddenSize &&
           a.intermediateSize == b.intermediateSize && a.numLayers == b.numLayers &&
           a.numHeads == b.numHeads && a.numKvHeads == b.numKvHeads && a.headDim == b.headDim &&
           a.tieWordEmbeddings == b.tieWordEmbeddings;
}

/// The settings recorded with a checkpoint, compared on resume.
nlohmann::json settingsJson(const PretrainConfig& c) {
    return {{"steps", c.steps},
            {"batch_size", c.batchSize},
            {"seq_len", c.seqLen},
            {"grad_accumulation", c.gradAccumulation},
            {"peak_lr", c.peakLr},
            {"min_lr", c.minLr},
            {"warmup_steps", c.warmupSteps},
            {"weight_decay", c.weightDecay},
            {"beta1", c.beta1},
            {"beta2", c.beta2},
            {"grad_clip", c.gradClip}};
}

void writeFinalModel(const DecoderModel& model, const PretrainConfig& c,
                     const std::string& folder) {
    const std::string staged = folder + ".tmp";
    fs::remove_all(staged);
    model.toCheckpoint(DType::F32).save(staged);
    if (!c.tokenizerPath.empty() && fs::exists(c.tokenizerPath))
        fs::copy_file(c.tokenizerPath, fs::path(staged) / "tokenizer.model",
                      fs::copy_options::overwrite_existing);
    replaceFolder(staged, folder);
}
}  // namespace

std::string pretrainCheckpointFolder(const std::string& outputDir) {
    return (fs::path(outputDir) / "checkpoint").string();
}

PretrainResult pretrain(const PretrainConfig& config, ProgressSink& progress) {
    validateSettings(config);
    useThreadsForModel(config.model.hiddenSize);
    fs::create_directories(config.outputDir);
    PretrainResult result;
    result.checkpointFolder = pretrainCheckpointFolder(config.outputDir);
    result.modelFolder = (fs::path(config.outputDir) / "model").string();

    const TokenDataset train =
        loadData(config.trainTokens, config.trainFiles, config, "tokens-train.bin", progress);
    const std::vector<std::string> validationFiles =
        config.validationFile.empty() ? std::vector<std::string>{}
                                      : std::vector<std::string>{config.validationFile};
    const TokenDataset validation = loadData(config.validationTokens, validationFiles, config,
                                             "tokens-validation.bin", progress);
    if (train.size() < config.seqLen + 1)
        throw InputError("the training data has " + std::to_string(train.size()) +
                         " tokens, fewer than sequence length + 1");
    for (const TokenDataset* d : {&train, &validation})
        if (d->maxId() >= config.model.vocabSize)
            throw InputError("token id " + std::to_string(d->maxId()) +
                             " is outside the model's vocabulary of " +
                             std::to_string(config.model.vocabSize));
    result.trainTokens = train.size();

    // Start fresh or resume.
    reportOrCancel(progress, {0.0, "preparing model", {}});
    ModelConfig shape = config.model;
    shape.dtype = DType::F32;
    TrainerState state;
    Checkpoint initial;
    const std::string resumeFrom = findTrainingCheckpoint(result.checkpointFolder);
    if (!resumeFrom.empty()) {
        std::tie(initial, state) = loadTrainingCheckpoint(resumeFrom);
        if (!sameShape(initial.config, shape))
            throw InputError(resumeFrom +
                             " holds a model of another shape; choose another "
                             "output folder or remove the checkpoint to start over");
        if (state.seed != config.seed)
            result.warnings.push_back("resumed a run seeded " + std::to_string(state.seed) +
                                      "; the given seed is ignored");
        const std::string changed = settingsDifferences(
            state.extra.value("settings", nlohmann::json()), settingsJson(config));
        if (!changed.empty())
            result.warnings.push_back("training settings differ from the checkpoint's (" + changed +
                                      "); the run continues with the new ones");
        result.resumed = true;
        result.startStep = state.step;
        result.alreadyComplete = state.step >= config.steps;
    } else {
        initial = initializeModel(shape, config.seed, config.initStd);
        state.seed = config.seed;
    }
    torch::Generator generator = at::detail::createCPUGenerator(state.seed + kDataSeedOffset);
    if (result.resumed) generator.set_state(state.generatorState);

    DecoderModel model(initial, torch::kFloat32, config.device);
    initial = Checkpoint();  // the model holds its own copies from here on
    const TrainableParameters parameters = makeTrainable(model);
    auto optimizer = makeAdamW(parameters, {config.weightDecay, config.beta1, config.beta2});
    if (result.resumed) loadOptimizerState(resumeFrom, *optimizer);
    const std::vector<TokenBatch> evalSet =
        validation.fixedBatches(config.batchSize, config.seqLen, config.evalBatches);

    auto saveCheckpoint = [&] {
        state.generatorState = generator.get_state();
        state.extra["settings"] = settingsJson(config);
        saveTrainingCheckpoint(result.checkpointFolder, model.toCheckpoint(DType::F32), *optimizer,
                               state);
    };

    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const std::int64_t tokensPerStep = config.batchSize * config.seqLen * config.gradAccumulation;
    while (state.step < config.steps) {
        const double lr = warmupCosineLr(state.step + 1, config.warmupSteps, config.steps,
                                         config.peakLr, config.minLr);
        setLearningRate(*optimizer, lr);
        optimizer->zero_grad();
        double lossSum = 0.0;
        for (std::int64_t micro = 0; micro < config.gradAccumulation; ++micro) {
            const TokenBatch batch = train.sampleBatch(config.batchSize, config.seqLen, generator);
            const torch::Tensor loss = nextTokenLoss(model, batch);
            (loss / double(config.gradAccumulation)).backward();
            lossSum += loss.item<double>();
        }
        const double gradNorm = torch::nn::utils::clip_grad_norm_(
            parameters.all,
            config.gradClip > 0.0 ? config.gradClip : std::numeric_limits<double>::infinity());
        optimizer->step();
        ++state.step;
        const double loss = lossSum / double(config.gradAccumulation);
        if (!std::isfinite(loss))
            throw Error("training diverged at step " + std::to_string(state.step) +
                        " (loss is not finite); lower the learning rate");
        state.lossHistory.push_back(loss);

        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        result.tokensPerSecond =
            double((state.step - result.startStep) * tokensPerStep) / std::max(elapsed, 1e-9);
        ProgressUpdate update{double(state.step) / double(config.steps),
                              stageText(Stage::Pretraining),
                              {{metricKey(Metric::Step), double(state.step)},
                               {metricKey(Metric::Loss), loss},
                               {metricKey(Metric::LearningRate), lr},
                               {metricKey(Metric::GradNorm), gradNorm},
                               {metricKey(Metric::TokensPerSecond), result.tokensPerSecond}}};
        const bool last = state.step == config.steps;
        const bool evalDue = (config.evalEvery > 0 && state.step % config.evalEvery == 0) || last;
        if (evalDue && !evalSet.empty()) {
            const double validationLoss = evaluateLoss(model, evalSet);
            state.validationHistory.emplace_back(state.step, validationLoss);
            update.metrics.emplace_back(metricKey(Metric::ValidationLoss), validationLoss);
        }
        const bool goOn = progress.report(update);
        if (!goOn || last ||
            (config.checkpointEvery > 0 && state.step % config.checkpointEvery == 0))
            saveCheckpoint();
        if (!goOn)
            throw Cancelled("pretraining (checkpoint saved at step " + std::to_string(state.step) +
                            ")");
    }

    reportOrCancel(progress, {1.0, "writing model", {}});
    writeFinalModel(model, config, result.modelFolder);
    result.steps = state.step;
    result.lossHistory = state.lossHistory;
    result.validationHistory = state.validationHistory;
    result.finalLoss = state.lossHistory.empty() ? std::numeric_limits<double>::quiet_NaN()
                                                 : state.lossHistory.back();
    result.finalValidationLoss = state.validationHistory.empty()
                                     ? std::numeric_limits<double>::quiet_NaN()
                                     : state.validationHistory.back().second;
    return result;
}

}  // namespace gqa
