// SPDX-License-Identifier: GPL-3.0-or-later
#include "dataparallel.h"

#include "error.h"

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

}  // namespace gqa
