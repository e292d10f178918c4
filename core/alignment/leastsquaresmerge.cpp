// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignment/leastsquaresmerge.h"

#include "base/error.h"
#include "model/decodermodel.h"

namespace gqa {
namespace {
using torch::indexing::Slice;

void checkGroups(const LayerStatistics& s, std::int64_t groups) {
    if (groups < 1 || s.values.heads % groups != 0)
        throw InputError("the number of groups must divide the number of heads");
}

/// Second moments of every head against its own group's merged head y_g = sum_r P[g, r] x_r
/// (mergedhead.h): own[h] = E[x_h x_h^T], withMerged[h] = E[x_h y^T], merged[g] = E[y y^T].
struct MergedMoments {
    std::int64_t groupSize = 1;
    std::int64_t rotaryDims = 0;    ///< keys: leading dimensions in RoPE planes
    torch::Tensor own, withMerged;  ///< [H, d, d]
    torch::Tensor merged;           ///< [G, d, d]
    torch::Tensor mergedOf(std::int64_t h) const { return merged[h / groupSize]; }
};

MergedMoments mergedMoments(const GramStatistics& s, const torch::Tensor& mix) {
    const std::int64_t H = s.heads, groups = mix.size(0), k = mix.size(1);
    const torch::Tensor C = headBlockMoments(s);  // [a, b, i, j]
    MergedMoments m;
    m.groupSize = k;
    m.rotaryDims = s.rotaryDimensions();
    const torch::Tensor heads = torch::arange(H, torch::kLong);
    m.own = C.index({heads, heads});
    std::vector<torch::Tensor> withMerged, merged;
    for (std::int64_t g = 0; g < groups; ++g) {
        const torch::Tensor block = C.slice(0, g * k, (g + 1) * k).slice(1, g * k, (g + 1) * k);
        // E[x_r y^T] = sum_s E[x_r x_s^T] P_s^T;  E[y y^T] = sum_r P_r E[x_r y^T]
        const torch::Tensor toMerged = torch::einsum("rsij,slj->ril", {block, mix[g]});
        withMerged.push_back(toMerged);
        merged.push_back(torch::einsum("rij,rjl->il", {mix[g], toMerged}));
    }
    m.withMerged = torch::cat(withMerged, 0);
    m.merged = torch::stack(merged, 0);
    return m;
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
using Matrix = torch::TensorAccessor<double, 2>;
PlaneFit planeFit(const Matrix& hh, const Matrix& hm, const Matrix& mm, std::int64_t p,
                  std::int64_t half) {
    const std::int64_t u = p, w = p + half;
    const double xx = hh[u][u] + hh[w][w];
    const double yy = mm[u][u] + mm[w][w];
    const double xyTrace = hm[u][u] + hm[w][w];
    const double xJy = hm[w][u] - hm[u][w];  // E[x^T J y], J = [[0, -1], [1, 0]]
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

/// The r/2 plane fits of head h's keys against its group's merged key (r rotary dimensions).
std::vector<PlaneFit> planeFits(const MergedMoments& keys, std::int64_t h) {
    const torch::Tensor hh = keys.own[h].contiguous(), hm = keys.withMerged[h].contiguous(),
                        mm = keys.mergedOf(h).contiguous();
    const std::int64_t half = keys.rotaryDims / 2;
    std::vector<PlaneFit> fits;
    for (std::int64_t p = 0; p < half; ++p)
        fits.push_back(planeFit(hh.accessor<double, 2>(), hm.accessor<double, 2>(),
                                mm.accessor<double, 2>(), p, half));
    return fits;
}

/// A block of a [d, d] moment: the pass-through dimensions [r, d) of partial rotary keys.
torch::Tensor passThrough(const torch::Tensor& m, std::int64_t r) {
    return m.narrow(0, r, m.size(0) - r).narrow(1, r, m.size(1) - r);
}

/// E||x - B y||^2 at B for moments xx = E[x x^T], xy = E[x y^T], yy = E[y y^T].
double linearFitResidual(const torch::Tensor& B, const torch::Tensor& xx, const torch::Tensor& xy,
                         const torch::Tensor& yy) {
    return std::max(0.0, torch::trace(xx).item<double>() -
                             2.0 * torch::trace(torch::mm(B, xy.t())).item<double>() +
                             torch::trace(torch::mm(torch::mm(B, yy), B.t())).item<double>());
}

torch::Tensor keyMap(const MergedMoments& keys, std::int64_t h) {
    const std::vector<PlaneFit> fits = planeFits(keys, h);
    const std::int64_t half = std::int64_t(fits.size()), d = keys.own.size(1);
    torch::Tensor A = torch::zeros({d, d}, torch::kFloat64);
    // Pass-through dimensions meet no position rotation: any linear map is exact there, so they
    // take the least-squares fit of the values' form.
    const std::int64_t r = keys.rotaryDims;
    if (r < d)
        passThrough(A, r).copy_(
            valueMap(passThrough(keys.withMerged[h], r), passThrough(keys.mergedOf(h), r)));
    auto a = A.accessor<double, 2>();
    for (std::int64_t p = 0; p < half; ++p) {
        a[p][p] = fits[p].a;
        a[p][p + half] = -fits[p].b;
        a[p + half][p] = fits[p].b;
        a[p + half][p + half] = fits[p].a;
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

LayerRefit leastSquaresRefit(const LayerStatistics& stats, std::int64_t groups,
                             MergedHead mergedHead) {
    checkGroups(stats, groups);
    LayerRefit refit;
    refit.keyMix = mergedHeadMix(stats.keys, HeadKind::Keys, groups, mergedHead);
    refit.valueMix = mergedHeadMix(stats.values, HeadKind::Values, groups, mergedHead);
    const MergedMoments values = mergedMoments(stats.values, refit.valueMix);
    const MergedMoments keys = mergedMoments(stats.keys, refit.keyMix);
    for (std::int64_t h = 0; h < stats.values.heads; ++h) {
        refit.valueMaps.push_back(valueMap(values.withMerged[h], values.mergedOf(h)));
        refit.keyMaps.push_back(keyMap(keys, h));
    }
    return refit;
}

void applyLayerRefit(const Checkpoint& mha, std::int64_t l, const LayerRefit& refit,
                     Checkpoint& gqa) {
    const ModelConfig& c = mha.config;
    const std::int64_t d = c.headDim;
    // The merged K/V rows (and biases) are the group's merged head.
    for (LayerTensor role :
         {LayerTensor::KWeight, LayerTensor::KBias, LayerTensor::VWeight, LayerTensor::VBias}) {
        if (!storesTensor(c, role)) continue;
        const std::string name = tensorName(c, l, role);
        const bool key = role == LayerTensor::KWeight || role == LayerTensor::KBias;
        const torch::Tensor merged = mixHeadRows(mha.at(name), key ? refit.keyMix : refit.valueMix);
        gqa.set(name, merged.to(mha.at(name).scalar_type()).contiguous());
    }
    // q rows (and the q bias, their constant column) become A_h^T rows; o_proj's columns
    // become W_o^h B_h, its bias is unchanged.
    for (LayerTensor role : {LayerTensor::QWeight, LayerTensor::QBias}) {
        if (!storesTensor(c, role)) continue;
        const std::string name = tensorName(c, l, role);
        const torch::Tensor q = mha.at(name);
        torch::Tensor q64 = q.to(torch::kFloat64).reshape({c.numHeads * d, -1}).clone();
        for (std::int64_t h = 0; h < c.numHeads; ++h) {
            const Slice rows(h * d, (h + 1) * d);
            q64.index_put_({rows}, torch::mm(refit.keyMaps[h].t(), q64.index({rows})));
        }
        gqa.set(name, q64.view(q.sizes()).to(q.scalar_type()).contiguous());
    }
    const std::string oName = tensorName(c, l, LayerTensor::OWeight);
    const torch::Tensor o = mha.at(oName);
    torch::Tensor o64 = o.to(torch::kFloat64).clone();
    for (std::int64_t h = 0; h < c.numHeads; ++h) {
        const Slice rows(h * d, (h + 1) * d);
        o64.index_put_({Slice(), rows}, torch::mm(o64.index({Slice(), rows}), refit.valueMaps[h]));
    }
    gqa.set(oName, o64.to(o.scalar_type()).contiguous());
}

Checkpoint leastSquaresMergeToGqa(const Checkpoint& mha,
                                  const std::vector<LayerStatistics>& alignedStats,
                                  std::int64_t groups, MergedHead mergedHead) {
    const ModelConfig& c = mha.config;
    if (std::int64_t(alignedStats.size()) != c.numLayers)
        throw InputError("the least-squares merge needs statistics of every layer (" +
                         std::to_string(alignedStats.size()) + " given for " +
                         std::to_string(c.numLayers) + " layers)");
    Checkpoint out = mergeToGqa(mha, groups);
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        if (alignedStats[l].values.heads != c.numHeads ||
            alignedStats[l].values.headDim != c.headDim)
            throw InputError("layer " + std::to_string(l) +
                             ": the statistics do not match the model's heads");
        applyLayerRefit(mha, l, leastSquaresRefit(alignedStats[l], groups, mergedHead), out);
    }
    return out;
}

MergeCost predictLeastSquaresMergeCost(const LayerStatistics& stats, std::int64_t groups,
                                       MergedHead mergedHead) {
    checkGroups(stats, groups);
    const MergedMoments values = mergedMoments(
        stats.values, mergedHeadMix(stats.values, HeadKind::Values, groups, mergedHead));
    const MergedMoments keys =
        mergedMoments(stats.keys, mergedHeadMix(stats.keys, HeadKind::Keys, groups, mergedHead));
    MergeCost cost;
    double keyEnergy = 0.0, valueEnergy = 0.0;
    for (std::int64_t h = 0; h < stats.values.heads; ++h) {
        // E||v_h - B v_m||^2 = tr(C_hh) - 2 tr(B C_mh) + tr(B C_mm B^T)
        const torch::Tensor vhh = values.own[h], vhm = values.withMerged[h],
                            vmm = values.mergedOf(h);
        valueEnergy += torch::trace(vhh).item<double>();
        cost.valueResidual += linearFitResidual(valueMap(vhm, vmm), vhh, vhm, vmm);
        keyEnergy += torch::trace(keys.own[h]).item<double>();
        for (const PlaneFit& f : planeFits(keys, h)) cost.keyResidual += f.residual;
        const std::int64_t r = keys.rotaryDims;
        if (r < stats.keys.headDim) {
            const torch::Tensor xx = passThrough(keys.own[h], r),
                                xy = passThrough(keys.withMerged[h], r),
                                yy = passThrough(keys.mergedOf(h), r);
            cost.keyResidual += linearFitResidual(valueMap(xy, yy), xx, xy, yy);
        }
    }
    cost.keyRelative = keyEnergy > 0 ? cost.keyResidual / keyEnergy : 0.0;
    cost.valueRelative = valueEnergy > 0 ? cost.valueResidual / valueEnergy : 0.0;
    return cost;
}

}  // namespace gqa
