// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The state of one conversion training run (conversiontraining.h): the gated student, its
// teacher, the gates, the optimiser, the data generator and the history, with saving and
// restoring them as a training checkpoint.
//
// Memory layout (method §10): only the weights of the train scope (trainscope.h), the merged
// heads and the gate parameters are optimiser parameters; they are float32 leaves (the master
// copies) cast to the compute dtype at each forward. Every other weight is frozen, stored once in
// the compute dtype without gradient or optimiser state.
//
// The teacher is not a second model: it shares every frozen tensor with the student and holds
// only the original values of the trained projections (none in the "merged" scope), in the
// compute dtype. Its forward is therefore exactly the original model's, which is the student
// with every gate at 1 and its projections as they were before training. A separate teacher
// folder gives a whole second model instead.
//
// Data parallel: every rank holds the same session; rank 0 alone writes checkpoints and the run
// file, and every rank restores from the same checkpoint. With shardOptimizer (ZeRO-1) each
// optimiser parameter has one owning rank (balanced by size): only the owner keeps its AdamW
// state and updates it, then broadcasts the new values (shareUpdatedParameters: the all-gather).
// Gradients are summed onto their owners only (reduceGradients: the reduce-scatter) and clipped
// by a norm assembled from every owner's part (clipGradients), so a rank keeps the reduced
// gradients and AdamW state of its share only. Rank 0's shard is the checkpoint's
// optimizer.pt; rank r's is OUTPUT/optimizer-shards/rank-r-step-S.pt.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "io/checkpoint.h"
#include "training/conversiontraining.h"
#include "training/gatedkvmodel.h"
#include "training/kvgates.h"
#include "distributed/overlappedreduce.h"
#include "training/trainingcheckpoint.h"
#include "training/traininghistory.h"

namespace gqa {

/// Settings that must not change across a resume (others may, with a warning).
nlohmann::json conversionSettingsJson(const ConversionTrainingConfig& c);

/// The dtype frozen weights are stored in: the compute dtype.
torch::ScalarType frozenStorageDtype(const ConversionTrainingConfig& c);

class ConversionSession {
public:
    ConversionSession(const ConversionTrainingConfig& config, ConversionTrainingResult& result);

    /// Builds the student from `student` (the model folder or a training checkpoint; merged
    /// heads come from it when present, else they are its group means) and the teacher from
    /// `original`: the model folder's weights (the trained projections' starting values), or the
    /// teacher folder's model when one is configured.
    void build(const Checkpoint& student, const Checkpoint& original);
    /// Restores everything from a training checkpoint folder.
    void restore(const std::string& folder, const Checkpoint& original);
    /// Rank 0: writes the checkpoint and the run file. Every rank: waits for it.
    void save();
    /// Rank 0: records the history (and `status`, e.g. the export's verification) in the run
    /// file.
    void writeRunFile(const nlohmann::json& status);

    GatedKvModel& student() { return *m_student; }
    const DecoderModel& teacher() const { return *m_teacher; }
    KvGates& gates() { return *m_gates; }
    TrainerState& state() { return m_state; }
    TrainingHistory& history() { return m_history; }
    torch::Generator& generator() { return m_generator; }
    double& lrScale() { return m_lrScale; }
    double& lastSparsity() { return m_lastSparsity; }
    torch::optim::AdamW& optimizer() { return *m_optimizer; }
    bool isWriter() const { return !m_c.communicator || m_c.communicator->rank() == 0; }

    /// Every optimiser parameter (trained weights, merged heads, gate parameters), in a fixed
    /// order: what is clipped and all-reduced.
    std::vector<torch::Tensor> trainableParameters() const;
    /// trainableParameters() and the Lagrange multipliers: everything AdamW updates.
    std::vector<torch::Tensor> optimizerParameters() const;
    /// Clears the gradients of every optimiser parameter (with ZeRO-1 the optimiser only knows
    /// the parameters this rank owns, but every rank accumulates all of them in backward).
    void zeroGradients();
    /// With several ranks: sums the gradients of trainableParameters() across ranks, onto every
    /// rank (replicated) or onto each parameter's owner (ZeRO-1).
    void reduceGradients();
    /// Whether the gradient reduction overlaps backward: several ranks and config.overlapReduce
    /// (with ZeRO-1 the buckets are reduced onto their owners).
    bool overlapsReduce() const;
    /// Hooks the trainable parameters before the last backward of an update (overlappedreduce.h).
    std::unique_ptr<OverlappedReduce> startOverlappedReduce();
    /// After that backward: waits for the sums. After the first update, rank 0's arrival order
    /// (broadcast) becomes every rank's bucket order.
    void finishOverlappedReduce(OverlappedReduce& reduce);
    /// Clips the gradients of trainableParameters() to `maxNorm` (infinity: none) and returns
    /// their norm before clipping; with ZeRO-1 the norm spans every rank's owned gradients.
    double clipGradients(double maxNorm);
    /// ZeRO-1: after the optimiser step, every owner broadcasts the parameters it updated.
    void shareUpdatedParameters();
    bool sharded() const;
    std::int64_t trainableCount() const;
    std::int64_t frozenCount() const;

    /// Group learning rates for update `step`: base rates x warmup-cosine factor x rollback scale.
    double applyLearningRates(std::int64_t step);
    double gateLr() const;

private:
    void buildStudent(const Checkpoint& student);
    void buildTeacher(const Checkpoint& original);
    void buildOptimizer();
    std::string optimizerShardFile(std::int64_t step) const;
    void saveOptimizerShard();
    void removeOldOptimizerShards();

    const ConversionTrainingConfig& m_c;
    ConversionTrainingResult& m_result;
    std::unique_ptr<GatedKvModel> m_student;
    std::unique_ptr<DecoderModel> m_teacher;
    std::vector<torch::Tensor> m_decay, m_noDecay, m_merged;
    std::unique_ptr<KvGates> m_gates;
    std::unique_ptr<torch::optim::AdamW> m_optimizer;
    std::vector<double> m_baseLrs;
    std::vector<bool> m_gateGroup;            ///< gate and multiplier groups stop moving after P
    std::vector<std::int64_t> m_bucketOrder;  ///< shared by all ranks; empty: reverse order
    std::vector<int> m_owners;  ///< per optimizerParameters(): the owning rank (ZeRO-1)
    torch::Generator m_generator;
    TrainerState m_state;
    TrainingHistory m_history;
    double m_lrScale = 1.0;
    double m_lastSparsity = 0.0;
};

}  // namespace gqa
