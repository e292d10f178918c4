// SPDX-License-Identifier: GPL-3.0-or-later
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "conversiontraining.h"
#include "distilldata.h"
#include "error.h"
#include "gatedkvmodel.h"
#include "gqaexport.h"
#include "lrschedule.h"
#include "processmemory.h"
#include "runfile.h"
#include "tokendataset.h"
#include "tokenizer.h"
#include "training.h"
#include "trainingcheckpoint.h"

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
    require(c.warmupSteps >= 0 && c.weightDecay >= 0.0 && c.gradClip >= 0.0,
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

/// Settings that must not change across a resume (others may, with a warning).
nlohmann::json settingsJson(const ConversionTrainingConfig& c) {
    return {{"groups", c.groups},
            {"steps", c.steps},
            {"batch_size", c.batchSize},
            {"seq_len", c.seqLen},
            {"grad_accumulation", c.gradAccumulation},
            {"lr", c.learningRate},
            {"merged_lr_scale", c.mergedLrScale},
            {"gate_lr", c.gateLearningRate},
            {"multiplier_lr", c.multiplierLearningRate},
            {"warmup_steps", c.warmupSteps},
            {"weight_decay", c.weightDecay},
            {"gate_scheme", gateSchemeName(c.gates.scheme)},
            {"kl_weight", c.loss.klWeight},
            {"bild_weight", c.loss.bildWeight},
            {"lm_weight", c.loss.lmWeight}};
}

double crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets) {
    return torch::nn::functional::cross_entropy(
               logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32),
               targets.reshape({-1}).to(logits.device()),
               torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100))
        .item<double>();
}

/// Everything one run holds: student, teacher, gates, optimiser, data generator, history.
class Session {
public:
    Session(const ConversionTrainingConfig& config, ConversionTrainingResult& result)
        : m_c(config),
          m_result(result),
          m_generator(at::detail::createCPUGenerator(config.seed + kDataSeedOffset)) {}

    /// Builds the trainable student from a checkpoint (fresh or a training checkpoint).
    void build(const Checkpoint& student) {
        m_student =
            std::make_unique<GatedKvModel>(student, m_c.groups, torch::kFloat32, m_c.device);
        m_params = makeTrainable(m_student->model);
        m_merged.clear();
        for (auto* list : {&m_student->mergedKeys, &m_student->mergedValues})
            for (torch::Tensor& t : *list) {
                t = t.detach().clone().requires_grad_(true);
                m_merged.push_back(t);
            }
        GateSettings gs = m_c.gates;
        gs.layers = student.config.numLayers;
        gs.heads = student.config.numHeads;
        gs.totalSteps = m_c.steps;
        gs.seed = m_c.seed;
        m_gates = KvGates::create(gs, m_c.device);
        buildOptimizer();
    }

    void restore(const std::string& folder) {
        auto [checkpoint, state] = loadTrainingCheckpoint(folder);
        build(checkpoint);
        m_state = std::move(state);
        std::map<std::string, torch::Tensor> gateState;
        for (const auto& [name, tensor] : m_state.tensors)
            if (name.rfind("history.", 0) != 0) gateState[name] = tensor;
        m_gates->loadState(gateState);
        loadOptimizerState(folder, *m_optimizer);
        m_generator.set_state(m_state.generatorState);
        m_history = TrainingHistory::fromTensors(
            m_state.tensors, m_state.extra.value("metric_names", std::vector<std::string>{}),
            m_student->config().numLayers, m_student->config().numHeads);
        m_lrScale = m_state.extra.value("lr_scale", 1.0);
        m_lastSparsity = m_state.extra.value("last_sparsity", 0.0);
    }

    void save() {
        m_state.generatorState = m_generator.get_state();
        m_state.tensors = m_gates->state();
        for (auto& [name, tensor] : m_history.toTensors()) m_state.tensors[name] = tensor;
        m_state.extra["settings"] = settingsJson(m_c);
        m_state.extra["metric_names"] = m_history.metricNames;
        m_state.extra["lr_scale"] = m_lrScale;
        m_state.extra["last_sparsity"] = m_lastSparsity;
        m_state.extra["rollbacks"] = m_result.rollbacks;
        saveTrainingCheckpoint(m_result.checkpointFolder,
                               m_student->toTrainingCheckpoint(DType::F32), *m_optimizer, m_state);
        writeRunFile({});
    }

