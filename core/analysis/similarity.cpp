// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/similarity.h"

#include <algorithm>
#include <string>

#include "base/error.h"

namespace gqa {
namespace {

using torch::indexing::Slice;

/// Head pairs scored per batched SVD: bounds the [P, d, d] working copy (about 64 MiB at d = 128).
constexpr std::int64_t kPairsPerBatch = 512;

void checkStatistics(const GramStatistics& stats) {
    if (stats.heads <= 0 || stats.headDim <= 0 || stats.tokens <= 0)
        throw InputError("head similarity: the statistics are empty (heads " +
                         std::to_string(stats.heads) + ", head dimension " +
                         std::to_string(stats.headDim) + ", tokens " +
                         std::to_string(stats.tokens) + ")");
    const std::int64_t n = stats.heads * stats.headDim;
    for (const torch::Tensor* t : {&stats.raw, &stats.normalized})
        if (!t->defined() || t->dim() != 2 || t->size(0) != n || t->size(1) != n)
            throw InputError("head similarity: the Gram matrices must be [" + std::to_string(n) +
                             ", " + std::to_string(n) + "]");
}

/// max over admissible Q of tr(Q^T M) for a batch M [P, d, d]; keys rotate in their first
/// `rotaryDims` dimensions and pass the rest through.
torch::Tensor alignedTrace(const torch::Tensor& blocks, HeadKind kind, std::int64_t rotaryDims) {
    // tr((U V^T)^T U S V^T) = sum of singular values: the Procrustes optimum needs no Q.
    auto orthogonalOptimum = [](const torch::Tensor& m) { return at::linalg_svdvals(m).sum(-1); };
    if (kind == HeadKind::Values) return orthogonalOptimum(blocks);
    const std::int64_t d = blocks.size(-1), half = rotaryDims / 2;
    torch::Tensor lo = torch::arange(half, torch::kLong), hi = lo + half;
    // Per RoPE plane, the best rotation reaches |(M00 + M11, M10 - M01)| (procrustes.cpp).
    torch::Tensor a = blocks.index({Slice(), lo, lo}) + blocks.index({Slice(), hi, hi});
    torch::Tensor b = blocks.index({Slice(), hi, lo}) - blocks.index({Slice(), lo, hi});
    torch::Tensor best = torch::hypot(a, b).sum(-1);
    if (rotaryDims < d)  // the pass-through block takes any orthogonal map
        best = best + orthogonalOptimum(blocks.narrow(-2, rotaryDims, d - rotaryDims)
                                            .narrow(-1, rotaryDims, d - rotaryDims));
    return best;
}

}  // namespace

SimilarityMatrices headSimilarity(const GramStatistics& stats, HeadKind kind, Criterion criterion) {
    checkStatistics(stats);
    const std::int64_t h = stats.heads, d = stats.headDim;
    const double n = double(stats.tokens);
    if (kind == HeadKind::Keys && d % 2 != 0)
        throw InputError("head similarity: key heads need an even head dimension, got " +
                         std::to_string(d));

    // Q is fitted on the same matrix it is scored on: C^ for cos, C for dist.
    torch::Tensor fit = stats.raw.to(torch::kCPU, torch::kFloat64);
    if (criterion == Criterion::Cos) fit = stats.normalized.to(torch::kCPU, torch::kFloat64) / n;
    torch::Tensor blocks = fit.view({h, d, h, d}).permute({0, 2, 1, 3});  // block (i, j)

    torch::Tensor pairs = torch::tril_indices(h, h, -1);  // rows i > j
    torch::Tensor rows = pairs[0], cols = pairs[1];
    const std::int64_t count = rows.size(0);
    torch::Tensor plain = torch::empty({count}, torch::kFloat64);
    torch::Tensor aligned = torch::empty({count}, torch::kFloat64);
    for (std::int64_t start = 0; start < count; start += kPairsPerBatch) {
        const std::int64_t end = std::min(count, start + kPairsPerBatch);
        torch::Tensor batch = blocks.index({rows.slice(0, start, end), cols.slice(0, start, end)});
        plain.slice(0, start, end).copy_(batch.diagonal(0, -2, -1).sum(-1));
        aligned.slice(0, start, end).copy_(alignedTrace(batch, kind, stats.rotaryDimensions()));
    }

    auto score = [&](const torch::Tensor& crossTrace) {
        if (criterion == Criterion::Cos) return crossTrace;
        torch::Tensor self = blocks.diagonal(0, 0, 1).diagonal(0, 0, 1).sum(-1);  // tr C_ii [H]
        return -(self.index({rows}) + self.index({cols}) - 2.0 * crossTrace) / n;
    };
    auto toMatrix = [&](const torch::Tensor& values) {
        torch::Tensor s = torch::zeros({h, h}, torch::kFloat64);
        s.index_put_({rows, cols}, values);
        s.index_put_({cols, rows}, values);
        return s;
    };
    return {toMatrix(score(plain)), toMatrix(score(aligned))};
}

double meanOffDiagonal(const torch::Tensor& similarity) {
    if (similarity.dim() != 2 || similarity.size(0) != similarity.size(1))
        throw InputError("mean off-diagonal: the similarity matrix must be square");
    const std::int64_t h = similarity.size(0);
    if (h < 2) return 0.0;
    torch::Tensor s = similarity.to(torch::kCPU, torch::kFloat64);
    const double offDiagonal = (s.sum() - s.diagonal().sum()).item<double>();
    return offDiagonal / double(h * (h - 1));
}

}  // namespace gqa
