// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The bytes that tensors hold, now and at their peak, per device: what the training estimate
// (trainingestimate.h) is checked against. The process' resident memory (processmemory.h) also
// counts the runtime, the allocator's caches and freed pages not yet returned, so it cannot check
// a count of tensors; this can.
//
// CPU: install() wraps the CPU allocator LibTorch uses for every tensor (c10::SetCPUAllocator)
// in one that counts the bytes asked for and given back. Each block carries a 64-byte header
// (c10::gAlignment, so the data keeps the default alignment) with its size and the wrapped
// allocator's context and deleter; the data pointer stays the deleter's context, so LibTorch's
// raw_allocate/raw_deallocate keep working. Tensors allocated before install() keep their
// original deleter and are never counted, neither when made nor when freed. Counting is exact
// for what goes through the allocator (tensor storage); library scratch space that does not
// (oneDNN's, BLAS's) is not seen.
// CUDA (builds whose LibTorch has c10_cuda): the caching allocator's own statistics, the bytes
// of live allocations ("allocated_bytes"), not the cached segments it holds ("reserved").
//
// Usage: TensorMemory::install(); TensorMemory::resetPeak(device); ... work ...;
// TensorMemory::peakBytes(device) is the most that tensors held at once during the work.

#include <cstdint>

#include <c10/core/Device.h>

namespace gqa {

class TensorMemory {
public:
    /// Installs the counting CPU allocator once per process (later calls do nothing; thread-safe).
    /// Returns whether CPU counting is active (false only when another allocator could not be
    /// replaced).
    static bool install();
    static bool installed();

    /// Bytes held by tensors on `device` now / at most since the last resetPeak (or install).
    /// 0 on a device that is not counted (CPU before install(), CUDA without c10_cuda).
    static std::int64_t currentBytes(const c10::Device& device);
    static std::int64_t peakBytes(const c10::Device& device);
    /// Starts a new peak window: peak = current.
    static void resetPeak(const c10::Device& device);
};

}  // namespace gqa
