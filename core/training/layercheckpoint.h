// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Activation checkpointing of one layer, the C++ counterpart of torch.utils.checkpoint (which
// LibTorch lacks). Forward runs the layer without recording a graph and keeps only the layer's
// input and references to the tensors it reads; backward runs the layer again with gradients on
// and differentiates that fresh graph with torch::autograd::grad. Training memory then holds one
// [B, T, D] activation per layer instead of all of a layer's internals (attention probabilities,
// MLP activations), for the price of a second forward of each layer during backward.
//
// Every tensor the layer reads that may require grad must be passed in `tensors`: gradients
// reach the rest of the graph only through the function's explicit inputs, which is what lets
// them flow on into tensors computed outside the layer (dtype casts of master weights, gated K/V
// mixes). The layer must be deterministic (no dropout), since backward recomputes it. Double
// backward through a checkpointed layer is not supported.

#include <functional>
#include <vector>

#include <torch/torch.h>

namespace gqa {

/// A layer as a pure function of its input and the tensors it reads, in the order given.
using CheckpointedLayer =
    std::function<torch::Tensor(const torch::Tensor& hidden, torch::TensorList tensors)>;

/// layer(hidden, tensors), recomputed during backward instead of keeping its internals. Gradients
/// go to `hidden` and every tensor of `tensors` that requires grad.
torch::Tensor checkpointLayer(CheckpointedLayer layer, const torch::Tensor& hidden,
                              const std::vector<torch::Tensor>& tensors);

}  // namespace gqa
