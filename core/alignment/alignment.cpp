// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignment/alignment.h"

#include "base/error.h"
#include "model/decodermodel.h"
#include "alignment/procrustes.h"

namespace gqa {
namespace {

/// The statistic that alignment fits: raw rows for dist, unit-normalised rows for cos.
torch::Tensor fitBlock(const GramStatistics& s, Criterion c, std::int64_t i, std::int64_t j) {
    return c == Criterion::Cos ? s.normalizedBlock(i, j) : s.rawBlock(i, j);
}

/// Sum over pairs r < s of the mean cosine between aligned heads: tr(T_r^T C^_rs T_s).
double pairwiseMeanCosine(const GramStatistics& s, const std::vector<std::int64_t>& members,
                          const std::vector<torch::Tensor>& t) {
    double total = 0.0;
    for (std::size_t r = 0; r < members.size(); ++r)
        for (std::size_t q = r + 1; q < members.size(); ++q)
            total += torch::trace(t[r].t().mm(s.normalizedBlock(members[r], members[q])).mm(t[q]))
                         .item<double>();
    return total / double(std::max<std::int64_t>(1, s.tokens));
}

torch::Tensor blockDiagonal(const std::vector<torch::Tensor>& blocks) {
    const std::int64_t d = blocks.front().size(0), n = blocks.size();
    torch::Tensor out = torch::zeros({n * d, n * d}, torch::kFloat64);
    for (std::int64_t h = 0; h < n; ++h)
        out.slice(0, h * d, (h + 1) * d).slice(1, h * d, (h + 1) * d) = blocks[h];
    return out;
}

GramStatistics transformed(const GramStatistics& s, const std::vector<std::int64_t>& order,
                           const std::vector<torch::Tensor>& transforms) {
    GramStatistics p = s.permuted(order);
    const torch::Tensor t = blockDiagonal(transforms);
    p.raw = t.t().mm(p.raw).mm(t);
    p.normalized = t.t().mm(p.normalized).mm(t);
    return p;
}

std::vector<torch::Tensor> identities(std::int64_t count, std::int64_t d) {
    return std::vector<torch::Tensor>(count, torch::eye(d, torch::kFloat64));
}

}  // namespace

std::vector<torch::Tensor> generalizedProcrustes(const GramStatistics& stats,
                                                 const std::vector<std::int64_t>& members,
                                                 HeadKind kind, const AlignmentConfig& config,
                                                 int* iterations) {
    const std::size_t k = members.size();
    std::vector<torch::Tensor> t = identities(k, stats.headDim);
    if (iterations) *iterations = 0;
    for (std::size_t r = 1; r < k; ++r)
        t[r] = alignmentTransform(kind, fitBlock(stats, config.criterion, members[r], members[0]),
                                  stats.rotaryDimensions());
    if (k <= 2) return t;

    double loss = pairwiseMeanCosine(stats, members, t);
    for (int it = 0; it < config.gpaMaxIterations; ++it) {
        // Cross-Gram of head r with the current mean M = (1/k) sum_s X_s T_s.
        std::vector<torch::Tensor> next(k);
        for (std::size_t r = 0; r < k; ++r) {
            torch::Tensor towardMean =
                torch::zeros({stats.headDim, stats.headDim}, torch::kFloat64);
            for (std::size_t s = 0; s < k; ++s)
                towardMean += fitBlock(stats, config.criterion, members[r], members[s]).mm(t[s]);
            next[r] = alignmentTransform(kind, towardMean / double(k), stats.rotaryDimensions());
        }
        const double nextLoss = pairwiseMeanCosine(stats, members, next);
        t = next;
        if (iterations) *iterations = it + 1;
        if (nextLoss - loss < config.gpaTolerance) break;
        loss = nextLoss;
    }
    return t;
}

LayerAlignment alignLayer(const LayerStatistics& stats, const Grouping& groups,
                          const AlignmentConfig& config) {
    const std::int64_t d = stats.values.headDim;
    LayerAlignment a = permutationOnly(groups, d);
    std::size_t position = 0;
    for (const auto& members : a.groups) {
        int iterations = 0;
        if (config.alignKeys) {
            auto t =
                generalizedProcrustes(stats.keys, members, HeadKind::Keys, config, &iterations);
            std::copy(t.begin(), t.end(), a.keyTransforms.begin() + position);
        }
        a.gpaIterations.push_back(iterations);
        iterations = 0;
        if (config.alignValues) {
            auto t =
                generalizedProcrustes(stats.values, members, HeadKind::Values, config, &iterations);
            std::copy(t.begin(), t.end(), a.valueTransforms.begin() + position);
        }
        a.gpaIterations.push_back(iterations);
        position += members.size();
    }
    return a;
}

LayerAlignment permutationOnly(const Grouping& groups, std::int64_t headDim) {
    LayerAlignment a;
    a.groups = canonicalGrouping(groups);
    a.order = headOrder(a.groups);
    a.keyTransforms = identities(a.order.size(), headDim);
    a.valueTransforms = identities(a.order.size(), headDim);
    return a;
}

void applyLayerAlignment(Checkpoint& ck, std::int64_t layer, const LayerAlignment& a) {
    const ModelConfig& c = ck.config;
    if (!c.isMha()) throw InputError("alignment needs an MHA checkpoint (KV heads = heads)");
    const std::int64_t H = c.numHeads, d = c.headDim, D = c.hiddenSize;
    validateGrouping(a.groups, H);
    const torch::Tensor order = torch::tensor(a.order, torch::kLong);
    const torch::Tensor keyT = torch::stack(a.keyTransforms).transpose(1, 2);      // T^T [H, d, d]
    const torch::Tensor valueT = torch::stack(a.valueTransforms).transpose(1, 2);  // T^T [H, d, d]

    // A projection's rows per head, weight [H*d, D] or bias [H*d] (a bias is the projection's
    // constant column, so it moves and turns with its rows).
    auto rows = [&](LayerTensor role, const torch::Tensor& transposedT) {
        if (!storesTensor(c, role)) return;
        const std::string name = tensorName(c, layer, role);
        const torch::Tensor w = ck.at(name);
        const std::int64_t columns = w.dim() == 2 ? D : 1;
        torch::Tensor heads = w.to(torch::kFloat64).view({H, d, columns}).index_select(0, order);
        ck.set(name,
               torch::matmul(transposedT, heads).view(w.sizes()).to(w.scalar_type()).contiguous());
    };
    for (auto [role, transform] : {std::pair{LayerTensor::QWeight, keyT},
                                   {LayerTensor::QBias, keyT},
                                   {LayerTensor::KWeight, keyT},
                                   {LayerTensor::KBias, keyT},
                                   {LayerTensor::VWeight, valueT},
                                   {LayerTensor::VBias, valueT}})
        rows(role, transform);

    // o_proj's columns; its bias is added after the heads are summed and does not change.
    const std::string oName = tensorName(c, layer, LayerTensor::OWeight);
    const torch::Tensor o = ck.at(oName);
    torch::Tensor heads =
        o.to(torch::kFloat64).view({D, H, d}).index_select(1, order).permute({1, 0, 2});
    torch::Tensor folded = torch::matmul(heads, torch::stack(a.valueTransforms));  // W_O^h T_h
    ck.set(oName, folded.permute({1, 0, 2}).reshape({D, H * d}).to(o.scalar_type()).contiguous());
}

LayerStatistics alignedStatistics(const LayerStatistics& stats, const LayerAlignment& a) {
    return {transformed(stats.keys, a.order, a.keyTransforms),
            transformed(stats.values, a.order, a.valueTransforms)};
}

}  // namespace gqa
