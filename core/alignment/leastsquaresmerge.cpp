// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignment/leastsquaresmerge.h"

#include "base/error.h"
#include "model/llamamodel.h"

namespace gqa {
namespace {
using torch::indexing::Slice;

void checkGroups(const LayerStatistics& s, std::int64_t groups) {
    if (groups < 1 || s.values.heads % groups != 0)
        throw InputError("the number of groups must divide the number of heads");
}

/// C_ij = E[x_i x_j^T], d x d, from a Gram statistic.
torch::Tensor block(const GramStatistics& s, std::int64_t i, std::int64_t j) {
    return s.rawBlock(i, j) / double(std::max<std::int64_t>(1, s.tokens));
}

/// E[x_h x_m^T] and E[x_m x_m^T] of query head h and its group's mean head.
std::pair<torch::Tensor, torch::Tensor> meanCovariances(const GramStatistics& s, std::int64_t h,
                                                        std::int64_t groups) {
    const std::int64_t k = s.heads / groups, first = (h / k) * k;
    torch::Tensor hm = torch::zeros({s.headDim, s.headDim}, torch::kFloat64);
    torch::Tensor mm = torch::zeros({s.headDim, s.headDim}, torch::kFloat64);
    for (std::int64_t r = first; r < first + k; ++r) {
        hm += block(s, h, r);
        for (std::int64_t q = first; q < first + k; ++q) mm += block(s, r, q);
    }
    return {hm / double(k), mm / double(k * k)};
}

/// B_h = C_hm (C_mm + lambda I)^-1; the identity when the merged head carries no signal.
torch::Tensor valueMap(const torch::Tensor& hm, const torch::Tensor& mm) {
    const std::int64_t d = mm.size(0);
    const double scale = torch::trace(mm).item<double>() / double(d);
    if (!(scale > 0.0)) return torch::eye(d, torch::kFloat64);
    const torch::Tensor ridged = mm + kRelativeRidge * scale * torch::eye(d, torch::kFloat64);
    // X (mm + lambda) = hm  <=>  (mm + lambda) X^T = hm^T (the ridged matrix is symmetric).
    return torch::mm(torch::inverse(ridged), hm.t()).t();
}

/// The scaled rotation of plane (p, p + d/2) fitting x ~ M y, and its residual E|x - M y|^2.
struct PlaneFit {
    double a = 1.0, b = 0.0, residual = 0.0;
};
PlaneFit planeFit(const torch::Tensor& hh, const torch::Tensor& hm, const torch::Tensor& mm,
                  std::int64_t p, std::int64_t half) {
    auto at = [](const torch::Tensor& t, std::int64_t i, std::int64_t j) {
        return t[i][j].item<double>();
    };
    const std::int64_t u = p, w = p + half;
    const double xx = at(hh, u, u) + at(hh, w, w);
    const double yy = at(mm, u, u) + at(mm, w, w);
    const double xyTrace = at(hm, u, u) + at(hm, w, w);
    const double xJy = at(hm, w, u) - at(hm, u, w);  // E[x^T J y], J = [[0, -1], [1, 0]]
    PlaneFit f;
    if (!(yy > 0.0)) {
        f.residual = xx - 2.0 * xyTrace + yy;  // the mean merge's residual (M = I)
        return f;
    }
    f.a = xyTrace / yy;
    f.b = xJy / yy;
    f.residual = std::max(0.0, xx - (xyTrace * xyTrace + xJy * xJy) / yy);
    return f;
}

torch::Tensor keyMap(const GramStatistics& keys, std::int64_t h, std::int64_t groups) {
    const std::int64_t d = keys.headDim, half = d / 2;
    const auto [hm, mm] = meanCovariances(keys, h, groups);
    const torch::Tensor hh = block(keys, h, h);
    torch::Tensor A = torch::zeros({d, d}, torch::kFloat64);
    for (std::int64_t p = 0; p < half; ++p) {
        const PlaneFit f = planeFit(hh, hm, mm, p, half);
        A[p][p] = f.a;
        A[p][p + half] = -f.b;
        A[p + half][p] = f.b;
        A[p + half][p + half] = f.a;
    }
    return A;
}
}  // namespace

const char* mergeMethodName(MergeMethod method) {
    return method == MergeMethod::LeastSquares ? "least-squares" : "mean";
}

MergeMethod parseMergeMethod(const std::string& name) {
    for (MergeMethod m : {MergeMethod::Mean, MergeMethod::LeastSquares})
        if (name == mergeMethodName(m)) return m;
    throw InputError("unknown merge '" + name + "' (valid: mean, least-squares)");
}

LayerRefit leastSquaresRefit(const LayerStatistics& stats, std::int64_t groups) {
    checkGroups(stats, groups);
    LayerRefit refit;
    for (std::int64_t h = 0; h < stats.values.heads; ++h) {
        const auto [hm, mm] = meanCovariances(stats.values, h, groups);
        refit.valueMaps.push_back(valueMap(hm, mm));
        refit.keyMaps.push_back(keyMap(stats.keys, h, groups));
    }
    return refit;
}

Checkpoint leastSquaresMergeToGqa(const Checkpoint& mha,
                                  const std::vector<LayerStatistics>& alignedStats,
                                  std::int64_t groups) {
    const ModelConfig& c = mha.config;
    if (std::int64_t(alignedStats.size()) != c.numLayers)
        throw InputError("the least-squares merge needs statistics of every layer (" +
                         std::to_string(alignedStats.size()) + " given for " +
                         std::to_string(c.numLayers) + " layers)");
    Checkpoint out = mergeToGqa(mha, groups);
    const std::int64_t d = c.headDim;
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        if (alignedStats[l].values.heads != c.numHeads || alignedStats[l].values.headDim != d)
            throw InputError("layer " + std::to_string(l) +
                             ": the statistics do not match the model's heads");
        const LayerRefit refit = leastSquaresRefit(alignedStats[l], groups);
        const std::string qName = layerTensorName(l, "self_attn.q_proj.weight");
        const std::string oName = layerTensorName(l, "self_attn.o_proj.weight");
        const torch::Tensor q = mha.at(qName), o = mha.at(oName);
        torch::Tensor q64 = q.to(torch::kFloat64).clone(), o64 = o.to(torch::kFloat64).clone();
        for (std::int64_t h = 0; h < c.numHeads; ++h) {
            const Slice rows(h * d, (h + 1) * d);
            q64.index_put_({rows}, torch::mm(refit.keyMaps[h].t(), q64.index({rows})));
            o64.index_put_({Slice(), rows},
                           torch::mm(o64.index({Slice(), rows}), refit.valueMaps[h]));
        }
        out.set(qName, q64.to(q.scalar_type()).contiguous());
        out.set(oName, o64.to(o.scalar_type()).contiguous());
    }
    return out;
}

