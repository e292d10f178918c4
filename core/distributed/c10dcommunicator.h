// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The part of the Gloo and NCCL communicators (communicator.h) that does not depend on the back
// end: the TCPStore rendezvous, bucketing tensors into ~25 MB collectives, staging tensors onto
// the device the back end reduces on (host memory for Gloo, the rank's GPU for NCCL), waiting
// within the timeout and turning every failure into a gqa::Error that names the rank. Internal to
// core/distributed: gloocommunicator.cpp and ncclcommunicator.cpp create the process group and
// hand it over. Includes c10d's headers, so only those files include this one.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#define GQA_COMPAT_C10D 1
#include "base/torchcompat.h"
#include "distributed/communicator.h"

#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

namespace gqa::detail {

/// InputError for settings that describe no run (see connectGloo); ignores SIGPIPE so that a dead
/// peer's socket is an error, not this process's death (Python and torchrun's workers do too).
void checkRendezvous(const RendezvousSettings& settings);
/// A c10::Error's message without its C++ backtrace, else what().
std::string causeText(const std::exception& e);
/// The TCPStore of the run (rank 0 hosts it). Throws gqa::Error naming the rank on failure.
c10::intrusive_ptr<c10d::Store> joinStore(const RendezvousSettings& settings);

class C10dCommunicator final : public Communicator {
public:
    /// `connect` creates the process group (given the store); its failures become an Error.
    /// `staging`: where buckets are reduced (CPU for Gloo, the rank's GPU for NCCL).
    /// `barrierByAllReduce`: a barrier as a one-element all-reduce on `staging` (NCCL's own
    /// barrier guesses the device from the rank).
    using Connect = std::function<c10::intrusive_ptr<compat::C10dBackend>(
        const c10::intrusive_ptr<c10d::Store>&, std::chrono::milliseconds timeout)>;
    C10dCommunicator(const RendezvousSettings& settings, std::string backendName,
                     torch::Device staging, bool barrierByAllReduce, const Connect& connect);

    int rank() const override { return m_rank; }
    int worldSize() const override { return m_worldSize; }
    torch::Device device() const override { return m_staging; }
    std::string backendName() const override { return m_backendName; }
    void allReduceSum(std::vector<torch::Tensor>& tensors) override;
    void reduceSum(std::vector<torch::Tensor>& tensors, int root) override;
    void broadcast(std::vector<torch::Tensor>& tensors, int root) override;
    void barrier() override;
    std::unique_ptr<PendingCollective> startAllReduceSum(const torch::Tensor& flat) override;
    std::unique_ptr<PendingCollective> startReduceSum(const torch::Tensor& flat, int root) override;
    [[noreturn]] void fail(const std::string& what, const std::string& cause) const;

private:
    using Launch = std::function<c10::intrusive_ptr<c10d::Work>(std::vector<at::Tensor>&)>;

    void runBucketed(std::vector<torch::Tensor>& tensors, const std::string& what,
                     const Launch& launch);
    void checkRoot(const std::string& what, int root) const;
    /// An all-reduce (root < 0) or a reduce to `root`, started.
    c10::intrusive_ptr<c10d::Work> launchReduce(std::vector<at::Tensor>& one, int root);
    std::unique_ptr<PendingCollective> start(const torch::Tensor& flat, int root);

    int m_rank;
    int m_worldSize;
    std::string m_backendName;
    torch::Device m_staging;
    bool m_barrierByAllReduce;
    double m_timeoutSeconds;
    std::chrono::milliseconds m_timeout;
    c10::intrusive_ptr<c10d::Store> m_store;
    c10::intrusive_ptr<compat::C10dBackend> m_group;
};

}  // namespace gqa::detail
