// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignment/procrustes.h"

#include <string>

#include "base/error.h"

namespace gqa {
namespace {

torch::Tensor squareFloat64(const torch::Tensor& crossGram, const char* what) {
    if (!crossGram.defined() || crossGram.dim() != 2 || crossGram.size(0) != crossGram.size(1))
        throw InputError(std::string(what) + ": the cross-Gram matrix must be square [d, d]");
    return crossGram.to(torch::kCPU, torch::kFloat64);
}

}  // namespace

torch::Tensor orthogonalProcrustes(const torch::Tensor& crossGram) {
    torch::Tensor m = squareFloat64(crossGram, "orthogonal Procrustes");
    auto [u, s, vh] = at::linalg_svd(m, /*full_matrices=*/false);
    return u.matmul(vh);
}

torch::Tensor ropeRotationProcrustes(const torch::Tensor& crossGram) {
    torch::Tensor m = squareFloat64(crossGram, "RoPE rotation Procrustes");
    const std::int64_t d = m.size(0);
    if (d % 2 != 0)
        throw InputError("RoPE rotation Procrustes: head dimension " + std::to_string(d) +
                         " is odd");
    const std::int64_t half = d / 2;
    torch::Tensor lo = torch::arange(half, torch::kLong);
    torch::Tensor hi = lo + half;
    // Plane (m, m + d/2): tr(R^T M) = cos(p) (M00 + M11) + sin(p) (M10 - M01), maximal at the
    // angle below; this is the 2x2 Kabsch solution with the det fix (method §5.3).
    torch::Tensor phi =
        torch::atan2(m.index({hi, lo}) - m.index({lo, hi}), m.index({lo, lo}) + m.index({hi, hi}));
    torch::Tensor c = phi.cos(), s = phi.sin();
    torch::Tensor r = torch::zeros({d, d}, torch::kFloat64);
    r.index_put_({lo, lo}, c);
    r.index_put_({lo, hi}, -s);
    r.index_put_({hi, lo}, s);
    r.index_put_({hi, hi}, c);
    return r;
}

torch::Tensor keyProcrustes(const torch::Tensor& crossGram, std::int64_t rotaryDims) {
    const std::int64_t d = crossGram.size(0);
    if (rotaryDims <= 0 || rotaryDims == d) return ropeRotationProcrustes(crossGram);
    if (rotaryDims > d)
        throw InputError("key Procrustes: " + std::to_string(rotaryDims) +
                         " rotary dimensions in a head of " + std::to_string(d));
    torch::Tensor m = squareFloat64(crossGram, "key Procrustes");
    const std::int64_t rest = d - rotaryDims;
    torch::Tensor q = torch::zeros({d, d}, torch::kFloat64);
    q.narrow(0, 0, rotaryDims)
        .narrow(1, 0, rotaryDims)
        .copy_(ropeRotationProcrustes(m.narrow(0, 0, rotaryDims).narrow(1, 0, rotaryDims)));
    q.narrow(0, rotaryDims, rest)
        .narrow(1, rotaryDims, rest)
        .copy_(orthogonalProcrustes(m.narrow(0, rotaryDims, rest).narrow(1, rotaryDims, rest)));
    return q;
}

torch::Tensor alignmentTransform(HeadKind kind, const torch::Tensor& crossGram,
                                 std::int64_t rotaryDims) {
    return kind == HeadKind::Keys ? keyProcrustes(crossGram, rotaryDims)
                                  : orthogonalProcrustes(crossGram);
}

}  // namespace gqa
