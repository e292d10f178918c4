// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/threadpolicy.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <torch/torch.h>

namespace gqa {
namespace {

int coreCount() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

/// OpenBLAS's own pool, when OpenBLAS is the BLAS behind libblas.so.3 and the user did not size it.
void setBlasThreads(int threads) {
    if (std::getenv("OPENBLAS_NUM_THREADS")) return;
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
        set(threads);
}

}  // namespace

int threadsForHiddenSize(std::int64_t hiddenSize, int cores) {
    const std::int64_t byWork = hiddenSize / kHiddenPerThread;
    return static_cast<int>(std::clamp<std::int64_t>(byWork, 1, std::max(1, cores)));
}

int threadsForModel(std::int64_t hiddenSize) {
    if (const char* given = std::getenv("GQA_THREADS")) {
        const int threads = std::atoi(given);
        if (threads >= 1) return threads;
    }
    return threadsForHiddenSize(hiddenSize, coreCount());
}

int useThreadsForModel(std::int64_t hiddenSize) {
    const int threads = threadsForModel(hiddenSize);
    if (torch::get_num_threads() != threads) torch::set_num_threads(threads);
    setBlasThreads(threads);
    return threads;
}

}  // namespace gqa
