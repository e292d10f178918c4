// SPDX-License-Identifier: GPL-3.0-or-later
// The NCCL communicator (communicator.h, ncclcommunicator.cpp) against the Gloo tests' cases
// (gloocases.h): two ranks as threads of this process, one GPU each, tensors on the rank's GPU and
// on the CPU (staged through the GPU). The _CUDA tests skip without NCCL in this build or without
// two CUDA devices. A silent peer is not tested here: NCCL's watchdog may end the whole process
// when a collective times out, which would take the other tests with it.
#include <future>

#include <gtest/gtest.h>

#include "base/error.h"
#include "distributed/communicator.h"
#include "gloocases.h"
#include "testsupport.h"

namespace gqa {
namespace {

using test::localRendezvous;

constexpr int kWorld = 2;
constexpr double kTimeoutSeconds = 60.0;

/// Why an NCCL test cannot run here, or empty.
std::string ncclSkipReason(int devices) {
    if (!ncclAvailable())
        return "this build has no NCCL communicator (LibTorch without CUDA or without nccl.h)";
    if (!torch::cuda::is_available()) return "no CUDA device";
    if (static_cast<int>(torch::cuda::device_count()) < devices)
        return "needs " + std::to_string(devices) + " CUDA devices, found " +
               std::to_string(torch::cuda::device_count());
    return {};
}

std::vector<torch::Tensor> onDevice(std::vector<torch::Tensor> tensors, torch::Device device) {
    for (torch::Tensor& t : tensors) t = t.to(device);
    return tensors;
}

std::vector<torch::Tensor> onCpu(const std::vector<torch::Tensor>& tensors) {
    std::vector<torch::Tensor> out;
    for (const torch::Tensor& t : tensors) out.push_back(t.cpu());
    return out;
}

TEST(Communicator, ConnectForPicksGlooOnCpu) {
    auto communicator = connectFor(localRendezvous(freeLocalPort(), 0, 1, 5), torch::kCPU);
    EXPECT_EQ(communicator->backendName(), "Gloo");
    EXPECT_TRUE(communicator->device().is_cpu());
}

TEST(Communicator, DeviceForRankKeepsExplicitDevices) {
    EXPECT_TRUE(deviceForRank(torch::kCPU, 3).is_cpu());
    EXPECT_EQ(deviceForRank(torch::Device("cuda:1"), 0), torch::Device("cuda:1"));
    if (torch::cuda::is_available()) {
        const auto devices = static_cast<int>(torch::cuda::device_count());
        EXPECT_EQ(deviceForRank(torch::kCUDA, 3).index(), 3 % devices);
    }
}

TEST(NcclCommunicator, BuildWithoutNcclSaysSo) {
    if (ncclAvailable()) GTEST_SKIP() << "this build has NCCL";
    try {
        connectNccl(localRendezvous(freeLocalPort(), 0, 1, 5), torch::kCUDA);
        FAIL() << "connected over NCCL in a build without it";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("NCCL"), std::string::npos) << e.what();
    }
}

TEST(NcclCommunicator, GroupOfOneLeavesValues_CUDA) {
    if (const std::string why = ncclSkipReason(1); !why.empty()) GTEST_SKIP() << why;
    const torch::Device gpu(torch::kCUDA, 0);
    auto communicator = connectNccl(localRendezvous(freeLocalPort(), 0, 1, kTimeoutSeconds), gpu);
    EXPECT_EQ(communicator->backendName(), "NCCL");
    EXPECT_EQ(communicator->device(), gpu);
    std::vector<torch::Tensor> tensors = onDevice(test::glooCaseTensors(0), gpu);
    communicator->allReduceSum(tensors);
    communicator->broadcast(tensors, 0);
    communicator->barrier();
    EXPECT_TRUE(test::glooCaseClose(onCpu(tensors), test::glooCaseTensors(0)));
}

// Sum, broadcast, reduce to one root and a started all-reduce, GPU tensors and CPU ones.
TEST(NcclCommunicator, ThreadsSumAndBroadcastMixedTensors_CUDA) {
    if (const std::string why = ncclSkipReason(kWorld); !why.empty()) GTEST_SKIP() << why;
    const int port = freeLocalPort();
    std::vector<std::vector<torch::Tensor>> sums(kWorld), hostSums(kWorld), copies(kWorld),
        reduced(kWorld);
    std::vector<torch::Tensor> started(kWorld);
    for (int rank = 0; rank < kWorld; ++rank) {
        const torch::Device gpu(torch::kCUDA, rank);
        sums[rank] = onDevice(test::glooCaseTensors(rank), gpu);
        hostSums[rank] = test::glooCaseTensors(rank);
        copies[rank] = onDevice(test::glooCaseTensors(rank), gpu);
        reduced[rank] = onDevice(test::glooCaseTensors(rank), gpu);
        started[rank] = torch::full({5}, double(rank + 1), torch::TensorOptions(gpu));
    }
    const std::vector<torch::Tensor> expectedSum = test::glooCaseSum(kWorld);
    std::vector<std::future<void>> ranks;
    for (int rank = 0; rank < kWorld; ++rank)
        ranks.push_back(std::async(std::launch::async, [&, rank] {
            auto communicator = connectNccl(localRendezvous(port, rank, kWorld, kTimeoutSeconds),
                                            torch::Device(torch::kCUDA, rank));
            EXPECT_EQ(communicator->rank(), rank);
            communicator->allReduceSum(sums[rank]);
            communicator->allReduceSum(hostSums[rank]);
            communicator->broadcast(copies[rank], 1);
            communicator->reduceSum(reduced[rank], 1);
            communicator->startAllReduceSum(started[rank])->wait();
            communicator->barrier();
        }));
    for (auto& r : ranks) r.get();
    EXPECT_TRUE(test::glooCaseClose(onCpu(reduced[1]), expectedSum));  // the root only
    for (int rank = 0; rank < kWorld; ++rank) {
        EXPECT_TRUE(test::glooCaseClose(onCpu(sums[rank]), expectedSum)) << "rank " << rank;
        EXPECT_TRUE(test::glooCaseClose(hostSums[rank], expectedSum)) << "rank " << rank;
        EXPECT_TRUE(hostSums[rank][1].is_cpu());
        EXPECT_TRUE(test::glooCaseClose(onCpu(copies[rank]), test::glooCaseTensors(1)))
            << "rank " << rank;
        EXPECT_TRUE(sums[rank][1].is_cuda());
        EXPECT_TRUE(torch::allclose(started[rank].cpu(), torch::full({5}, 3.0))) << "rank " << rank;
    }
    EXPECT_FALSE(hostSums[0][3].is_contiguous());  // written through the view, not replaced
}

}  // namespace
}  // namespace gqa
