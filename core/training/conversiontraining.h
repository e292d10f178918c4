// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The conversion training (method §6): learned gates move every original KV head of an
// aligned MHA model onto its group's merged head while the model is distilled from a frozen
// teacher; at the end every gate is 0 and the model is exported as a standard GQA checkpoint.
//
// Input: a model folder whose heads are grouped contiguously (`gqa-cli align --keep-mha` writes
// the aligned one; the original model gives the mean-pool baseline of method §8), G, and
// training text (plain text files: causal LM) or the reference's prompt/answer jsonl. The gates
// move the heads onto the group means, or onto the least-squares merge (method §7.2) when the
// folder holds its start (leastsquaresstart.h): then each query head's q_proj/o_proj blend
// towards their refitted versions too (gatedkvmodel.h).
// Each update: gates z = sample(step) (kvgates.h), student forward with z (gatedkvmodel.h),
// teacher forward without grad, loss = distillation terms (distillation.h) + sparsity
// regulariser; the gate scheme's hooks run around the AdamW step. Parameter groups (method §6.5):
// model matrices (learningRate, weightDecay), model norm gains (learningRate, no decay; the
// reference decays them too because its RMSNorm is not recognised: a bug we do not copy),
// merged heads (learningRate * mergedLrScale, no decay), gate parameters (gateLearningRate),
// Lagrange multipliers (multiplierLearningRate). One warmup + cosine-to-0 factor scales all.
//
// Output folder:
//   checkpoint/     resumable state (trainingcheckpoint.h): the student with its merged heads,
//                   optimiser, data generator, gate state, the full history; written every
//                   checkpointEvery updates, on cancel and at the end
//   model/          the exported GQA model (num_key_value_heads = G) with the tokenizer and
//                   generation config of the student folder, verified by reloading it
//   tokens-*.bin    token caches of text inputs
// and, when runFile is set, the history in the run file's /training group (docs/run-file.md).
//
// Resume is the default when checkpoint/ exists; an interrupted and resumed run follows the
// uninterrupted run's loss curve. NaN guard: a non-finite loss or gradient skips the update,
// reloads the last checkpoint and continues with the learning rates scaled by
// kRollbackLrFactor (at most maxRollbacks times, then Error).
//
// Progress: first the trainable and frozen parameter counts; then one report per update with
// metrics step, loss, kl, bild, lm, regularizer, sparsity, target_sparsity, lr, lr_gates,
// grad_norm, tokens_per_s, memory_mb, tensor_memory_mb, the scheme's multipliers, and val_loss
// on evaluation updates; array "gates" holds the layer-major gate values shown to
// users (deterministic, no noise). Cancel: checkpoint, then Cancelled.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "distributed/communicator.h"
#include "distributed/overlappedreduce.h"
#include "alignment/leastsquaresmerge.h"
#include "analysis/grouping.h"
#include "training/distillation.h"
#include "base/dtype.h"
#include "training/kvgates.h"
#include "base/progress.h"
#include "training/traininghistory.h"
#include "training/trainscope.h"

namespace gqa {

struct ConversionTrainingConfig {
    /// Method §6.5 (7B models, 23k updates of 64 x 2048 tokens): lr 1e-5, merged heads 2x, gates
    /// 1e-5 in z_loga (= 0.01 in lambda per Adam step), weight decay 1e-4, betas (0.9, 0.95),
    /// clip 1.0, 32 warmup updates, seed 19960301.
    static constexpr double kReferenceLearningRate = 1e-5;
    static constexpr double kReferenceMergedLrScale = 2.0;
    static constexpr double kReferenceWeightDecay = 1e-4;
    static constexpr std::int64_t kReferenceWarmupSteps = 32;
    static constexpr std::uint64_t kReferenceSeed = 19960301;
    /// Short runs on small models (the demo model: a few hundred updates) move too little at
    /// 1e-5; 3e-4 was the best of {1e-4, 3e-4, 1e-3} for the least-squares start at G = 4, 2 and
    /// 1 on the demo model (docs/benchmarks.md, "Least-squares merge").
    static constexpr double kDefaultLearningRate = 3e-4;
    /// Hard-concrete log-alpha and multipliers need O(0.1) steps to travel within a short run
    /// (CoFi uses 0.01-0.1 for its "reg_learning_rate").
    static constexpr double kDefaultHardConcreteGateLr = 0.1;
    static constexpr double kDefaultMultiplierLr = 0.1;
    static constexpr double kRollbackLrFactor = 0.5;
    /// warmupSteps value meaning "the default for the run's length" (defaultConversionWarmupSteps).
    static constexpr std::int64_t kAutoWarmup = -1;

    std::string studentFolder;  ///< contiguous-group MHA model
    std::int64_t groups = 0;    ///< G, the KV heads of the result
    std::string teacherFolder;  ///< empty: the student folder (aligned MHA = original function)
    /// The merge the gates move onto. Unset: least squares when the student folder holds a
    /// least-squares start for `groups`, else the mean; LeastSquares without one: InputError.
    std::optional<MergeMethod> startMerge;

    std::vector<std::string> trainFiles;    ///< plain text (causal LM), or
    std::string trainJsonl;                 ///< prompt/answer jsonl (method §2)
    std::string validationFile;             ///< held-out plain text (optional)
    std::string tokenizerPath;              ///< empty: studentFolder/tokenizer.model
    std::vector<std::int64_t> trainTokens;  ///< tests: token ids instead of files
    std::vector<std::int64_t> validationTokens;

