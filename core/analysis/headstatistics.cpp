// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/headstatistics.h"

#include <string>

#include "base/error.h"

namespace gqa {

namespace {
/// Flat indices into the [H*d, H*d] matrix of the plane Grams [d/2, 2H, 2H], whose row/column c
/// is head c / 2, half c % 2 (dimension m or m + d/2).
torch::Tensor planeIndex(std::int64_t heads, std::int64_t d) {
    const torch::Tensor m = torch::arange(d / 2, torch::kLong).view({d / 2, 1});
    const torch::Tensor c = torch::arange(2 * heads, torch::kLong).view({1, 2 * heads});
    const torch::Tensor head = torch::div(c, 2, "floor");  // integer division on 1.13 and 2.x
    const torch::Tensor position = head * d + (c - 2 * head) * (d / 2) + m;  // [d/2, 2H]
    return (position.unsqueeze(2) * (heads * d) + position.unsqueeze(1)).reshape(-1);
}

/// x [N, H, d] -> [d/2, N, 2H]: per plane m, columns (h, m) and (h, m + d/2) for every head.
torch::Tensor planeColumns(const torch::Tensor& x) {
    const std::int64_t n = x.size(0), h = x.size(1), d = x.size(2);
    return x.view({n, h, 2, d / 2}).permute({3, 0, 1, 2}).reshape({d / 2, n, 2 * h});
}

void addGram(torch::Tensor& target, const torch::Tensor& x, bool planesOnly) {
    const std::int64_t n = x.size(0), h = x.size(1), d = x.size(2);
    if (!planesOnly) {
        const torch::Tensor flat = x.reshape({n, h * d});
        target.add_(torch::matmul(flat.t(), flat).to(target.device(), torch::kFloat64));
        return;
    }
    const torch::Tensor p = planeColumns(x);
    const torch::Tensor grams = torch::bmm(p.transpose(1, 2), p);  // [d/2, 2H, 2H]
    target.view(-1).index_add_(0, planeIndex(h, d).to(target.device()),
                               grams.reshape(-1).to(target.device(), torch::kFloat64));
}
}  // namespace

GramStatistics GramStatistics::zeros(std::int64_t heads, std::int64_t headDim, bool ropePlanesOnly,
                                     std::int64_t rotaryDims) {
    if (heads <= 0 || headDim <= 0) throw Error("head statistics need positive heads and head_dim");
    if (ropePlanesOnly && headDim % 2 != 0) throw Error("RoPE planes need an even head_dim");
    if (rotaryDims < 0 || rotaryDims > headDim || rotaryDims % 2 != 0)
        throw Error("rotary dimensions must be even and at most head_dim");
    if (ropePlanesOnly && rotaryDims != 0 && rotaryDims != headDim)
        throw Error("plane-only statistics need every dimension to rotate");
    GramStatistics s;
    s.rotaryDims = rotaryDims;
    s.ropePlanesOnly = ropePlanesOnly;
    s.heads = heads;
    s.headDim = headDim;
    const std::int64_t n = heads * headDim;
    s.raw = torch::zeros({n, n}, torch::kFloat64);
    s.normalized = torch::zeros({n, n}, torch::kFloat64);
    return s;
}

void GramStatistics::accumulate(const torch::Tensor& perHeadVectors) {
    const torch::Tensor& x = perHeadVectors;
    if (x.dim() != 3 || x.size(1) != heads || x.size(2) != headDim)
        throw Error("head statistics expect [N, " + std::to_string(heads) + ", " +
                    std::to_string(headDim) + "] vectors");
    torch::NoGradGuard noGrad;
    const std::int64_t n = x.size(0);
    // Computed in float64 on the vectors' device; added where the accumulators live (CPU from
    // zeros(), but a caller may keep them on the GPU and move them at the end).
    // One batch's products in the activations' precision (float32 at least: its rounding over a
    // batch, ~1e-6 relative, is far below that of float32/bf16 activations themselves), summed
    // across batches in float64 so long calibrations lose nothing. Float64 models stay float64.
    const auto productType = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    const torch::Tensor vectors = x.detach().to(productType);
    addGram(raw, vectors, ropePlanesOnly);
    // Unit-length head vectors; a zero vector stays zero (divide it by 1 instead of 0).
    const torch::Tensor norms = vectors.norm(2, -1, /*keepdim=*/true);
    const torch::Tensor safe = torch::where(norms > 0, norms, torch::ones_like(norms));
    addGram(normalized, vectors / safe, ropePlanesOnly);
    tokens += n;
}

void GramStatistics::merge(const GramStatistics& other) {
    if (other.heads != heads || other.headDim != headDim ||
        other.ropePlanesOnly != ropePlanesOnly || other.rotaryDimensions() != rotaryDimensions())
        throw Error("cannot merge head statistics of different shapes");
    raw.add_(other.raw.to(raw.device()));
    normalized.add_(other.normalized.to(normalized.device()));
    tokens += other.tokens;
}

namespace {

torch::Tensor block(const torch::Tensor& m, std::int64_t heads, std::int64_t d, std::int64_t i,
                    std::int64_t j) {
    if (i < 0 || j < 0 || i >= heads || j >= heads)
        throw Error("head index out of range (" + std::to_string(heads) + " heads)");
    return m.slice(0, i * d, (i + 1) * d).slice(1, j * d, (j + 1) * d);
}

}  // namespace

torch::Tensor GramStatistics::rawBlock(std::int64_t i, std::int64_t j) const {
    return block(raw, heads, headDim, i, j);
}

torch::Tensor GramStatistics::normalizedBlock(std::int64_t i, std::int64_t j) const {
    return block(normalized, heads, headDim, i, j);
}

GramStatistics GramStatistics::permuted(const std::vector<std::int64_t>& order) const {
    if (std::int64_t(order.size()) != heads)
        throw Error("head order has " + std::to_string(order.size()) + " entries for " +
                    std::to_string(heads) + " heads");
    std::vector<bool> seen(heads, false);
    std::vector<std::int64_t> rows;
    rows.reserve(heads * headDim);
    for (std::int64_t old : order) {
        if (old < 0 || old >= heads || seen[old])
            throw Error("head order is not a permutation of 0.." + std::to_string(heads - 1));
        seen[old] = true;
        for (std::int64_t c = 0; c < headDim; ++c) rows.push_back(old * headDim + c);
    }
    const torch::Tensor index = torch::tensor(rows, torch::kLong).to(raw.device());
    GramStatistics out = *this;
    out.raw = raw.index_select(0, index).index_select(1, index);
    out.normalized = normalized.index_select(0, index).index_select(1, index);
    return out;
}

}  // namespace gqa
