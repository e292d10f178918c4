// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Pretraining a Llama MHA model from scratch on a token stream: the demo model's origin, and the
// training loop the conversion training builds on.
//
// AdamW (decay on matrices only, see training.h), warmup + cosine learning rate (lrschedule.h),
// global gradient-norm clipping, gradient accumulation, next-token cross-entropy, float32.
// Each update samples `gradAccumulation` batches of `batchSize` random windows of `seqLen + 1`
// tokens (tokendataset.h) from a generator seeded by `seed`, so a run is a function of its config.
//
// Output folder layout:
//   checkpoint/          resumable state (trainingcheckpoint.h), every checkpointEvery updates,
//                        at the end, and when cancelled
//   model/               the final model: config.json, model.safetensors, tokenizer.model
//   tokens-train.bin     token caches (tokendataset.h), re-used by later runs
//   tokens-validation.bin
//
// Resume is the default: when output/checkpoint holds a checkpoint, pretrain() continues from
// it, restoring weights, optimiser moments, step and the data generator, so an interrupted and
// resumed run follows the same loss curve as an uninterrupted one. The model shape must match.
// The sink gets one report per update with metrics step, loss, lr, grad_norm, tokens_per_s and,
// on evaluation updates, val_loss. When it answers "stop", a checkpoint is written and Cancelled
// is thrown.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "io/modelconfig.h"
#include "base/progress.h"
#include "model/randominit.h"

namespace gqa {

struct PretrainConfig {
    // Defaults for the demo model on CPU: a few thousand updates of 8 x 256 tokens.
    static constexpr std::int64_t kDefaultSteps = 2000;
    static constexpr std::int64_t kDefaultBatchSize = 8;
    static constexpr std::int64_t kDefaultSeqLen = 256;
    static constexpr double kDefaultPeakLr = 1e-3;  ///< small models tolerate nanoGPT-like 1e-3
    static constexpr double kDefaultMinLr = 1e-4;   ///< peak / 10, as Chinchilla recommends
    static constexpr std::int64_t kDefaultWarmupSteps = 100;
    static constexpr double kDefaultWeightDecay = 0.1;  ///< Llama's AdamW settings
    static constexpr double kDefaultBeta1 = 0.9;
    static constexpr double kDefaultBeta2 = 0.95;
    static constexpr double kDefaultGradClip = 1.0;  ///< max global L2 norm of the gradient
    static constexpr std::int64_t kDefaultEvalEvery = 100;
    static constexpr std::int64_t kDefaultEvalBatches = 4;
    static constexpr std::int64_t kDefaultCheckpointEvery = 200;

    ModelConfig model;  ///< shape of the model to train (MHA); stored as float32

    /// Text input: files tokenized with the SentencePiece model `tokenizerPath` (copied into the
    /// final model folder). Ignored when trainTokens is non-empty.
    std::vector<std::string> trainFiles;
    std::string validationFile;  ///< optional held-out text
    std::string tokenizerPath;
    /// Token-id input (tests, pre-tokenized data): used instead of the files when non-empty.
    std::vector<std::int64_t> trainTokens;
    std::vector<std::int64_t> validationTokens;

    std::string outputDir;
    std::int64_t steps = kDefaultSteps;  ///< total optimiser updates
    std::int64_t batchSize = kDefaultBatchSize;
    std::int64_t seqLen = kDefaultSeqLen;
    std::int64_t gradAccumulation = 1;  ///< batches per update
    double peakLr = kDefaultPeakLr;
    double minLr = kDefaultMinLr;
    std::int64_t warmupSteps = kDefaultWarmupSteps;
    double weightDecay = kDefaultWeightDecay;
    double beta1 = kDefaultBeta1;
    double beta2 = kDefaultBeta2;
    double gradClip = kDefaultGradClip;          ///< 0 disables clipping
    std::int64_t evalEvery = kDefaultEvalEvery;  ///< 0 = only at the end
    std::int64_t evalBatches = kDefaultEvalBatches;
    std::int64_t checkpointEvery = kDefaultCheckpointEvery;  ///< 0 = only at the end / cancel
    std::uint64_t seed = 0;
    double initStd = kDefaultInitStd;
    torch::Device device = torch::kCPU;
};

struct PretrainResult {
    std::int64_t steps = 0;      ///< completed updates in total
    std::int64_t startStep = 0;  ///< where this call started (> 0 when resumed)
    bool resumed = false;
    bool alreadyComplete = false;      ///< the checkpoint had reached `steps`: nothing trained
    double finalLoss = 0.0;            ///< training loss of the last update
    double finalValidationLoss = 0.0;  ///< NaN when there is no validation data
    std::vector<double> lossHistory;   ///< per update, from step 1
    std::vector<std::pair<std::int64_t, double>> validationHistory;
    double tokensPerSecond = 0.0;  ///< training throughput of this call
    std::int64_t trainTokens = 0;
    std::string modelFolder;
    std::string checkpointFolder;
    std::vector<std::string> warnings;
};

/// Throws InputError for invalid settings or inputs (naming the field or file), Cancelled after
/// checkpointing when the sink asks to stop.
PretrainResult pretrain(const PretrainConfig& config, ProgressSink& progress);

/// The checkpoint folder of an output folder (output/checkpoint).
std::string pretrainCheckpointFolder(const std::string& outputDir);

}  // namespace gqa
