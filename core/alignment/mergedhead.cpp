// SPDX-License-Identifier: GPL-3.0-or-later
#include "alignment/mergedhead.h"

#include <cmath>
#include <complex>
#include <vector>

#include "alignment/procrustes.h"
#include "base/error.h"

namespace gqa {
namespace {
/// Real principal mix of dimensions [from, to) of every member: writes P[r] on that block.
void principalBlock(const torch::Tensor& moments, std::int64_t from, std::int64_t to,
                    torch::Tensor& mix) {
    const std::int64_t k = moments.size(0), e = to - from;
    const torch::Tensor stacked =
        moments.slice(2, from, to).slice(3, from, to).permute({0, 2, 1, 3}).reshape({k * e, k * e});
    if (!(torch::trace(stacked).item<double>() > 0.0)) return;  // no signal: keep the mean
    const torch::Tensor basis = std::get<1>(at::linalg_eigh(stacked)).slice(1, k * e - e);
    // E[y0 m^T] with y0 = U^T x and m = (1/k) sum_r x_r; the rotation R = Q^T turns y0 onto m.
    const torch::Tensor withMean = stacked.view({k * e, k, e}).mean(1);  // E[x m^T]
    const torch::Tensor turn = orthogonalProcrustes(torch::mm(basis.t(), withMean)).t();
    const torch::Tensor rows = torch::mm(turn, basis.t()) / std::sqrt(double(k));  // [e, k e]
    mix.slice(1, from, to).slice(2, from, to).copy_(rows.view({e, k, e}).permute({1, 0, 2}));
}

/// Complex principal mix of RoPE plane (p, p + half): one complex scale per member.
void principalPlane(const torch::Tensor& moments, std::int64_t p, std::int64_t half,
                    torch::Tensor& mix) {
    const std::int64_t k = moments.size(0), u = p, w = p + half;
    const torch::Tensor m = moments.contiguous();
    auto c = m.accessor<double, 4>();
    // Hermitian E[z z^H] of z_r = x_r,u + i x_r,w as the real symmetric [[A, -B], [B, A]].
    torch::Tensor real = torch::zeros({2 * k, 2 * k}, torch::kFloat64);
    auto h = real.accessor<double, 2>();
    std::vector<std::complex<double>> rowSums(k);
    double energy = 0.0;
    for (std::int64_t r = 0; r < k; ++r)
        for (std::int64_t s = 0; s < k; ++s) {
            const double re = c[r][s][u][u] + c[r][s][w][w];
            const double im = c[r][s][w][u] - c[r][s][u][w];
            h[r][s] = h[k + r][k + s] = re;
            h[k + r][s] = im;
            h[r][k + s] = -im;
            rowSums[r] += std::complex<double>(re, im);
            if (r == s) energy += re;
        }
    if (!(energy > 0.0)) return;  // no signal: keep the mean
    const torch::Tensor top = std::get<1>(at::linalg_eigh(real)).select(1, 2 * k - 1).contiguous();
    auto e = top.accessor<double, 1>();
    std::vector<std::complex<double>> scale(k);
    std::complex<double> towardsMean = 0.0;  // k E[y conj(m)] = sum_r c_r sum_s E[z_r conj z_s]
    for (std::int64_t r = 0; r < k; ++r) {
        scale[r] = std::complex<double>(e[r], -e[k + r]);  // conj of the eigenvector
        towardsMean += scale[r] * rowSums[r];
    }
    const std::complex<double> phase =
        std::abs(towardsMean) > 0.0 ? std::conj(towardsMean) / std::abs(towardsMean) : 1.0;
    for (std::int64_t r = 0; r < k; ++r) {
        const std::complex<double> s = scale[r] * phase / std::sqrt(double(k));
        mix[r][u][u] = s.real();
        mix[r][u][w] = -s.imag();
        mix[r][w][u] = s.imag();
        mix[r][w][w] = s.real();
    }
}
}  // namespace

torch::Tensor headBlockMoments(const GramStatistics& s) {
    const std::int64_t H = s.heads, d = s.headDim;
    const double n = double(std::max<std::int64_t>(1, s.tokens));
    return (s.raw / n).view({H, d, H, d}).permute({0, 2, 1, 3});
}

const char* mergedHeadName(MergedHead choice) {
    return choice == MergedHead::Principal ? "principal" : "mean";
}

MergedHead parseMergedHead(const std::string& name) {
    for (MergedHead m : {MergedHead::Mean, MergedHead::Principal})
        if (name == mergedHeadName(m)) return m;
    throw InputError("unknown merged head '" + name + "' (valid: mean, principal)");
}

torch::Tensor mergedHeadMix(const GramStatistics& s, HeadKind kind, std::int64_t groups,
                            MergedHead choice) {
    if (groups < 1 || s.heads % groups != 0)
        throw InputError("the number of groups must divide the number of heads");
    const std::int64_t k = s.heads / groups, d = s.headDim;
    torch::Tensor mix =
        (torch::eye(d, torch::kFloat64) / double(k)).expand({groups, k, d, d}).contiguous();
    if (choice == MergedHead::Mean) return mix;
    // Keys: planes of the rotary part; the rest (all of a value) mixes as real directions.
    const std::int64_t rotary = kind == HeadKind::Keys ? s.rotaryDimensions() : 0;
    const torch::Tensor blocks = headBlockMoments(s);
    for (std::int64_t g = 0; g < groups; ++g) {
        const torch::Tensor moments =
            blocks.slice(0, g * k, (g + 1) * k).slice(1, g * k, (g + 1) * k);
        torch::Tensor groupMix = mix[g];
        for (std::int64_t p = 0; p < rotary / 2; ++p)
            principalPlane(moments, p, rotary / 2, groupMix);
        if (rotary < d) principalBlock(moments, rotary, d, groupMix);
    }
    return mix;
}

torch::Tensor mixHeadRows(const torch::Tensor& rows, const torch::Tensor& mix) {
    const std::int64_t G = mix.size(0), k = mix.size(1), d = mix.size(2);
    const torch::Tensor r64 = rows.to(torch::kFloat64);
    const std::int64_t columns = rows.dim() == 2 ? rows.size(1) : 1;
    if (r64.numel() != G * k * d * columns)
        throw InputError("mixHeadRows: the rows do not match the mix's heads");
    const torch::Tensor merged =
        torch::einsum("grij,grjc->gic", {mix, r64.reshape({G, k, d, columns})});
    return rows.dim() == 2 ? merged.reshape({G * d, columns}) : merged.reshape({G * d});
}

}  // namespace gqa