    /// Provenance for the run file's training settings, so that the report shows the groups that
    /// were trained rather than a new search: the per-layer groups of original head indices the
    /// student was built from, and their source. Not used by the training. Empty: not recorded
    /// (a student aligned outside the pipeline, e.g. by `gqa-cli align`).
    std::vector<Grouping> groupings;
    GroupingSource groupingSource = GroupingSource::Searched;

    std::string outputDir;
    /// Optional HDF5 run file (runfile.h): the training history and settings are written to its
    /// /training group at every checkpoint and at the end (created when missing).
    std::string runFile;
    std::int64_t steps = 200;
    std::int64_t batchSize = 8;
    std::int64_t seqLen = 256;  ///< text windows; jsonl: the maximum example length
    std::int64_t gradAccumulation = 1;
    double learningRate = kDefaultLearningRate;
    double mergedLrScale = kReferenceMergedLrScale;
    double gateLearningRate = 0.0;  ///< 0: the scheme's default (reference: = learningRate)
    double multiplierLearningRate = kDefaultMultiplierLr;
    std::int64_t warmupSteps = kAutoWarmup;  ///< kAutoWarmup or a count of updates
    double weightDecay = kReferenceWeightDecay;
    double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
    double gradClip = 1.0;  ///< 0 disables
    GateSettings gates;     ///< layers/heads/totalSteps are filled in from the model and steps
    DistillationSettings loss;
    /// Which weights train besides the merged heads and gates (trainscope.h); the rest is frozen
    /// in the compute dtype, and the teacher shares it (conversionsession.h).
    TrainScope scope = TrainScope::KeyValue;
    /// Recompute each decoder layer in backward instead of keeping its activations (the layer
    /// inputs are kept): about one more student forward per update for a fraction of the
    /// activation memory.
    bool checkpointActivations = true;
    /// Data parallel (dataparallel.h): null for one process. batchSize is per rank; every rank
    /// runs trainConversion with the same config, rank 0 writes checkpoints, run file and export.
    std::shared_ptr<Communicator> communicator;
    /// ZeRO-1 with several ranks: AdamW state divided across ranks (conversionsession.h).
    bool shardOptimizer = false;
    /// With several ranks: sum gradient buckets across ranks (onto their owners with ZeRO-1)
    /// while the last micro-batch's backward still runs (overlappedreduce.h), not after it.
    bool overlapReduce = true;
    /// Gradient bucket size of the overlapped all-reduce (PyTorch DDP's bucket_cap_mb).
    std::int64_t reduceBucketBytes = OverlappedReduce::kDefaultBucketBytes;
    torch::ScalarType compute = torch::kFloat32;  ///< kFloat32 or kBFloat16 (float32 masters)
    std::optional<DType> exportDtype;             ///< default: the student's stored dtype
    std::int64_t checkpointEvery = 50;            ///< 0: only at the end / cancel
    std::int64_t evalEvery = 50;                  ///< 0: only at the end
    std::int64_t evalBatches = 4;
    std::uint64_t seed = kReferenceSeed;
    torch::Device device = torch::kCPU;
    int maxRollbacks = 3;
    bool exportModel = true;
    /// Tests only: the loss of this update is replaced by NaN once, to exercise the NaN guard.
    std::int64_t poisonStepForTests = 0;
};

struct ConversionTrainingResult {
    std::int64_t steps = 0, startStep = 0;
    bool resumed = false;
    MergeMethod startMerge = MergeMethod::Mean;  ///< the merge the gates moved onto
    /// The checkpoint had already reached `steps`: nothing was trained, the export was written
    /// and verified again (throughput and memory figures are then 0).
    bool alreadyComplete = false;
    TrainingHistory history;
    std::vector<std::pair<std::int64_t, double>> validationHistory;  ///< (step, student CE)
    double finalValidationLoss = 0.0;  ///< exported GQA model's CE on held-out text (NaN: none)
    std::vector<double> finalGates;    ///< layer-major
    double tokensPerSecond = 0.0;
    double peakMemoryMb = 0.0;  ///< process peak resident memory (CPU runs)
    double peakTensorMb = 0.0;  ///< peak of tensor memory on the device (memorytracker.h)
    /// Overlapped all-reduce, last update: gradient buckets, and those started during backward.
    int reduceBuckets = 0;
    int reduceBucketsStartedEarly = 0;
    std::int64_t trainableParameters = 0;  ///< trained weights, merged heads, gate parameters
    std::int64_t frozenParameters = 0;
    int rollbacks = 0;
    std::string checkpointFolder, exportFolder;
    bool exportVerified = false;
    double exportMaxLogitDiff = 0.0;  ///< reloaded export vs gated model at z = 0
    std::vector<std::string> warnings;
};

/// Throws InputError for invalid settings or inputs, Cancelled after checkpointing.
ConversionTrainingResult trainConversion(const ConversionTrainingConfig& config,
                                         ProgressSink& progress);

/// The learning-rate warm-up of a run of `steps` updates when none is given: the reference's 32
/// updates assume ~10^4 updates (method §6.5), so short runs warm up for 10% of their length:
/// min(32, max(1, steps / 10)). Every front end gets this one rule through kAutoWarmup.
std::int64_t defaultConversionWarmupSteps(std::int64_t steps);
/// config.warmupSteps, with kAutoWarmup resolved.
std::int64_t resolvedWarmupSteps(const ConversionTrainingConfig& config);

/// output/checkpoint and output/model (runfile/runfolder.h).
std::string conversionCheckpointFolder(const std::string& outputDir);
std::string conversionExportFolder(const std::string& outputDir);

}  // namespace gqa
