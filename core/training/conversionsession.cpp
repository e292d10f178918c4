// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/conversionsession.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "distributed/dataparallel.h"
#include "base/error.h"
#include "training/lrschedule.h"
#include "runfile/runfile.h"
#include "io/tensorconvert.h"
#include "training/training.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {
/// Calls f(name, tensor, trained) for every weight of `model` in TrainableParameters order
/// (embeddings, each layer's weights, final norm, untied LM head).
template <class F>
void forEachWeight(DecoderModel& model, TrainScope scope, F f) {
    for (const DecoderModel::NamedWeight& w : model.namedWeights())
        f(w.name, *w.tensor, isTrainedIn(scope, w.role));
    if (model.config().tieWordEmbeddings) model.lmHead = model.embedTokens;
}
}  // namespace

nlohmann::json conversionSettingsJson(const ConversionTrainingConfig& c) {
    return {{"groups", c.groups},
            {"start_merge", mergeMethodName(c.startMerge.value_or(MergeMethod::Mean))},
            {"steps", c.steps},
            {"batch_size", c.batchSize},
            {"seq_len", c.seqLen},
            {"grad_accumulation", c.gradAccumulation},
            {"lr", c.learningRate},
            {"merged_lr_scale", c.mergedLrScale},
            {"gate_lr", c.gateLearningRate},
            {"multiplier_lr", c.multiplierLearningRate},
            {"warmup_steps", resolvedWarmupSteps(c)},
            {"weight_decay", c.weightDecay},
            {"gate_scheme", gateSchemeName(c.gates.scheme)},
            {"kl_weight", c.loss.klWeight},
            {"bild_weight", c.loss.bildWeight},
            {"lm_weight", c.loss.lmWeight},
            {"scope", trainScopeName(c.scope)},
            {"world_size", c.communicator ? c.communicator->worldSize() : 1},
            {"shard_optimizer", c.shardOptimizer}};
}

torch::ScalarType frozenStorageDtype(const ConversionTrainingConfig& c) { return c.compute; }

ConversionSession::ConversionSession(const ConversionTrainingConfig& config,
                                     ConversionTrainingResult& result)
    : m_c(config),
      m_result(result),
      m_generator(at::detail::createCPUGenerator(config.seed + kDataSeedOffset)) {}

void ConversionSession::build(const Checkpoint& student, const Checkpoint& original) {
    buildStudent(student);
    buildTeacher(original);
    GateSettings gs = m_c.gates;
    gs.layers = student.config.numLayers;
    gs.heads = student.config.numHeads;
    gs.totalSteps = m_c.steps;
    gs.seed = m_c.seed;
    m_gates = KvGates::create(gs, m_c.device);
    buildOptimizer();
}

void ConversionSession::buildStudent(const Checkpoint& student) {
    m_student =
        std::make_unique<GatedKvModel>(student, m_c.groups, frozenStorageDtype(m_c), m_c.device);
    m_decay.clear();
    m_noDecay.clear();
    m_merged.clear();
    // Trained weights: float32 leaves from the checkpoint's values (a clone: the optimiser
    // updates them in place, and `student` may be `original`).
    forEachWeight(m_student->model, m_c.scope,
                  [&](const std::string& name, torch::Tensor& t, bool trained) {
                      if (!trained) return;
                      t = student.at(name).to(m_c.device, torch::kFloat32).clone();
                      t.requires_grad_(true);
                      (t.dim() >= 2 ? m_decay : m_noDecay).push_back(t);
                  });
    // The merged heads (and biases, and the least-squares start's refitted q/o): float32 trained
    // leaves from the stored merged tensors of a training checkpoint or start, else the group
    // means of the checkpoint's own projections.
    const ModelConfig& c = m_student->config();
    std::map<std::string, std::string> projectionOf;
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        projectionOf[mergedKeyName(l)] = tensorName(c, l, LayerTensor::KWeight);
        projectionOf[mergedValueName(l)] = tensorName(c, l, LayerTensor::VWeight);
        if (c.qkvBias) {
            projectionOf[mergedKeyBiasName(l)] = tensorName(c, l, LayerTensor::KBias);
            projectionOf[mergedValueBiasName(l)] = tensorName(c, l, LayerTensor::VBias);
        }
    }
    for (auto& [name, tensor] : m_student->mergedTensors()) {
        const auto stored = student.tensors.find(name);
        torch::Tensor t =
            stored != student.tensors.end()
                ? stored->second.to(m_c.device, torch::kFloat32)
                : groupMeanProjection(
                      student.at(projectionOf.at(name)).to(m_c.device, torch::kFloat32), m_c.groups,
                      c.headDim);
        *tensor = t.clone().requires_grad_(true);
        m_merged.push_back(*tensor);
    }
}