MergeCost predictLeastSquaresMergeCost(const LayerStatistics& stats, std::int64_t groups) {
    checkGroups(stats, groups);
    MergeCost cost;
    double keyEnergy = 0.0, valueEnergy = 0.0;
    const std::int64_t d = stats.values.headDim;
    for (std::int64_t h = 0; h < stats.values.heads; ++h) {
        const auto [vhm, vmm] = meanCovariances(stats.values, h, groups);
        const torch::Tensor vhh = block(stats.values, h, h);
        const torch::Tensor B = valueMap(vhm, vmm);
        valueEnergy += torch::trace(vhh).item<double>();
        cost.valueResidual +=
            std::max(0.0, torch::trace(vhh).item<double>() -
                              2.0 * torch::trace(torch::mm(B, vhm.t())).item<double>() +
                              torch::trace(torch::mm(torch::mm(B, vmm), B.t())).item<double>());
        const auto [khm, kmm] = meanCovariances(stats.keys, h, groups);
        const torch::Tensor khh = block(stats.keys, h, h);
        keyEnergy += torch::trace(khh).item<double>();
        for (std::int64_t p = 0; p < d / 2; ++p)
            cost.keyResidual += planeFit(khh, khm, kmm, p, d / 2).residual;
    }
    cost.keyRelative = keyEnergy > 0 ? cost.keyResidual / keyEnergy : 0.0;
    cost.valueRelative = valueEnergy > 0 ? cost.valueResidual / valueEnergy : 0.0;
    return cost;
}

}  // namespace gqa
