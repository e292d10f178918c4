// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Building blocks of gradient training on a DecoderModel, shared by pretraining and the conversion
// training: turning the model's plain weight tensors into trainable leaves, AdamW with decoupled
// weight decay on matrices only, the next-token loss, and the validation loss.
//
// Weight decay follows nanoGPT and the Llama recipe: every 2-D weight (projections, embeddings,
// LM head) decays; RMSNorm gains (1-D) do not, since shrinking them towards 0 only fights the
// normalisation. A tied LM head is the embedding tensor itself, so it is one parameter.

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "model/decodermodel.h"
#include "text/tokendataset.h"

namespace gqa {

/// Offset between a run's seed and its data sampler's generator seed, so that the sampling stream
/// is independent of the weight (or gate) initialisation drawn from the seed itself.
constexpr std::uint64_t kDataSeedOffset = 0x9E3779B97F4A7C15ull;

/// The model's weights as optimiser parameters, in a fixed order (embeddings, then each layer's
/// norms and projections, final norm, untied LM head): the order optimiser state is saved in.
struct TrainableParameters {
    std::vector<torch::Tensor> all;
    std::vector<torch::Tensor> decay;    ///< 2-D weights
    std::vector<torch::Tensor> noDecay;  ///< 1-D norm gains
};

/// Replaces every weight of `model` with an independent float leaf that requires grad (the tied
/// LM head stays the same tensor as the embeddings) and returns them.
TrainableParameters makeTrainable(DecoderModel& model);

struct AdamWSettings {
    double weightDecay = 0.1;
    double beta1 = 0.9;
    double beta2 = 0.95;
    double eps = 1e-8;
};

/// AdamW with two parameter groups: [0] decay (weightDecay), [1] no decay (0).
std::unique_ptr<torch::optim::AdamW> makeAdamW(const TrainableParameters& parameters,
                                               const AdamWSettings& settings);

/// Sets the learning rate of every parameter group.
void setLearningRate(torch::optim::Optimizer& optimizer, double lr);

/// Mean cross-entropy of predicting batch.targets from batch.inputs, a scalar with grad.
torch::Tensor nextTokenLoss(const DecoderModel& model, const TokenBatch& batch);

/// Mean next-token loss over the batches (token-weighted), without grad. NaN when empty.
double evaluateLoss(const DecoderModel& model, const std::vector<TokenBatch>& batches);

}  // namespace gqa
