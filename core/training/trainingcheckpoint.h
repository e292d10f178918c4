// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A resumable training checkpoint: everything needed to continue a run as if it had never
// stopped. One folder:
//
//   config.json, model.safetensors   the weights (Checkpoint::save, float32)
//   optimizer.pt                      torch::save of the optimiser (AdamW moments and step counts,
//                                     in TrainableParameters order)
//   generator.pt                      torch::save of the data sampler's torch::Generator state
//   trainer_state.json                {"step", "seed", "loss_history", "validation_history",
//                                      "extra", "tensor_names"}: completed updates, per-update
//                                      training losses, [step, loss] validation points,
//                                      caller-defined fields, names of the tensors below
//   state_tensors.pt                  torch::save of the caller's named tensors (gates, metric
//                                     history), present when there are any
//
// Writes are crash-safe: the folder is written as `<folder>.tmp`, the previous checkpoint is
// moved to `<folder>.old`, the new one renamed into place, and the old one removed. Loading falls
// back to `<folder>.old` when a crash happened between the two renames.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "io/checkpoint.h"

namespace gqa {

struct TrainerState {
    std::int64_t step = 0;  ///< completed optimiser updates
    std::uint64_t seed = 0;
    std::vector<double> lossHistory;  ///< training loss of each update, step 1..step
    std::vector<std::pair<std::int64_t, double>> validationHistory;  ///< (step, loss)
    torch::Tensor generatorState;  ///< torch::Generator::get_state() of the data sampler
    nlohmann::json extra = nlohmann::json::object();  ///< caller's settings (for checks)
    std::map<std::string, torch::Tensor> tensors;     ///< caller's named CPU tensors
};

/// Writes model, optimiser and state to `folder` as described above.
void saveTrainingCheckpoint(const std::string& folder, const Checkpoint& model,
                            const torch::optim::Optimizer& optimizer, const TrainerState& state);

/// The folder to resume from: `folder`, or `<folder>.old` after an interrupted swap, or "" when
/// neither holds a complete checkpoint.
std::string findTrainingCheckpoint(const std::string& folder);

/// Reads the weights and trainer state of a checkpoint folder (InputError when incomplete).
std::pair<Checkpoint, TrainerState> loadTrainingCheckpoint(const std::string& folder);

/// Loads optimizer.pt into an optimiser built over the same parameters in the same order.
void loadOptimizerState(const std::string& folder, torch::optim::Optimizer& optimizer);

/// The settings that differ between a checkpoint's run and this one, named with both values:
/// "lr 0.0001 -> 0.001, kl_weight 1 -> 0.5" (keys of either side; empty when they are equal).
std::string settingsDifferences(const nlohmann::json& saved, const nlohmann::json& now);

/// Replaces `target` by the folder `staged` (same parent): target -> target.old, staged ->
/// target, remove target.old.
void replaceFolder(const std::string& staged, const std::string& target);

}  // namespace gqa
