// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/training.h"

#include <limits>

namespace gqa {

TrainableParameters makeTrainable(DecoderModel& model) {
    TrainableParameters p;
    auto leaf = [&](torch::Tensor& t) {
        t = t.detach().clone().requires_grad_(true);
        p.all.push_back(t);
        (t.dim() >= 2 ? p.decay : p.noDecay).push_back(t);
    };
    for (const DecoderModel::NamedWeight& w : model.namedWeights()) leaf(*w.tensor);
    if (model.config().tieWordEmbeddings) model.lmHead = model.embedTokens;
    return p;
}

std::unique_ptr<torch::optim::AdamW> makeAdamW(const TrainableParameters& parameters,
                                               const AdamWSettings& settings) {
    auto options = [&](double decay) {
        return torch::optim::AdamWOptions()
            .betas({settings.beta1, settings.beta2})
            .eps(settings.eps)
            .weight_decay(decay);
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(parameters.decay, std::make_unique<torch::optim::AdamWOptions>(
                                              options(settings.weightDecay)));
    groups.emplace_back(parameters.noDecay,
                        std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
    return std::make_unique<torch::optim::AdamW>(std::move(groups), options(settings.weightDecay));
}

void setLearningRate(torch::optim::Optimizer& optimizer, double lr) {
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

torch::Tensor nextTokenLoss(const DecoderModel& model, const TokenBatch& batch) {
    const torch::Tensor logits = model.forward(batch.inputs);  // [B, T, V]
    const std::int64_t vocab = logits.size(-1);
    return torch::nn::functional::cross_entropy(logits.reshape({-1, vocab}).to(torch::kFloat32),
                                                batch.targets.reshape({-1}).to(logits.device()));
}

double evaluateLoss(const DecoderModel& model, const std::vector<TokenBatch>& batches) {
    torch::NoGradGuard noGrad;
    double sum = 0.0;
    std::int64_t tokens = 0;
    for (const TokenBatch& b : batches) {
        const std::int64_t n = b.targets.numel();
        sum += nextTokenLoss(model, b).item<double>() * double(n);
        tokens += n;
    }
    return tokens ? sum / double(tokens) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace gqa