void ConversionSession::buildTeacher(const Checkpoint& original) {
    if (!m_c.teacherFolder.empty() && m_c.teacherFolder != m_c.studentFolder) {
        m_teacher = std::make_unique<DecoderModel>(original, m_c.compute, m_c.device);
        return;
    }
    // Shares the student's frozen tensors; trained ones are replaced by their original values.
    m_teacher = std::make_unique<DecoderModel>(m_student->model);
    forEachWeight(*m_teacher, m_c.scope,
                  [&](const std::string& name, torch::Tensor& t, bool trained) {
                      if (trained) t = original.at(name).to(m_c.device, m_c.compute);
                  });
}

void ConversionSession::restore(const std::string& folder, const Checkpoint& original) {
    auto [checkpoint, state] = loadTrainingCheckpoint(folder);
    build(checkpoint, original);
    m_state = std::move(state);
    std::map<std::string, torch::Tensor> gateState;
    for (const auto& [name, tensor] : m_state.tensors)
        if (name.rfind("history.", 0) != 0) gateState[name] = tensor;
    m_gates->loadState(gateState);
    if (sharded() && m_c.communicator->rank() != 0) {
        const std::string shard = optimizerShardFile(m_state.step);
        if (!fs::exists(shard))
            throw InputError("the optimiser shard of rank " +
                             std::to_string(m_c.communicator->rank()) + " for update " +
                             std::to_string(m_state.step) + " is missing (" + shard +
                             "); resume with the same number of processes");
        torch::load(*m_optimizer, shard);
    } else {
        loadOptimizerState(folder, *m_optimizer);
    }
    m_generator.set_state(m_state.generatorState);
    m_history = TrainingHistory::fromTensors(
        m_state.tensors, m_state.extra.value("metric_names", std::vector<std::string>{}),
        m_student->config().numLayers, m_student->config().numHeads);
    m_lrScale = m_state.extra.value("lr_scale", 1.0);
    m_lastSparsity = m_state.extra.value("last_sparsity", 0.0);
}

void ConversionSession::save() {
    // ZeRO-1: every other rank writes its optimiser shard for this update before rank 0 swaps
    // the checkpoint in, and removes older shards only after that, so that the checkpoint on
    // disk always has its shards.
    if (sharded() && !isWriter()) saveOptimizerShard();
    if (sharded()) m_c.communicator->barrier();
    if (isWriter()) {
        m_state.generatorState = m_generator.get_state();
        m_state.tensors = m_gates->state();
        for (auto& [name, tensor] : m_history.toTensors()) m_state.tensors[name] = tensor;
        m_state.extra["settings"] = conversionSettingsJson(m_c);
        // Where `gqa-cli export` finds the tokenizer and generation config (not a setting:
        // a moved folder must not stop a resume).
        m_state.extra["model_folder"] = fs::absolute(m_c.studentFolder).string();
        m_state.extra["metric_names"] = m_history.metricNames;
        m_state.extra["lr_scale"] = m_lrScale;
        m_state.extra["last_sparsity"] = m_lastSparsity;
        m_state.extra["rollbacks"] = m_result.rollbacks;
        // Each weight as held: frozen ones in the compute dtype, trained ones in float32.
        saveTrainingCheckpoint(
            m_result.checkpointFolder,
            m_student->toTrainingCheckpointAsHeld(fromTorch(frozenStorageDtype(m_c))), *m_optimizer,
            m_state);
        writeRunFile({});
    }
    if (m_c.communicator) m_c.communicator->barrier();
    if (sharded() && !isWriter()) removeOldOptimizerShards();
}

