// SPDX-License-Identifier: GPL-3.0-or-later
#include "distributed/dataparallel.h"

#include <cmath>

#include "base/error.h"

namespace gqa {

DistillBatch rankShard(const DistillBatch& global, int rank, int worldSize) {
    if (worldSize < 1 || rank < 0 || rank >= worldSize || global.inputs.size(0) % worldSize != 0)
        throw Error("a global batch of " + std::to_string(global.inputs.size(0)) +
                    " rows cannot be split into " + std::to_string(worldSize) + " equal shards");
    const std::int64_t rows = global.inputs.size(0) / worldSize;
    auto slice = [&](const torch::Tensor& t) {
        return t.defined() ? t.narrow(0, rank * rows, rows) : t;
    };
    DistillBatch shard;
    shard.inputs = slice(global.inputs);
    shard.targets = slice(global.targets);
    shard.klMask = slice(global.klMask);
    shard.bildMask = slice(global.bildMask);
    shard.lmMask = slice(global.lmMask);
    return shard;
}

ShardShares shardShares(const DistillBatch& global, const DistillBatch& shard) {
    auto share = [](double part, double whole) { return whole > 0.0 ? part / whole : 1.0; };
    auto total = [](const torch::Tensor& m) { return m.defined() ? m.sum().item<double>() : 0.0; };
    auto samples = [](const torch::Tensor& m) {
        return m.defined() ? (m.sum(1) > 0).sum().item<double>() : 0.0;
    };
    ShardShares s;
    s.kl = share(total(shard.klMask), total(global.klMask));
    s.bild = share(samples(shard.bildMask), samples(global.bildMask));
    s.lm = share(total(shard.lmMask), total(global.lmMask));
    return s;
}

DistillationSettings shardLossSettings(const DistillationSettings& settings,
                                       const ShardShares& shares) {
    DistillationSettings s = settings;
    s.klWeight *= shares.kl;
    s.bildWeight *= shares.bild;
    s.lmWeight *= shares.lm;
    return s;
}

void allReduceGradients(Communicator& communicator, const std::vector<torch::Tensor>& parameters) {
    std::vector<torch::Tensor> grads;
    grads.reserve(parameters.size());
    for (const torch::Tensor& p : parameters) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads.push_back(p.grad());
    }
    communicator.allReduceSum(grads);
}

void reduceGradientsToOwners(Communicator& communicator,
                             const std::vector<torch::Tensor>& parameters,
                             const std::vector<int>& owners) {
    for (int root = 0; root < communicator.worldSize(); ++root) {
        std::vector<torch::Tensor> grads;
        for (std::size_t i = 0; i < parameters.size(); ++i) {
            if (owners.at(i) != root) continue;
            const torch::Tensor& p = parameters[i];
            if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
            grads.push_back(p.grad());
        }
        if (!grads.empty()) communicator.reduceSum(grads, root);
    }
    for (std::size_t i = 0; i < parameters.size(); ++i)
        if (owners[i] != communicator.rank()) parameters[i].mutable_grad().reset();
}

double clipOwnedGradients(Communicator& communicator, const std::vector<torch::Tensor>& parameters,
                          const std::vector<int>& owners, double maxNorm) {
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> owned;
    for (std::size_t i = 0; i < parameters.size(); ++i)
        if (owners.at(i) == communicator.rank() && parameters[i].grad().defined())
            owned.push_back(parameters[i].grad());
    torch::Tensor squares = torch::zeros({1}, torch::kFloat64);
    for (const torch::Tensor& g : owned) squares += g.to(torch::kCPU, torch::kFloat64).pow(2).sum();
    std::vector<torch::Tensor> total{squares};
    communicator.allReduceSum(total);
    const double norm = std::sqrt(total[0].item<double>());
    // PyTorch's clip_grad_norm_: the 1e-6 keeps the coefficient finite for a zero gradient.
    const double coefficient = maxNorm / (norm + 1e-6);
    if (coefficient < 1.0)
        for (const torch::Tensor& g : owned) g.mul_(coefficient);
    return norm;
}

}  // namespace gqa
