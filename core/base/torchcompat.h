// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The few places where LibTorch 1.13 (Debian's, what this project is developed on) and LibTorch
// 2.x (pip wheels and the official archives, what GPU machines have) differ, in one header instead
// of #ifs scattered through core. Everything else core uses has the same signature in both.
//
//   scaled_dot_product_attention   2.0+ only (aten/src/ATen/native/transformers/attention.cpp):
//                                  (q, k, v, attn_mask, dropout_p, is_causal); 2.1 appends an
//                                  optional `scale`, 2.5 `enable_gqa`. Called positionally with
//                                  the first six only, it is the same call in every 2.x. The
//                                  default scale is 1/sqrt(q.size(-1)), the model's own.
//   CUDA caching allocator stats   getDeviceStats/resetPeakStats take an int device in 1.13 and a
//                                  c10::DeviceIndex in later 2.x, and DeviceStats moved to
//                                  c10::CachingDeviceAllocator (2.5+, aliased back into
//                                  c10::cuda::CUDACachingAllocator). Called through the helpers
//                                  below with a DeviceIndex (it converts to int), both compile.
//   c10::Allocator                 allocate() const in 1.13, non-const with a pure copy_data()
//                                  from 2.3 (handled where the allocator is: memorytracker.cpp).
//   c10d process groups            1.13: ProcessGroupGloo derives from ProcessGroup; 2.x: from
//                                  c10d::Backend. The calls used here (constructor with store,
//                                  rank, size, Options::create(timeout); allreduce/reduce/
//                                  broadcast/barrier returning c10d::Work; Work::wait(timeout);
//                                  createDeviceForHostname/Interface, whose 2.6+ `lazyInit`
//                                  argument defaults) are the same in both. NCCL needs a CUDA
//                                  LibTorch and USE_C10D_NCCL (core/CMakeLists.txt: GQA_WITH_NCCL).
//
// GQA_TORCH_AT_LEAST(major, minor) compares against the LibTorch built against.

#include <cstdint>

#include <torch/torch.h>
#include <torch/version.h>

#include "base/error.h"

#define GQA_TORCH_AT_LEAST(major, minor) \
    (TORCH_VERSION_MAJOR > (major) ||    \
     (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#if GQA_TORCH_AT_LEAST(2, 0)
#define GQA_HAVE_SDPA 1
#else
#define GQA_HAVE_SDPA 0
#endif

// The CUDA allocator's statistics need c10_cuda's headers and library: core/CMakeLists.txt defines
// GQA_WITH_C10_CUDA for the files that may use them when LibTorch has CUDA.
#if defined(GQA_WITH_C10_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#define GQA_CUDA_MEMORY_STATS 1
#endif

// c10d's base of process-group back ends: ProcessGroup in 1.13, Backend in 2.x (where
// ProcessGroup became a front that dispatches to backends). Only files that define
// GQA_COMPAT_C10D before including this header get it (the c10d headers are heavy).
#ifdef GQA_COMPAT_C10D
#if GQA_TORCH_AT_LEAST(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
namespace gqa::compat {
using C10dBackend = ::c10d::Backend;
}
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
namespace gqa::compat {
using C10dBackend = ::c10d::ProcessGroup;
}
#endif
#endif

namespace gqa::compat {

/// Whether this build can call at::scaled_dot_product_attention (LibTorch 2.0 or later).
constexpr bool kHaveSdpa = GQA_HAVE_SDPA != 0;

/// softmax(q k^T / sqrt(d) + mask) v over the last two dimensions, by LibTorch's fused kernels
/// (flash / memory-efficient on CUDA, a blocked kernel on CPU), no dropout. `allowed`: a boolean
/// mask broadcastable to [..., T, S], true where a query may see a key (undefined: every key);
/// `causal`: the top-left aligned causal mask instead (needs T == S and no `allowed`). Throws
/// gqa::Error when built against LibTorch < 2.0.
inline torch::Tensor scaledDotProductAttention(const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& v, const torch::Tensor& allowed,
                                               bool causal) {
#if GQA_HAVE_SDPA
    constexpr double kNoDropout = 0.0;
    c10::optional<torch::Tensor> mask;
    if (allowed.defined()) mask = allowed;
    return at::scaled_dot_product_attention(q, k, v, mask, kNoDropout, causal);
#else
    (void)q, (void)k, (void)v, (void)allowed, (void)causal;
    throw Error("scaled_dot_product_attention needs LibTorch 2.0 or later; this build has " +
                std::string(TORCH_VERSION));
#endif
}

#ifdef GQA_CUDA_MEMORY_STATS
/// Index 0 of every StatArray is StatType::AGGREGATE (all pools) in 1.13 and 2.x.
constexpr std::size_t kAggregateStat = 0;

struct CudaAllocatedBytes {
    std::int64_t current = 0;
    std::int64_t peak = 0;
};

/// Bytes held by tensors in the CUDA caching allocator on `device`, now and at the peak.
inline CudaAllocatedBytes cudaAllocatedBytes(c10::DeviceIndex device) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
    return {stats.allocated_bytes[kAggregateStat].current,
            stats.allocated_bytes[kAggregateStat].peak};
}

inline void resetCudaPeak(c10::DeviceIndex device) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device);
}

inline c10::DeviceIndex currentCudaDevice() { return c10::cuda::current_device(); }
#endif

}  // namespace gqa::compat