void ConversionSession::writeRunFile(const nlohmann::json& status) {
    if (m_c.runFile.empty() || !isWriter()) return;
    RunFile file =
        fs::exists(m_c.runFile) ? RunFile::open(m_c.runFile) : RunFile::create(m_c.runFile);
    nlohmann::json settings = conversionSettingsJson(m_c);
    // Absolute, like validation_file: a report read from elsewhere must find them.
    settings["model_folder"] = fs::absolute(m_c.studentFolder).lexically_normal().string();
    settings["teacher_folder"] = m_c.teacherFolder.empty()
                                     ? ""
                                     : fs::absolute(m_c.teacherFolder).lexically_normal().string();
    settings["validation_file"] =
        m_c.validationFile.empty() ? "" : fs::absolute(m_c.validationFile).string();
    settings["completed_steps"] = m_state.step;
    settings["rollbacks"] = m_result.rollbacks;
    settings["trainable_parameters"] = trainableCount();
    if (!m_c.groupings.empty()) {
        settings["groupings"] = m_c.groupings;
        settings["grouping_source"] = groupingSourceName(m_c.groupingSource);
    }
    if (!status.empty()) settings["result"] = status;
    file.writeTrainingHistory(m_history, m_state.validationHistory, settings.dump());
}

std::vector<torch::Tensor> ConversionSession::trainableParameters() const {
    std::vector<torch::Tensor> all = m_decay;
    all.insert(all.end(), m_noDecay.begin(), m_noDecay.end());
    all.insert(all.end(), m_merged.begin(), m_merged.end());
    for (const torch::Tensor& t : m_gates->gateParameters()) all.push_back(t);
    return all;
}

std::int64_t ConversionSession::trainableCount() const {
    std::int64_t n = 0;
    for (const torch::Tensor& t : trainableParameters()) n += t.numel();
    return n;
}

std::int64_t ConversionSession::frozenCount() const {
    std::int64_t trainedWeights = 0;
    for (const auto* list : {&m_decay, &m_noDecay})
        for (const torch::Tensor& t : *list) trainedWeights += t.numel();
    return m_student->config().parameterCount() - trainedWeights;
}

double ConversionSession::applyLearningRates(std::int64_t step) {
    const double factor =
        warmupCosineLr(step, resolvedWarmupSteps(m_c), m_c.steps, 1.0, 0.0) * m_lrScale;
    // After P the gates are fixed at 0: stop AdamW's momentum from moving their logits.
    const bool gatesFixed = step > m_gates->pruneSteps();
    auto& groups = m_optimizer->param_groups();
    for (std::size_t i = 0; i < groups.size(); ++i)
        groups[i].options().set_lr(gatesFixed && m_gateGroup[i] ? 0.0 : m_baseLrs[i] * factor);
    return factor;
}

double ConversionSession::gateLr() const {
    return m_c.gateLearningRate > 0.0 ? m_c.gateLearningRate
           : m_c.gates.scheme == GateScheme::Reference
               ? m_c.learningRate
               : ConversionTrainingConfig::kDefaultHardConcreteGateLr;
}

void ConversionSession::buildOptimizer() {
    auto options = [&](double decay) {
        return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions()
                                                                .betas({m_c.beta1, m_c.beta2})
                                                                .eps(m_c.eps)
                                                                .weight_decay(decay));
    };
    // ZeRO-1: each parameter belongs to the rank with the fewest bytes so far (a fixed order, so
    // every rank computes the same assignment); only the owner keeps its AdamW state.
    const int rank = m_c.communicator ? m_c.communicator->rank() : 0;
    std::vector<double> load(std::size_t(sharded() ? m_c.communicator->worldSize() : 1), 0.0);
    m_owners.clear();
    std::vector<torch::optim::OptimizerParamGroup> groups;
    m_baseLrs.clear();
    m_gateGroup.clear();
    auto add = [&](const std::vector<torch::Tensor>& params, double lr, double decay, bool gate) {
        std::vector<torch::Tensor> owned;
        for (const torch::Tensor& t : params) {
            const int owner = int(std::min_element(load.begin(), load.end()) - load.begin());
            load[std::size_t(owner)] += double(t.numel());
            m_owners.push_back(owner);
            if (owner == rank || !sharded()) owned.push_back(t);
        }
        if (owned.empty()) return;
        groups.emplace_back(owned, options(decay));
        m_baseLrs.push_back(lr);
        m_gateGroup.push_back(gate);
    };
    add(m_decay, m_c.learningRate, m_c.weightDecay, false);
    add(m_noDecay, m_c.learningRate, 0.0, false);
    add(m_merged, m_c.learningRate * m_c.mergedLrScale, 0.0, false);
    add(m_gates->gateParameters(), gateLr(), 0.0, true);
    add(m_gates->multiplierParameters(), m_c.multiplierLearningRate, 0.0, true);
    if (groups.empty())
        throw InputError("rank " + std::to_string(rank) +
                         " owns no optimiser state: the model has fewer trainable tensors than "
                         "ranks; train without --shard-optimizer");
    m_optimizer =
        std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions());
}

