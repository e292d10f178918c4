// SPDX-License-Identifier: GPL-3.0-or-later
// The tensor-memory counter the training estimate is checked against: exact bytes on allocation
// and free, a peak that stays until reset, and blocks from before install() never counted.
#include <c10/core/CPUAllocator.h>

#include "base/memorytracker.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr std::int64_t kTenMb = 10 * 1024 * 1024;
const c10::Device kCpu(c10::DeviceType::CPU);

TEST(MemoryTracker, CountsAllocationAndFreeAndKeepsThePeak) {
    ASSERT_TRUE(TensorMemory::install());
    EXPECT_TRUE(TensorMemory::install());  // idempotent
    TensorMemory::resetPeak(kCpu);
    const std::int64_t before = TensorMemory::currentBytes(kCpu);
    EXPECT_EQ(TensorMemory::peakBytes(kCpu), before);
    {
        torch::Tensor t = torch::ones({kTenMb}, torch::kUInt8);
        EXPECT_EQ(TensorMemory::currentBytes(kCpu) - before, kTenMb);
        EXPECT_EQ(TensorMemory::peakBytes(kCpu) - before, kTenMb);
        EXPECT_EQ(t[kTenMb - 1].item<int>(), 1);  // the memory is usable
    }
    EXPECT_EQ(TensorMemory::currentBytes(kCpu), before);
    EXPECT_EQ(TensorMemory::peakBytes(kCpu) - before, kTenMb);
    TensorMemory::resetPeak(kCpu);
    EXPECT_EQ(TensorMemory::peakBytes(kCpu), before);
}

TEST(MemoryTracker, PeakIsTheMostHeldAtOnce) {
    TensorMemory::install();
    TensorMemory::resetPeak(kCpu);
    const std::int64_t before = TensorMemory::currentBytes(kCpu);
    {
        torch::Tensor a = torch::empty({kTenMb / 4}, torch::kFloat32);  // 10 MB
        {
            torch::Tensor b = torch::empty({kTenMb / 2}, torch::kBFloat16);  // + 10 MB
        }
        torch::Tensor c = torch::empty({kTenMb / 8}, torch::kFloat64);  // + 10 MB, b is gone
    }
    EXPECT_EQ(TensorMemory::peakBytes(kCpu) - before, 2 * kTenMb);
    EXPECT_EQ(TensorMemory::currentBytes(kCpu), before);
}

TEST(MemoryTracker, BlocksFromTheOriginalAllocatorAreNotCounted) {
    TensorMemory::install();
    const std::int64_t before = TensorMemory::currentBytes(kCpu);
    {
        // What a tensor allocated before install() holds: a block with the original deleter.
        c10::DataPtr early = c10::GetDefaultCPUAllocator()->allocate(kTenMb);
        EXPECT_EQ(TensorMemory::currentBytes(kCpu), before);
    }
    EXPECT_EQ(TensorMemory::currentBytes(kCpu), before);  // freed without going negative
}

TEST(MemoryTracker, RawAllocateAndResizeGoThroughTheCounter) {
    TensorMemory::install();
    const std::int64_t before = TensorMemory::currentBytes(kCpu);
    c10::Allocator* allocator = c10::GetCPUAllocator();
    void* raw = allocator->raw_allocate(1000);
    EXPECT_EQ(TensorMemory::currentBytes(kCpu) - before, 1000);
    allocator->raw_deallocate(raw);
    EXPECT_EQ(TensorMemory::currentBytes(kCpu), before);

    torch::Tensor t = torch::zeros({1000}, torch::kFloat32);
    t.resize_({4000});
    EXPECT_EQ(TensorMemory::currentBytes(kCpu) - before, 16000);
    t = torch::Tensor();
    EXPECT_EQ(TensorMemory::currentBytes(kCpu), before);
}

}  // namespace
}  // namespace gqa::test
