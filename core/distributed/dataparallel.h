// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Data-parallel pieces of the conversion training (method §10): how a global batch is split
// across ranks so that N ranks compute exactly the update one process computes on the combined
// batch.
//
// Every rank draws the whole global batch of worldSize * batchSize rows from the same generator
// (drawing indices is cheap), so gate noise and data order are identical everywhere, and keeps
// its rows [rank * batchSize, (rank + 1) * batchSize). Each distillation term is a mean over its
// positions (KL, LM) or over samples (BiLD) of the batch, so a rank weights its shard's term by
// the shard's share of the global batch's positions or samples: the sum over ranks of the
// weighted shard losses is the global batch's loss, and summing gradients across ranks gives the
// combined batch's gradient (distillation.h normalises each term by its mask's total).

#include <vector>

#include <torch/torch.h>

#include "distributed/communicator.h"
#include "training/distillation.h"

namespace gqa {

/// Rows [rank * b, (rank + 1) * b) of a global batch of worldSize * b rows.
DistillBatch rankShard(const DistillBatch& global, int rank, int worldSize);

/// The share of each loss term's normaliser that `shard` holds of `global` (1 when the global
/// batch has none, so that an empty term stays empty).
struct ShardShares {
    double kl = 1.0, bild = 1.0, lm = 1.0;
};
ShardShares shardShares(const DistillBatch& global, const DistillBatch& shard);

/// `settings` with each term's weight scaled by the shard's share.
DistillationSettings shardLossSettings(const DistillationSettings& settings,
                                       const ShardShares& shares);

/// Sums the gradients of `parameters` across ranks (missing gradients count as zeros and are
/// created), so that every rank holds the combined batch's gradient.
void allReduceGradients(Communicator& communicator, const std::vector<torch::Tensor>& parameters);

/// ZeRO-1's reduce-scatter: sums each parameter's gradient across ranks onto its owning rank
/// (owners[i] for parameters[i]); this rank's gradients of parameters it does not own are
/// dropped (they are partial sums, and nothing reads them).
void reduceGradientsToOwners(Communicator& communicator,
                             const std::vector<torch::Tensor>& parameters,
                             const std::vector<int>& owners);

/// torch::nn::utils::clip_grad_norm_ for gradients held by their owners only: the 2-norm of all
/// ranks' owned gradients together (one scalar all-reduce), each owned gradient scaled by
/// min(1, maxNorm / (norm + 1e-6)) as PyTorch does. Returns the norm (NaN/inf propagate, the
/// same on every rank).
double clipOwnedGradients(Communicator& communicator, const std::vector<torch::Tensor>& parameters,
                          const std::vector<int>& owners, double maxNorm);

}  // namespace gqa
