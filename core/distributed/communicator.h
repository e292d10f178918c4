// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Data-parallel training across processes (method §10): the few collectives the conversion
// trainer needs, behind an interface so that the trainer does not depend on c10d's headers.
// Two implementations run PyTorch's own c10d process groups over a c10d::TCPStore rendezvous
// (c10dcommunicator.h): ProcessGroupGloo (gloocommunicator.cpp, always built) and
// ProcessGroupNCCL (ncclcommunicator.cpp, only in builds against a CUDA LibTorch with NCCL:
// GQA_WITH_NCCL). connectFor() picks NCCL for a CUDA device when it is built, Gloo otherwise; a
// single process uses no communicator at all.
//
// Every collective is called by every rank in the same order with tensors of the same shapes.
// A failed or vanished peer, or a collective that does not complete within the timeout, throws
// gqa::Error naming this rank and the cause: no rank hangs forever. A peer that dies closes its
// sockets and the others fail at once; a peer that stops answering (a machine gone from the
// network, a stuck process) is noticed when the timeout passes. After an Error the communicator
// is broken: the process should report and exit (a rerun resumes from the last checkpoint).
//
// Gloo works on CPU tensors, and CUDA tensors are staged through host memory (Debian's Gloo has no
// CUDA support). NCCL works on one CUDA device per rank (deviceForRank), and CPU tensors are staged
// through that device; its wait() blocks the host (TORCH_NCCL_BLOCKING_WAIT), so the timeout
// promise above holds for both. Rendezvous as in torchrun: rank 0 hosts the TCPStore at
// masterAddress:masterPort, every rank connects to it, then each rank opens a Gloo TCP connection
// to every other rank on the address from which it reaches the master (or the interface in
// $GLOO_SOCKET_IFNAME, as PyTorch).

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace gqa {

/// How the workers of one run find each other (torchrun's MASTER_ADDR / MASTER_PORT / RANK /
/// WORLD_SIZE).
struct RendezvousSettings {
    /// Long enough for a rank to finish writing a large checkpoint while others wait at a
    /// barrier; short enough that a killed rank is noticed within minutes, not never.
    static constexpr double kDefaultTimeoutSeconds = 300.0;
    static constexpr int kDefaultPort = 29517;

    std::string masterAddress = "127.0.0.1";
    int masterPort = kDefaultPort;
    int rank = 0;
    int worldSize = 1;
    /// Applies to the rendezvous (all ranks joining) and to every collective.
    double timeoutSeconds = kDefaultTimeoutSeconds;
};

/// A collective started without waiting (Communicator::startAllReduceSum). wait() blocks until it
/// has completed and throws gqa::Error as the blocking collectives do; the destructor waits too
/// (ignoring errors), so no collective outlives the tensor it works on.
class PendingCollective {
public:
    virtual ~PendingCollective() = default;
    virtual void wait() = 0;
};

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int worldSize() const = 0;
    /// Where the collectives run: CPU for Gloo, this rank's GPU for NCCL. Tensors elsewhere are
    /// staged through it, so buffers reduced often (overlappedreduce.h) are best kept there.
    virtual torch::Device device() const = 0;
    /// "Gloo" or "NCCL".
    virtual std::string backendName() const = 0;
    /// Sums every tensor in place across ranks (float32/float64, CPU or CUDA). Tensors are packed
    /// into buckets of about 25 MB (PyTorch DDP's default), one collective per bucket, all
    /// buckets in flight at once.
    virtual void allReduceSum(std::vector<torch::Tensor>& tensors) = 0;
    /// Sums every tensor across ranks into rank `root`'s tensors (bucketed like allReduceSum);
    /// the other ranks' tensors hold unspecified values afterwards. With one root per owner this
    /// is ZeRO-1's reduce-scatter (Gloo in LibTorch 1.13 has no reduce_scatter of its own).
    virtual void reduceSum(std::vector<torch::Tensor>& tensors, int root) = 0;
    /// Overwrites every tensor with rank `root`'s values (bucketed like allReduceSum).
    virtual void broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
    virtual void barrier() = 0;
    /// Starts summing one flat contiguous tensor (best on device()) in place across ranks and
    /// returns at once (for overlapping the gradient reduction with backward:
    /// overlappedreduce.h). Ranks must start their collectives in the same order.
    virtual std::unique_ptr<PendingCollective> startAllReduceSum(const torch::Tensor& flat) = 0;
    /// The same for reduceSum: the sum lands in rank `root`'s tensor only.
    virtual std::unique_ptr<PendingCollective> startReduceSum(const torch::Tensor& flat,
                                                              int root) = 0;
};

/// Joins the run described by `settings` (blocks until every rank has joined or the timeout
/// passes; Error then). worldSize 1 is allowed (a group of one). InputError for settings that
/// cannot describe a run (rank outside [0, worldSize), port outside 1..65535, timeout <= 0).
std::shared_ptr<Communicator> connectGloo(const RendezvousSettings& settings);

/// Whether this build has the NCCL communicator.
bool ncclAvailable();

/// Joins the run over NCCL, this rank on deviceForRank(device, rank) (CUDA). Error in a build
/// without NCCL; InputError for a device that is not CUDA or not present; otherwise as
/// connectGloo.
std::shared_ptr<Communicator> connectNccl(const RendezvousSettings& settings, torch::Device device);

/// NCCL when `device` is CUDA, this build has NCCL and each rank can have a GPU of its own
/// (cuda:N given, or at least world-size GPUs here); Gloo otherwise. $GQA_COMMUNICATOR=gloo|nccl
/// forces one (InputError for another value).
std::shared_ptr<Communicator> connectFor(const RendezvousSettings& settings, torch::Device device);

/// The device rank `rank` computes on when the user named `requested`: "cuda" without an index
/// becomes cuda:(rank % visible devices), one GPU per rank as torchrun's LOCAL_RANK gives on one
/// machine; anything else (cpu, cuda:N) is returned as it is.
torch::Device deviceForRank(torch::Device requested, int rank);

/// A TCP port on the loopback interface that is free now (the kernel's choice for port 0), for
/// a rendezvous on one machine. Another program may take it before it is used: rare, and the
/// rendezvous then fails with an Error that says the address is in use.
int freeLocalPort();

}  // namespace gqa
