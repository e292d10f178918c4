// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The least-squares merge fitted layer by layer on the merged model's own inputs (method §7.4).
//
// The fit on calibration statistics (leastsquaresmerge.h) fits every layer on the original
// model's activations. Once the layers before it are merged, a layer no longer sees the original's
// inputs. Here layer l is fitted after layers 0 .. l-1 are merged, on the statistics of its own
// aligned heads over the merged model's hidden states: the fit is made for the inputs the merged
// layer will actually see.
//
// Fitting instead the original model's keys and values (on its own inputs) from the merged heads
// on the merged model's inputs, so that each layer would also undo the errors of the layers before
// it, was measured and rejected (docs/method.md §7.4): the earlier errors act as noise in the
// regressor and shrink the refit (regression dilution), and held-out perplexity got worse at
// every G (G = 1: 102.4 -> 224.0 on the demo).
//
// It costs a second pass over the calibration tokens (each layer twice: once to measure its heads,
// once merged to move on) and keeps every calibration token's hidden state:
// tokens x hidden x (4 bytes in float32), 8 MiB for the demo's 32 x 256 tokens at hidden 256.
// Exact where the fit on statistics is (copies of a head up to what it can fit): then each merged
// layer reproduces the original, and every later layer sees the original's inputs.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "alignment/mergedhead.h"
#include "base/progress.h"
#include "io/checkpoint.h"

namespace gqa {

/// What the least-squares merge is fitted on.
enum class LeastSquaresFit {
    Statistics,  ///< the calibration statistics of the original model (one pass, stored)
    Layerwise,   ///< layer by layer on the merged model's own inputs (a second pass, §7.4)
};
const char* leastSquaresFitName(LeastSquaresFit fit);  ///< "statistics", "layerwise"
/// Inverse of leastSquaresFitName; InputError naming the valid values otherwise.
LeastSquaresFit parseLeastSquaresFit(const std::string& name);

struct LayerwiseFitConfig {
    std::int64_t groups = 0;  ///< G contiguous groups
    MergedHead mergedHead = kDefaultMergedHead;
    std::int64_t batchSize = 8;  ///< sequences per forward
    /// Compute dtype of both models: float64 keeps the fit exact for tests; float32 otherwise.
    torch::ScalarType dtype = torch::kFloat32;
    torch::Device device = torch::kCPU;
};

/// The GQA checkpoint of a contiguous-group MHA checkpoint (as leastSquaresMergeToGqa) fitted
/// layer by layer on `sequences` [S][T], the calibration tokens (all of one length, ids inside
/// the vocabulary). Progress per batch ("fitting layer by layer"); Cancelled when the sink asks
/// to stop; InputError for bad sequences or groups.
Checkpoint layerwiseLeastSquaresMergeToGqa(const Checkpoint& contiguousMha,
                                           const std::vector<std::vector<std::int64_t>>& sequences,
                                           const LayerwiseFitConfig& config,
                                           ProgressSink& progress);

}  // namespace gqa
