// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/memorytracker.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>

#include <c10/core/CPUAllocator.h>

#include "base/torchcompat.h"  // the CUDA allocator's statistics (GQA_CUDA_MEMORY_STATS)

namespace gqa {
namespace {

struct Header {
    std::size_t bytes;
    void* context;  ///< the wrapped allocator's
    c10::DeleterFnPtr deleter;
};
constexpr std::size_t kHeaderBytes = std::max(sizeof(Header), c10::gAlignment);

std::atomic<std::int64_t> g_current{0};
std::atomic<std::int64_t> g_peak{0};

void raisePeak(std::int64_t now) {
    std::int64_t peak = g_peak.load(std::memory_order_relaxed);
    while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}

void countedDelete(void* data) {
    auto* header = reinterpret_cast<Header*>(static_cast<char*>(data) - kHeaderBytes);
    g_current.fetch_sub(std::int64_t(header->bytes), std::memory_order_relaxed);
    const c10::DeleterFnPtr deleter = header->deleter;
    void* context = header->context;
    header->~Header();
    if (deleter) deleter(context);
}

/// Wraps the CPU allocator. LibTorch 1.13 declares allocate() const and has no copy_data();
/// 2.3 made allocate() non-const and added a pure virtual copy_data(). Both signatures are
/// declared without `override` so that each version overrides the one it has.
class CountingAllocator final : public c10::Allocator {
public:
    explicit CountingAllocator(c10::Allocator* inner) : m_inner(inner) {}

    c10::DataPtr allocate(std::size_t n) const { return countedAllocate(n); }
    c10::DataPtr allocate(std::size_t n) { return countedAllocate(n); }
    c10::DeleterFnPtr raw_deleter() const override { return &countedDelete; }
    void copy_data(void* dest, const void* src, std::size_t count) const {
        std::memcpy(dest, src, count);
    }

private:
    c10::DataPtr countedAllocate(std::size_t n) const {
        c10::DataPtr inner = m_inner->allocate(n + kHeaderBytes);
        char* base = static_cast<char*>(inner.get());
        const c10::DeleterFnPtr deleter = inner.get_deleter();
        const c10::Device device = inner.device();
        void* context = inner.release_context();
        new (base) Header{n, context, deleter};
        raisePeak(g_current.fetch_add(std::int64_t(n), std::memory_order_relaxed) +
                  std::int64_t(n));
        void* data = base + kHeaderBytes;
        return {data, data, &countedDelete, device};
    }

    c10::Allocator* m_inner;
};

CountingAllocator* g_allocator = nullptr;
std::once_flag g_installOnce;

#ifdef GQA_CUDA_MEMORY_STATS
c10::DeviceIndex cudaIndex(const c10::Device& device) {
    return device.has_index() ? device.index() : compat::currentCudaDevice();
}
#endif
}  // namespace

bool TensorMemory::install() {
    std::call_once(g_installOnce, [] {
        // Never freed: tensors made through it may outlive every static destructor.
        g_allocator = new CountingAllocator(c10::GetCPUAllocator());
        c10::SetCPUAllocator(g_allocator, std::numeric_limits<std::uint8_t>::max());
    });
    return installed();
}

bool TensorMemory::installed() {
    return g_allocator != nullptr && c10::GetCPUAllocator() == g_allocator;
}

std::int64_t TensorMemory::currentBytes(const c10::Device& device) {
    if (device.is_cpu()) return installed() ? g_current.load() : 0;
#ifdef GQA_CUDA_MEMORY_STATS
    if (device.is_cuda()) return compat::cudaAllocatedBytes(cudaIndex(device)).current;
#endif
    return 0;
}

std::int64_t TensorMemory::peakBytes(const c10::Device& device) {
    if (device.is_cpu()) return installed() ? g_peak.load() : 0;
#ifdef GQA_CUDA_MEMORY_STATS
    if (device.is_cuda()) return compat::cudaAllocatedBytes(cudaIndex(device)).peak;
#endif
    return 0;
}

void TensorMemory::resetPeak(const c10::Device& device) {
    if (device.is_cpu()) {
        g_peak.store(g_current.load());
        return;
    }
#ifdef GQA_CUDA_MEMORY_STATS
    if (device.is_cuda()) compat::resetCudaPeak(cudaIndex(device));
#endif
}

}  // namespace gqa