    /// Records the history (and `status`, e.g. the export's verification) in the run file.
    void writeRunFile(const nlohmann::json& status) {
        if (m_c.runFile.empty()) return;
        RunFile file =
            fs::exists(m_c.runFile) ? RunFile::open(m_c.runFile) : RunFile::create(m_c.runFile);
        nlohmann::json settings = settingsJson(m_c);
        settings["model_folder"] = m_c.studentFolder;
        settings["teacher_folder"] = m_c.teacherFolder;
        settings["validation_file"] =
            m_c.validationFile.empty() ? "" : fs::absolute(m_c.validationFile).string();
        settings["completed_steps"] = m_state.step;
        settings["rollbacks"] = m_result.rollbacks;
        if (!status.empty()) settings["result"] = status;
        file.writeTrainingHistory(m_history, m_state.validationHistory, settings.dump());
    }

    GatedKvModel& student() { return *m_student; }
    KvGates& gates() { return *m_gates; }
    TrainerState& state() { return m_state; }
    TrainingHistory& history() { return m_history; }
    torch::Generator& generator() { return m_generator; }
    double& lrScale() { return m_lrScale; }
    double& lastSparsity() { return m_lastSparsity; }
    torch::optim::AdamW& optimizer() { return *m_optimizer; }

    std::vector<torch::Tensor> clippedParameters() const {
        std::vector<torch::Tensor> all = m_params.all;
        all.insert(all.end(), m_merged.begin(), m_merged.end());
        for (const torch::Tensor& t : m_gates->gateParameters()) all.push_back(t);
        return all;
    }
    std::int64_t trainableCount() const {
        std::int64_t n = 0;
        for (const torch::Tensor& t : clippedParameters()) n += t.numel();
        return n;
    }

    /// Group learning rates for update `step`: base rates x warmup-cosine factor x rollback scale.
    double applyLearningRates(std::int64_t step) {
        const double factor =
            warmupCosineLr(step, m_c.warmupSteps, m_c.steps, 1.0, 0.0) * m_lrScale;
        // After P the gates are fixed at 0: stop AdamW's momentum from moving their logits.
        const bool gatesFixed = step > m_gates->pruneSteps();
        auto& groups = m_optimizer->param_groups();
        for (std::size_t i = 0; i < groups.size(); ++i)
            groups[i].options().set_lr(gatesFixed && i >= m_firstGateGroup ? 0.0
                                                                           : m_baseLrs[i] * factor);
        return factor;
    }
    double gateLr() const {
        return m_c.gateLearningRate > 0.0 ? m_c.gateLearningRate
               : m_c.gates.scheme == GateScheme::Reference
                   ? m_c.learningRate
                   : ConversionTrainingConfig::kDefaultHardConcreteGateLr;
    }

private:
    void buildOptimizer() {
        auto options = [&](double decay) {
            return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions()
                                                                    .betas({m_c.beta1, m_c.beta2})
                                                                    .eps(m_c.eps)
                                                                    .weight_decay(decay));
        };
        std::vector<torch::optim::OptimizerParamGroup> groups;
        m_baseLrs.clear();
        auto add = [&](const std::vector<torch::Tensor>& params, double lr, double decay) {
            if (params.empty()) return;
            groups.emplace_back(params, options(decay));
            m_baseLrs.push_back(lr);
        };
        add(m_params.decay, m_c.learningRate, m_c.weightDecay);
        add(m_params.noDecay, m_c.learningRate, 0.0);
        add(m_merged, m_c.learningRate * m_c.mergedLrScale, 0.0);
        m_firstGateGroup = groups.size();
        add(m_gates->gateParameters(), gateLr(), 0.0);
        add(m_gates->multiplierParameters(), m_c.multiplierLearningRate, 0.0);
        m_optimizer =
            std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions());
    }

    const ConversionTrainingConfig& m_c;
    ConversionTrainingResult& m_result;
    std::unique_ptr<GatedKvModel> m_student;
    TrainableParameters m_params;
    std::vector<torch::Tensor> m_merged;
    std::unique_ptr<KvGates> m_gates;
    std::unique_ptr<torch::optim::AdamW> m_optimizer;
    std::vector<double> m_baseLrs;
    std::size_t m_firstGateGroup = 0;  ///< gate and multiplier groups come last
    torch::Generator m_generator;
    TrainerState m_state;
    TrainingHistory m_history;
    double m_lrScale = 1.0;
    double m_lastSparsity = 0.0;
};

DistillData loadTrainingData(const ConversionTrainingConfig& c, const std::string& tokenizerPath,
                             ProgressSink& progress) {
    if (!c.trainTokens.empty())
        return DistillData::fromTokens(TokenDataset(c.trainTokens), c.seqLen);
    if (!c.trainJsonl.empty())
        return DistillData::fromJsonl(c.trainJsonl, Tokenizer::load(tokenizerPath), c.seqLen,
                                      progress);
    return DistillData::fromTokens(
        TokenDataset::fromTextFiles(c.trainFiles, tokenizerPath,
                                    (fs::path(c.outputDir) / "tokens-train.bin").string(),
                                    progress),
        c.seqLen);
}