bool ConversionSession::sharded() const {
    return m_c.shardOptimizer && m_c.communicator && m_c.communicator->worldSize() > 1;
}

std::vector<torch::Tensor> ConversionSession::optimizerParameters() const {
    std::vector<torch::Tensor> all = trainableParameters();
    for (const torch::Tensor& t : m_gates->multiplierParameters()) all.push_back(t);
    return all;
}

void ConversionSession::zeroGradients() {
    for (const torch::Tensor& p : optimizerParameters())
        if (p.grad().defined()) p.mutable_grad().reset();
}

void ConversionSession::reduceGradients() {
    if (!m_c.communicator) return;
    const std::vector<torch::Tensor> params = trainableParameters();
    if (sharded())
        reduceGradientsToOwners(*m_c.communicator, params, m_owners);
    else
        allReduceGradients(*m_c.communicator, params);
}

bool ConversionSession::overlapsReduce() const {
    return m_c.overlapReduce && m_c.communicator && m_c.communicator->worldSize() > 1;
}

std::unique_ptr<OverlappedReduce> ConversionSession::startOverlappedReduce() {
    const std::vector<torch::Tensor> params = trainableParameters();
    // ZeRO-1: m_owners follows optimizerParameters(), whose first entries are these.
    std::vector<int> owners;
    if (sharded())
        owners.assign(m_owners.begin(), m_owners.begin() + std::ptrdiff_t(params.size()));
    return std::make_unique<OverlappedReduce>(*m_c.communicator, params, m_bucketOrder,
                                              m_c.reduceBucketBytes, std::move(owners));
}

void ConversionSession::finishOverlappedReduce(OverlappedReduce& reduce) {
    const std::vector<std::int64_t> arrival = reduce.finish();
    if (!m_bucketOrder.empty()) return;
    // Every rank must fill and start its buckets in one order: rank 0's (indices < 2^53 are
    // exact in float64, which every collective handles).
    std::vector<torch::Tensor> order{
        torch::tensor(std::vector<double>(arrival.begin(), arrival.end()), torch::kFloat64)};
    m_c.communicator->broadcast(order, 0);
    const torch::Tensor shared = order[0].to(torch::kInt64);
    m_bucketOrder.assign(shared.data_ptr<std::int64_t>(),
                         shared.data_ptr<std::int64_t>() + shared.numel());
}

double ConversionSession::clipGradients(double maxNorm) {
    const std::vector<torch::Tensor> params = trainableParameters();
    if (sharded()) return clipOwnedGradients(*m_c.communicator, params, m_owners, maxNorm);
    return torch::nn::utils::clip_grad_norm_(params, maxNorm);
}

void ConversionSession::shareUpdatedParameters() {
    if (!sharded()) return;
    torch::NoGradGuard noGrad;
    const std::vector<torch::Tensor> params = optimizerParameters();
    for (int root = 0; root < m_c.communicator->worldSize(); ++root) {
        std::vector<torch::Tensor> owned;
        for (std::size_t i = 0; i < params.size(); ++i)
            if (m_owners[i] == root) owned.push_back(params[i].detach());
        if (!owned.empty()) m_c.communicator->broadcast(owned, root);
    }
}

std::string ConversionSession::optimizerShardFile(std::int64_t step) const {
    return (fs::path(m_c.outputDir) / "optimizer-shards" /
            ("rank-" + std::to_string(m_c.communicator->rank()) + "-step-" + std::to_string(step) +
             ".pt"))
        .string();
}

void ConversionSession::saveOptimizerShard() {
    const fs::path file = optimizerShardFile(m_state.step);
    fs::create_directories(file.parent_path());
    torch::save(*m_optimizer, file.string() + ".tmp");
    fs::rename(file.string() + ".tmp", file);
}

void ConversionSession::removeOldOptimizerShards() {
    const fs::path keep = optimizerShardFile(m_state.step);
    const std::string prefix = "rank-" + std::to_string(m_c.communicator->rank()) + "-";
    for (const auto& entry : fs::directory_iterator(keep.parent_path()))
        if (entry.path() != keep && entry.path().filename().string().rfind(prefix, 0) == 0)
            fs::remove(entry.path());
}

}  // namespace gqa
