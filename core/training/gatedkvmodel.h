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
// The merged heads start as the mean of their group's heads (aligned heads: the paper's method;
// the original consecutive heads: the mean-pool baseline, method §8), and are trained.
//
// Starting from the least-squares merge (method §7.2, §6.1): that merge also refits each query
// head's q_proj rows and o_proj columns so that it reads the merged head well. The student then
// holds those refitted projections too (mergedQueries, mergedOutputs), and query head h blends
//
//   W_Q,eff^h = z W_Q^h + (1 - z) W_Q'^h,   W_O,eff[:, h] = z W_O[:, h] + (1 - z) W_O'[:, h]
//
// with the same gate as its KV head, so z = 1 is still the MHA model and z = 0 is exactly the
// least-squares GQA model. RoPE is linear and the refitted query maps commute with it, so the
// blend of weights is again the blend of the rotated queries. The refitted projections are merged
// tensors: trained with the merged heads, stored in training checkpoints, exported at z = 0.

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
/// The least-squares start's refitted projections: q_proj [H*d, D] (and its bias), o_proj [D, H*d].
std::string mergedQueryName(std::int64_t layer);
std::string mergedQueryBiasName(std::int64_t layer);
std::string mergedOutputName(std::int64_t layer);

/// The initial merged heads: the mean over each run of H / G consecutive heads of a [H*d, D]
/// projection -> [G*d, D] (or of a bias [H*d] -> [G*d]).
torch::Tensor groupMeanProjection(const torch::Tensor& projection, std::int64_t groups,
                                  std::int64_t headDim);

class GatedKvModel {
public:
    /// `contiguousMha` must be MHA with `groups` dividing its heads (InputError otherwise). When
    /// it holds merged tensors (a training checkpoint, or a student with its least-squares start,
    /// mergestart.h) they are used, else the group means.
    GatedKvModel(const Checkpoint& contiguousMha, std::int64_t groups,
                 torch::ScalarType dtype = torch::kFloat32, torch::Device device = torch::kCPU);

    DecoderModel model;                     ///< the MHA weights
    std::vector<torch::Tensor> mergedKeys;  ///< per layer [G*d, D]
    std::vector<torch::Tensor> mergedValues;
    /// per layer [G*d]; undefined tensors when the model's k/v have no bias
    std::vector<torch::Tensor> mergedKeyBiases, mergedValueBiases;
    /// Per layer, the refitted [H*d, D] q_proj (and [H*d] bias) and [D, H*d] o_proj each query
    /// head uses at z = 0; undefined unless the student starts from the least-squares merge.
    std::vector<torch::Tensor> mergedQueries, mergedQueryBiases, mergedOutputs;

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

    /// True when the student holds the least-squares start's refitted q_proj/o_proj.
    bool refitsQueries() const { return !mergedQueries.empty() && mergedQueries[0].defined(); }

    /// Sets the projections of `w` to the blends of this layer's original and merged ones under
    /// `gates` [layers, heads], in `compute`: k/v (and biases) always, q/o when refitsQueries().
    void blendLayer(std::int64_t layer, const torch::Tensor& gates, torch::ScalarType compute,
                    LayerWeights& w) const;
    /// Every merged tensor with its training-checkpoint name: keys, values, key and value
    /// biases, then the refitted q weights, q biases and o weights (the optimiser's parameter
    /// order; checkpoints written before the later kinds existed rely on it).
    std::vector<std::pair<std::string, torch::Tensor*>> mergedTensors();
    std::vector<std::pair<std::string, torch::Tensor>> mergedTensors() const;

    /// The MHA weights plus the merged projections (mergedKeyName/mergedValueName), in `dtype`.
    Checkpoint toTrainingCheckpoint(DType dtype) const;
    /// The same with every tensor in the dtype it is held in: a training checkpoint keeps
    /// frozen weights in the compute dtype and trained ones (float32 masters) in float32.
    Checkpoint toTrainingCheckpointAsHeld(DType configDtype) const;
    /// The GQA model at z = 0: k_proj/v_proj = merged heads, num_key_value_heads = G, and the
    /// refitted q_proj/o_proj when refitsQueries().
    Checkpoint exportGqa(DType dtype) const;

private:
    /// The merged lists with their name functions, in mergedTensors() order.
    template <class Self, class Visit>
    static void visitMerged(Self& self, Visit visit);

    std::int64_t m_groups = 0;
};

}  // namespace gqa
