// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/layercheckpoint.h"

#include <utility>

#include "base/error.h"

namespace gqa {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The layer closure, kept in the autograd context until backward. AutogradContext::saved_data
/// holds IValues only; a capsule is the one IValue that carries an unregistered C++ object, on
/// LibTorch 1.13 and 2.x alike.
struct LayerHolder final : torch::CustomClassHolder {
    explicit LayerHolder(CheckpointedLayer f) : layer(std::move(f)) {}
    CheckpointedLayer layer;
};

constexpr const char* kLayerKey = "layer";

// Function<T>::apply registers a torch::TensorList argument (c10::ArrayRef) as one input per
// tensor, and backward returns one gradient per registered tensor plus an undefined one for each
// non-tensor argument (here the leading layer closure). A std::vector<Tensor> argument would bind
// to ExtractVariables' catch-all template instead (an exact match beats the conversion to
// ArrayRef) and silently get no gradient, so the tensors travel as an ArrayRef. The same holds in
// custom_function.h of 1.13 and 2.x.
class LayerCheckpointFunction : public torch::autograd::Function<LayerCheckpointFunction> {
public:
    static torch::Tensor forward(AutogradContext* ctx, const CheckpointedLayer& layer,
                                 const torch::Tensor& hidden, torch::TensorList tensors) {
        torch::NoGradGuard noGrad;  // apply() already disables grad mode; this says so
        variable_list saved{hidden};
        saved.insert(saved.end(), tensors.begin(), tensors.end());
        ctx->save_for_backward(saved);
        ctx->saved_data[kLayerKey] =
            c10::IValue::make_capsule(c10::make_intrusive<LayerHolder>(layer));
        return layer(hidden, tensors);
    }

    static variable_list backward(AutogradContext* ctx, variable_list gradOutputs) {
        const variable_list saved = ctx->get_saved_variables();
        const auto holder =
            c10::static_intrusive_pointer_cast<LayerHolder>(ctx->saved_data[kLayerKey].toCapsule());
        // Fresh leaves sharing the saved storage; only those whose gradient is asked for track.
        variable_list inputs, wanted;
        std::vector<std::size_t> wantedIndex;
        for (std::size_t i = 0; i < saved.size(); ++i) {
            torch::Tensor t = saved[i].defined() ? saved[i].detach() : saved[i];
            if (t.defined() && ctx->needs_input_grad(i)) {
                t.requires_grad_(true);
                wanted.push_back(t);
                wantedIndex.push_back(i);
            }
            inputs.push_back(t);
        }
        variable_list grads(1 + saved.size());  // grads[0]: the layer closure, not a tensor
        if (wanted.empty()) return grads;
        torch::Tensor out;
        {
            torch::AutoGradMode enable(true);  // the engine runs backward with grad mode off
            out = holder->layer(inputs[0], torch::TensorList(inputs).slice(1));
        }
        if (!out.requires_grad()) return grads;
        const variable_list g =
            torch::autograd::grad({out}, wanted, {gradOutputs[0]}, /*retain_graph=*/false,
                                  /*create_graph=*/false, /*allow_unused=*/true);
        for (std::size_t k = 0; k < wanted.size(); ++k) grads[1 + wantedIndex[k]] = g[k];
        return grads;
    }
};

}  // namespace

torch::Tensor checkpointLayer(CheckpointedLayer layer, const torch::Tensor& hidden,
                              const std::vector<torch::Tensor>& tensors) {
    if (!layer || !hidden.defined()) throw Error("checkpointLayer needs a layer and an input");
    const torch::TensorList list(tensors);
    return LayerCheckpointFunction::apply(layer, hidden, list);
}

}  // namespace gqa
