// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignment/layerwisemerge.h"

#include "alignment/leastsquaresmerge.h"
#include "alignment/mergedgqa.h"
#include "analysis/calibration.h"
#include "base/error.h"
#include "base/threadpolicy.h"
#include "model/decodermodel.h"

namespace gqa {
namespace {

/// Keeps the pre-RoPE keys and values of the one layer it observes, one row per token [N, H, d].
class LayerCapture final : public AttentionObserver {
public:
    void observe(std::int64_t, const torch::Tensor& k, const torch::Tensor& v) override {
        keys = tokenRows(k);
        values = tokenRows(v);
    }
    torch::Tensor keys, values;
};

/// Layer l's attention projections of `model` become those of `gqa` (K/V with G heads).
void takeAttentionWeights(DecoderModel& model, const Checkpoint& gqa, std::int64_t l) {
    const ModelConfig& c = gqa.config;
    for (LayerTensor role :
         {LayerTensor::QWeight, LayerTensor::QBias, LayerTensor::KWeight, LayerTensor::KBias,
          LayerTensor::VWeight, LayerTensor::VBias, LayerTensor::OWeight}) {
        if (!storesTensor(c, role)) continue;
        model.layers[std::size_t(l)][role] =
            gqa.at(tensorName(c, l, role)).to(model.device(), model.dtype());
    }
}
}  // namespace

const char* leastSquaresFitName(LeastSquaresFit fit) {
    return fit == LeastSquaresFit::Layerwise ? "layerwise" : "statistics";
}

LeastSquaresFit parseLeastSquaresFit(const std::string& name) {
    for (LeastSquaresFit f : {LeastSquaresFit::Statistics, LeastSquaresFit::Layerwise})
        if (name == leastSquaresFitName(f)) return f;
    throw InputError("unknown least-squares fit '" + name + "' (valid: statistics, layerwise)");
}

Checkpoint layerwiseLeastSquaresMergeToGqa(const Checkpoint& mha,
                                           const std::vector<std::vector<std::int64_t>>& sequences,
                                           const LayerwiseFitConfig& config,
                                           ProgressSink& progress) {
    const ModelConfig& c = mha.config;
    if (c.numKvHeads != c.numHeads)
        throw InputError("the layer-wise fit merges an MHA model (it has " +
                         std::to_string(c.numKvHeads) + " KV heads for " +
                         std::to_string(c.numHeads) + " heads)");
    const std::vector<torch::Tensor> batches = checkedTokenBatches(sequences, config.batchSize, c, "the layer-wise fit");
    Checkpoint out = mergeToGqa(mha, config.groups);  // checks the groups; every other tensor
    useThreadsForModel(c.hiddenSize);
    torch::NoGradGuard noGrad;
    DecoderModel merged(mha, config.dtype, config.device);  // layers < l merged, the rest MHA
    std::vector<torch::Tensor> hidden;
    for (const torch::Tensor& tokens : batches) hidden.push_back(merged.embed(tokens));
    const std::int64_t H = c.numHeads, d = c.headDim, L = c.numLayers;
    const bool fullRotary = c.rotaryDims() == d;  // plane-only key statistics, as calibration
    const double steps = double(L * std::int64_t(batches.size()));
    reportOrCancel(progress, {0.0, "fitting layer by layer", {}});
    for (std::int64_t l = 0; l < L; ++l) {
        // Layer l's heads (still the aligned MHA's) on the merged model's hidden states.
        LayerStatistics stats{GramStatistics::zeros(H, d, fullRotary, c.rotaryDims()),
                              GramStatistics::zeros(H, d)};
        for (std::size_t b = 0; b < batches.size(); ++b) {
            LayerCapture heads;
            ForwardOptions observe;
            observe.observer = &heads;
            merged.layerForward(l, hidden[b], observe);
            stats.keys.accumulate(heads.keys);
            stats.values.accumulate(heads.values);
            reportOrCancel(progress,
                           {(double(l * std::int64_t(batches.size())) + double(b) + 1.0) / steps,
                            "fitting layer by layer",
                            {{"layer", double(l)}}});
        }
        applyLayerRefit(mha, l, leastSquaresRefit(stats, config.groups, config.mergedHead), out);
        takeAttentionWeights(merged, out, l);
        if (l + 1 == L) break;
        for (torch::Tensor& h : hidden) h = merged.layerForward(l, h);
    }
    return out;
}

}  // namespace gqa
