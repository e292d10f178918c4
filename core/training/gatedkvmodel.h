// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The student of the conversion training (method §6.1): an MHA model whose heads are grouped
// contiguously (k = H / G consecutive heads per group, as applyLayerAlignment leaves them), plus,
// per layer, merged key and value projections of G heads. Original KV head h of group g = h / k
// has a gate z[l][h] in [0, 1], and the layer's effective projections are
//
//   W_K,eff^h = z W_K^h + (1 - z) Wbar_K^g        (and the same for V)
//
// Biases of k/v (Qwen2, Phi, ...) blend the same way, as the constant column of their projection.
// Mixing weights is the same as mixing the projected keys/values before RoPE, as the reference
// code does (both are linear in the input), and costs one [H*d, D] blend per layer instead of a
// second projection of every token. With z = 1 everywhere the model is the MHA model; with z = 0
// every head of a group reads the merged head, which is exactly a GQA model with G KV heads under
// Hugging Face's repeat_kv; exportGqa() writes that model.
//
// The merged heads start as the mean of their group's heads (aligned heads: this method; the
// original consecutive heads: the mean-pool baseline, method §8), and are trained.

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "io/checkpoint.h"
#include "model/decodermodel.h"

namespace gqa {

/// Tensor names of the merged projections in training checkpoints (the reference's kv_layer).
std::string mergedKeyName(std::int64_t layer);
std::string mergedValueName(std::int64_t layer);
std::string mergedKeyBiasName(std::int64_t layer);
std::string mergedValueBiasName(std::int64_t layer);

/// The initial merged heads: the mean over each run of H / G consecutive heads of a [H*d, D]
/// projection -> [G*d, D] (or of a bias [H*d] -> [G*d]).
torch::Tensor groupMeanProjection(const torch::Tensor& projection, std::int64_t groups,
                                  std::int64_t headDim);

class GatedKvModel {
public:
    /// `contiguousMha` must be MHA with `groups` dividing its heads (InputError otherwise). When
    /// it holds merged tensors (a training checkpoint) they are used, else the group means.
    GatedKvModel(const Checkpoint& contiguousMha, std::int64_t groups,
                 torch::ScalarType dtype = torch::kFloat32, torch::Device device = torch::kCPU);

    DecoderModel model;                     ///< the MHA weights
    std::vector<torch::Tensor> mergedKeys;  ///< per layer [G*d, D]
    std::vector<torch::Tensor> mergedValues;
    /// per layer [G*d]; undefined tensors when the model's k/v have no bias
    std::vector<torch::Tensor> mergedKeyBiases, mergedValueBiases;

    std::int64_t groups() const { return m_groups; }
    std::int64_t groupSize() const { return model.config().numHeads / m_groups; }
    const ModelConfig& config() const { return model.config(); }

    /// Final-norm hidden states / logits with gates `gates` [layers, heads]; `compute` is the
    /// dtype the forward runs in (the weights are cast, gradients reach them).
    /// `checkpointLayers`: ForwardOptions::checkpointLayers (recompute layers in backward).
    torch::Tensor hiddenStates(const torch::Tensor& tokens, const torch::Tensor& gates,
                               torch::ScalarType compute, bool checkpointLayers = false) const;
    torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& gates,
                          torch::ScalarType compute, bool checkpointLayers = false) const;

    /// The effective [H*d, D] key and value weights (and [H*d] biases) of a layer under `gates`
    /// [layers, heads].
    KeyValueProjections effectiveKeyValue(std::int64_t layer, const torch::Tensor& gates) const;
    /// Every merged tensor with its training-checkpoint name (weights, then defined biases).
    std::vector<std::pair<std::string, torch::Tensor*>> mergedTensors();
    std::vector<std::pair<std::string, torch::Tensor>> mergedTensors() const;

    /// The MHA weights plus the merged projections (mergedKeyName/mergedValueName), in `dtype`.
    Checkpoint toTrainingCheckpoint(DType dtype) const;
    /// The same with every tensor in the dtype it is held in: a training checkpoint keeps
    /// frozen weights in the compute dtype and trained ones (float32 masters) in float32.
    Checkpoint toTrainingCheckpointAsHeld(DType configDtype) const;
    /// The GQA model at z = 0: k_proj/v_proj = merged heads, num_key_value_heads = G.
    Checkpoint exportGqa(DType dtype) const;

private:
    std::int64_t m_groups = 0;
};

}  // namespace gqa