std::vector<DistillBatch> loadValidation(const ConversionTrainingConfig& c,
                                         const std::string& tokenizerPath, ProgressSink& progress) {
    TokenDataset tokens;
    if (!c.validationTokens.empty())
        tokens = TokenDataset(c.validationTokens);
    else if (!c.validationFile.empty())
        tokens = TokenDataset::fromTextFiles(
            {c.validationFile}, tokenizerPath,
            (fs::path(c.outputDir) / "tokens-validation.bin").string(), progress);
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

std::vector<double> flatGates(const torch::Tensor& values) {
    const torch::Tensor flat = values.to(torch::kCPU, torch::kFloat64).contiguous().view(-1);
    return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}
}  // namespace

std::string conversionCheckpointFolder(const std::string& outputDir) {
    return (fs::path(outputDir) / "checkpoint").string();
}
std::string conversionExportFolder(const std::string& outputDir) {
    return (fs::path(outputDir) / "model").string();
}

ConversionTrainingResult trainConversion(const ConversionTrainingConfig& config,
                                         ProgressSink& progress) {
    validateSettings(config);
    fs::create_directories(config.outputDir);
    ConversionTrainingResult result;
    result.checkpointFolder = conversionCheckpointFolder(config.outputDir);
    result.exportFolder = conversionExportFolder(config.outputDir);

    reportOrCancel(progress, {0.0, "loading models", {}, {}});
    const Checkpoint studentCheckpoint = Checkpoint::load(config.studentFolder);
    const std::string tokenizerPath =
        !config.tokenizerPath.empty()
            ? config.tokenizerPath
            : (fs::path(config.studentFolder) / "tokenizer.model").string();
    const std::string teacherFolder =
        config.teacherFolder.empty() ? config.studentFolder : config.teacherFolder;
    const Checkpoint teacherCheckpoint =
        teacherFolder == config.studentFolder ? studentCheckpoint : Checkpoint::load(teacherFolder);
    if (teacherCheckpoint.config.vocabSize != studentCheckpoint.config.vocabSize)
        throw InputError("the teacher's vocabulary (" +
                         std::to_string(teacherCheckpoint.config.vocabSize) +
                         ") differs from the model's (" +
                         std::to_string(studentCheckpoint.config.vocabSize) + ")");
    const LlamaModel teacher(teacherCheckpoint, config.compute, config.device);
    const DType exportDtype = config.exportDtype.value_or(studentCheckpoint.config.dtype);

    const DistillData data = loadTrainingData(config, tokenizerPath, progress);
    for (const std::string& w : data.warnings()) result.warnings.push_back(w);
    if (data.maxId() >= studentCheckpoint.config.vocabSize)
        throw InputError("token id " + std::to_string(data.maxId()) +
                         " is outside the model's vocabulary");
    const std::vector<DistillBatch> validation = loadValidation(config, tokenizerPath, progress);

    Session session(config, result);
    const std::string resumeFrom = findTrainingCheckpoint(result.checkpointFolder);
    if (!resumeFrom.empty()) {
        session.restore(resumeFrom);
        const nlohmann::json saved = session.state().extra.value("settings", nlohmann::json());
        if (saved.value("groups", config.groups) != config.groups ||
            saved.value("steps", config.steps) != config.steps)
            throw InputError(resumeFrom +
                             " belongs to a run with other KV heads or steps; choose another "
                             "output folder or remove it to start over");
        if (saved != settingsJson(config))
            result.warnings.push_back(
                "training settings differ from the checkpoint's; the run continues with the "
                "new ones");
        result.resumed = true;
        result.startStep = session.state().step;
        result.rollbacks = session.state().extra.value("rollbacks", 0);
    } else {
        session.build(studentCheckpoint);
        session.state().seed = config.seed;
        session.history().layers = studentCheckpoint.config.numLayers;
        session.history().heads = studentCheckpoint.config.numHeads;
        session.save();  // the rollback target of the NaN guard
    }
    result.trainableParameters = session.trainableCount();

    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    std::int64_t tokensSeen = 0;
    bool poisoned = false;
    TrainerState& state = session.state();
    while (state.step < config.steps) {
        const std::int64_t step = state.step + 1;
        const double factor = session.applyLearningRates(step);
        session.gates().beforeOptimizerStep(step, session.lastSparsity());
        session.optimizer().zero_grad();
        double lossSum = 0.0, klSum = 0.0, bildSum = 0.0, lmSum = 0.0;
        for (std::int64_t micro = 0; micro < config.gradAccumulation; ++micro) {
            const torch::Tensor z = session.gates().sample(step, true, session.generator());
            const DistillBatch batch = data.sample(config.batchSize, session.generator());
            const torch::Tensor hidden =
                session.student().hiddenStates(batch.inputs, z, config.compute);
            torch::Tensor teacherHidden;
            {
                torch::NoGradGuard noGrad;
                teacherHidden = teacher.hiddenStates(batch.inputs);
            }
            const DistillationLoss loss =
                distillationLoss(hidden, session.student().model.lmHead.to(config.compute),
                                 teacherHidden, teacher.lmHead, batch, config.loss);
            (loss.total / double(config.gradAccumulation)).backward();
            lossSum += loss.total.item<double>();
            klSum += loss.kl.item<double>();
            bildSum += loss.bild.item<double>();
            lmSum += loss.lm.item<double>();
            tokensSeen += batch.tokens();
        }
        const torch::Tensor regularizer = session.gates().regularizer(step);
        if (regularizer.requires_grad()) regularizer.backward();
        // s_prev of the next update is what this update's regulariser measured (spec 6.4).
        const double sparsity = session.gates().expectedSparsity().item<double>();
        const double n = double(config.gradAccumulation);
        double loss = lossSum / n + regularizer.item<double>();
        if (step == config.poisonStepForTests && !poisoned) {
            poisoned = true;
            loss = std::numeric_limits<double>::quiet_NaN();
        }
        const double gradNorm = torch::nn::utils::clip_grad_norm_(
            session.clippedParameters(),
            config.gradClip > 0.0 ? config.gradClip : std::numeric_limits<double>::infinity());
        if (!std::isfinite(loss) || !std::isfinite(gradNorm)) {
            if (result.rollbacks >= config.maxRollbacks)
                throw Error("training diverged at update " + std::to_string(step) + " after " +
                            std::to_string(result.rollbacks) +
                            " roll-backs; lower the learning rate");
            ++result.rollbacks;
            const std::string from = findTrainingCheckpoint(result.checkpointFolder);
            session.restore(from);
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
        session.gates().afterOptimizerStep(step);
        ++state.step;
        session.lastSparsity() = sparsity;
        state.lossHistory.push_back(loss);

        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        result.tokensPerSecond = double(tokensSeen) / std::max(elapsed, 1e-9);
        result.peakMemoryMb = peakResidentMemoryMb();
        const bool pruned = step > session.gates().pruneSteps();
        const std::int64_t L = session.history().layers, H = session.history().heads;
        const std::vector<double> gateValues = pruned ? std::vector<double>(std::size_t(L * H), 0.0)
                                                      : flatGates(session.gates().displayValues());
        std::vector<std::pair<std::string, double>> metrics{
            {"step", double(state.step)},
            {"loss", loss},
            {"kl", klSum / n},
            {"bild", bildSum / n},
            {"lm", lmSum / n},
            {"regularizer", regularizer.item<double>()},
            {"sparsity", sparsity},
            {"target_sparsity", session.gates().targetSparsity(step)},
            {"lr", config.learningRate * factor},
            {"lr_gates", pruned ? 0.0 : session.gateLr() * factor},
            {"grad_norm", gradNorm},
            {"tokens_per_s", result.tokensPerSecond},
            {"memory_mb", result.peakMemoryMb}};
        for (const auto& m : session.gates().multiplierValues()) metrics.push_back(m);
        session.history().append(metrics, gateValues);

        ProgressUpdate update{double(state.step) / double(config.steps),
                              "conversion training",
                              metrics,
                              {{"gates", gateValues}}};
        const bool last = state.step == config.steps;
        if (((config.evalEvery > 0 && state.step % config.evalEvery == 0) || last) &&
            !validation.empty()) {
            const torch::Tensor evalGates =
                pruned ? torch::zeros({L, H}) : session.gates().displayValues().to(torch::kFloat32);
            const double v = heldOutLoss(validation, [&](const torch::Tensor& inputs) {
                return session.student().forward(inputs, evalGates, config.compute);
            });
            state.validationHistory.emplace_back(state.step, v);
            update.metrics.emplace_back("val_loss", v);
        }
        const bool goOn = progress.report(update);
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
    if (config.exportModel) {
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
            const LlamaModel exported(Checkpoint::load(result.exportFolder), torch::kFloat32,
                                      config.device);
            result.finalValidationLoss = heldOutLoss(
                validation, [&](const torch::Tensor& inputs) { return exported.forward(inputs); });
        }
    }
    return result;
}

}  // namespace gqa
