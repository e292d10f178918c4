// SPDX-License-Identifier: GPL-3.0-or-later
// gqa_safetensors_compare: whether two safetensors files hold the same tensors within a
// tolerance, for end-to-end tests that compare trained weights (tests/e2e/distributed.sh: two
// data-parallel processes against one process with the combined batch).
//
//   gqa_safetensors_compare A.safetensors B.safetensors [TOLERANCE [OUTLIERS BOUND]]
//
// Same tensor names, shapes and dtypes, and in every tensor |a - b| <= TOLERANCE * max(1, max|b|)
// (in float64; default 1e-6), except that up to a fraction OUTLIERS of each tensor's elements may
// differ by up to BOUND * max(1, max|b|) (default: no outliers). Why outliers: AdamW divides each
// gradient component by its own running magnitude, so a component whose gradient is at float32
// rounding level (sums taken in another order, as data-parallel ranks do) can step by up to the
// learning rate in one run and not in the other; a real error (a wrong shard, a lost gradient)
// moves most elements, not a handful. Prints the largest difference and the outlier count.
// Exit codes: 0 equal within the tolerance, 1 different, 2 unreadable input.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "base/error.h"
#include "io/safetensors.h"
#include "io/tensorconvert.h"

namespace {
constexpr double kDefaultTolerance = 1e-6;
constexpr int kExitDifferent = 1;
constexpr int kExitBadInput = 2;

struct Limits {
    double tolerance = kDefaultTolerance;
    double outlierFraction = 0.0;
    double bound = 0.0;
};

int compare(const std::string& pathA, const std::string& pathB, const Limits& limits) {
    const gqa::SafetensorsFile a = gqa::SafetensorsFile::open(pathA);
    const gqa::SafetensorsFile b = gqa::SafetensorsFile::open(pathB);
    if (a.tensors().size() != b.tensors().size()) {
        std::printf("different: %zu tensors vs %zu\n", a.tensors().size(), b.tensors().size());
        return kExitDifferent;
    }
    double worst = 0;
    std::string worstName;
    std::int64_t outliers = 0;
    bool ok = true;
    for (const gqa::TensorInfo& info : a.tensors()) {
        const gqa::TensorInfo* other = b.find(info.name);
        if (!other || other->shape != info.shape || other->dtype != info.dtype) {
            std::printf("different: %s is missing or has another shape or dtype\n",
                        info.name.c_str());
            return kExitDifferent;
        }
        const torch::Tensor x = gqa::tensorFromBytes(info, a.data(info)).to(torch::kFloat64);
        const torch::Tensor y = gqa::tensorFromBytes(*other, b.data(*other)).to(torch::kFloat64);
        if (x.numel() == 0) continue;
        const torch::Tensor relative = (x - y).abs() / std::max(1.0, y.abs().max().item<double>());
        const double largest = relative.max().item<double>();
        const std::int64_t over = (relative > limits.tolerance).sum().item<std::int64_t>();
        outliers += over;
        const bool tensorOk = over == 0 || (over <= limits.outlierFraction * double(x.numel()) &&
                                            largest <= limits.bound);
        if (!tensorOk)
            std::printf("different: %s: %lld of %lld elements over %.3g, largest %.3g\n",
                        info.name.c_str(), (long long)over, (long long)x.numel(), limits.tolerance,
                        largest);
        ok = ok && tensorOk;
        if (largest > worst || worstName.empty()) {
            worst = largest;
            worstName = info.name;
        }
    }
    std::printf(
        "%zu tensors; largest relative difference %.3g (%s); %lld elements over the tolerance "
        "%.3g\n",
        a.tensors().size(), worst, worstName.c_str(), (long long)outliers, limits.tolerance);
    return ok ? 0 : kExitDifferent;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4 && argc != 6) {
        std::fprintf(stderr,
                     "usage: gqa_safetensors_compare A.safetensors B.safetensors "
                     "[TOLERANCE [OUTLIERS BOUND]]\n");
        return kExitBadInput;
    }
    Limits limits;
    if (argc >= 4) limits.tolerance = std::atof(argv[3]);
    if (argc == 6) {
        limits.outlierFraction = std::atof(argv[4]);
        limits.bound = std::atof(argv[5]);
    }
    try {
        return compare(argv[1], argv[2], limits);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return kExitBadInput;
    }
}
