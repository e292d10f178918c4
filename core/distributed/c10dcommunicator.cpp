// SPDX-License-Identifier: GPL-3.0-or-later
#include "distributed/c10dcommunicator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <utility>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "base/error.h"

namespace gqa {
namespace detail {
namespace {

/// PyTorch DDP's default bucket size (bucket_cap_mb = 25): large enough that per-collective
/// overhead vanishes, small enough that several buckets are in flight at once.
constexpr std::int64_t kBucketBytes = 25 * 1024 * 1024;
constexpr int kMaxPort = 65535;

/// One started collective; keeps its tensor (and the caller's, when staged) alive until it has
/// completed, and copies a staged result back on wait().
class C10dPendingCollective final : public PendingCollective {
public:
    C10dPendingCollective(const C10dCommunicator& owner, c10::intrusive_ptr<c10d::Work> work,
                          torch::Tensor reduced, torch::Tensor target,
                          std::chrono::milliseconds timeout, std::string what)
        : m_owner(owner),
          m_work(std::move(work)),
          m_reduced(std::move(reduced)),
          m_target(std::move(target)),
          m_timeout(timeout),
          m_what(std::move(what)) {}
    ~C10dPendingCollective() override {
        if (!m_work) return;
        try {
            m_work->wait(m_timeout);
        } catch (const std::exception&) {  // reported by wait() when the caller asks
        }
    }
    void wait() override {
        if (!m_work) return;
        const auto work = std::move(m_work);
        try {
            work->wait(m_timeout);
        } catch (const std::exception& e) {
            m_owner.fail(m_what + " failed", causeText(e));
        }
        if (!m_target.is_same(m_reduced)) m_target.copy_(m_reduced);
    }

private:
    const C10dCommunicator& m_owner;
    c10::intrusive_ptr<c10d::Work> m_work;
    torch::Tensor m_reduced;  ///< what the back end reduces
    torch::Tensor m_target;   ///< the caller's tensor (the same one unless staged)
    std::chrono::milliseconds m_timeout;
    std::string m_what;
};

}  // namespace

std::string causeText(const std::exception& e) {
    if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
    return e.what();
}

void checkRendezvous(const RendezvousSettings& settings) {
    if (settings.worldSize < 1 || settings.rank < 0 || settings.rank >= settings.worldSize)
        throw InputError("rank " + std::to_string(settings.rank) + " is not in a run of " +
                         std::to_string(settings.worldSize) +
                         " processes (0 <= rank < world size)");
    if (settings.masterPort < 1 || settings.masterPort > kMaxPort)
        throw InputError("master port " + std::to_string(settings.masterPort) +
                         " is not in 1..65535");
    if (!(settings.timeoutSeconds > 0)) throw InputError("the collective timeout must be positive");
    // A peer that dies leaves half-open sockets: writing to one must be an error, not SIGPIPE's
    // default of killing this process.
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
        std::signal(SIGPIPE, SIG_IGN);
}

c10::intrusive_ptr<c10d::Store> joinStore(const RendezvousSettings& s) {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(s.masterPort);
    options.isServer = s.rank == 0;
    options.numWorkers = static_cast<std::size_t>(s.worldSize);
    // Joining is checked by the process group's own exchange (within the timeout); LibTorch
    // 1.13's wait for workers would add its timeout again before that and then pass anyway.
    options.waitWorkers = false;
    options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(s.timeoutSeconds * 1e3));
    return c10::make_intrusive<c10d::TCPStore>(s.masterAddress, options);
}

C10dCommunicator::C10dCommunicator(const RendezvousSettings& s, std::string backendName,
                                   torch::Device staging, bool barrierByAllReduce,
                                   const Connect& connect)
    : m_rank(s.rank),
      m_worldSize(s.worldSize),
      m_backendName(std::move(backendName)),
      m_staging(staging),
      m_barrierByAllReduce(barrierByAllReduce),
      m_timeoutSeconds(s.timeoutSeconds),
      m_timeout(static_cast<std::int64_t>(s.timeoutSeconds * 1000.0)) {
    const std::string master = s.masterAddress + ":" + std::to_string(s.masterPort);
    try {
        m_store = joinStore(s);
    } catch (const std::exception& e) {
        fail("could not join the run at " + master, causeText(e));
    }
    try {
        m_group = connect(m_store, m_timeout);
    } catch (const InputError&) {
        throw;
    } catch (const std::exception& e) {
        fail("could not connect to the other ranks over " + m_backendName + " (master " + master +
                 ")",
             causeText(e));
    }
}

void C10dCommunicator::fail(const std::string& what, const std::string& cause) const {
    throw Error("rank " + std::to_string(m_rank) + " of " + std::to_string(m_worldSize) + ": " +
                what + " (a peer exited, or did not answer within the " +
                std::to_string(static_cast<long>(m_timeoutSeconds)) +
                " s collective timeout): " + cause);
}

void C10dCommunicator::runBucketed(std::vector<torch::Tensor>& tensors, const std::string& what,
                                   const Launch& launch) {
    torch::NoGradGuard noGrad;
    struct Bucket {
        std::vector<std::size_t> members;
        std::int64_t bytes = 0;
        torch::Tensor flat;
        bool inPlace = false;
    };
    // One open bucket per (dtype, device); a tensor larger than a bucket gets one of its own.
    std::vector<Bucket> buckets;
    std::map<std::pair<int, std::string>, std::size_t> open;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const torch::Tensor& t = tensors[i];
        if (t.numel() == 0) continue;
        const auto key = std::make_pair(static_cast<int>(t.scalar_type()), t.device().str());
        const std::int64_t bytes = t.numel() * static_cast<std::int64_t>(t.element_size());
        auto it = open.find(key);
        if (it == open.end() || buckets[it->second].bytes + bytes > kBucketBytes) {
            buckets.emplace_back();
            it = open.insert_or_assign(key, buckets.size() - 1).first;
        }
        buckets[it->second].members.push_back(i);
        buckets[it->second].bytes += bytes;
    }

    // Tensors elsewhere than the staging device are copied there and back (a no-op for a single
    // contiguous tensor already there).
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (Bucket& bucket : buckets) {
        const torch::Tensor& first = tensors[bucket.members.front()];
        if (bucket.members.size() == 1 && first.device() == m_staging && first.is_contiguous()) {
            bucket.flat = first;  // reduced in place, nothing to copy back
            bucket.inPlace = true;
        } else {
            std::vector<torch::Tensor> pieces;
            for (std::size_t i : bucket.members) pieces.push_back(tensors[i].reshape({-1}));
            bucket.flat = torch::cat(pieces).to(m_staging).contiguous();
        }
        std::vector<at::Tensor> one{bucket.flat};
        try {
            works.push_back(launch(one));
        } catch (const std::exception& e) {
            fail(what + " failed", causeText(e));
        }
    }
    // Wait for every bucket, even after a failure, so that no work still uses a tensor.
    std::string failure;
    for (auto& work : works) {
        try {
            work->wait(m_timeout);
        } catch (const std::exception& e) {
            if (failure.empty()) failure = causeText(e);
        }
    }
    if (!failure.empty()) fail(what + " failed", failure);

    for (const Bucket& bucket : buckets) {
        if (bucket.inPlace) continue;
        std::int64_t offset = 0;
        for (std::size_t i : bucket.members) {
            torch::Tensor& t = tensors[i];
            t.copy_(bucket.flat.narrow(0, offset, t.numel()).view(t.sizes()));
            offset += t.numel();
        }
    }
}

c10::intrusive_ptr<c10d::Work> C10dCommunicator::launchReduce(std::vector<at::Tensor>& one,
                                                              int root) {
    if (root < 0) {
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        options.timeout = m_timeout;
        return m_group->allreduce(one, options);
    }
    c10d::ReduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.rootRank = root;
    options.timeout = m_timeout;
    return m_group->reduce(one, options);
}

void C10dCommunicator::allReduceSum(std::vector<torch::Tensor>& tensors) {
    runBucketed(tensors, "all-reduce",
                [this](std::vector<at::Tensor>& one) { return launchReduce(one, -1); });
}

void C10dCommunicator::reduceSum(std::vector<torch::Tensor>& tensors, int root) {
    checkRoot("reduce", root);
    runBucketed(tensors, "reduce",
                [this, root](std::vector<at::Tensor>& one) { return launchReduce(one, root); });
}

void C10dCommunicator::checkRoot(const std::string& what, int root) const {
    if (root < 0 || root >= m_worldSize)
        throw Error(what + " to or from rank " + std::to_string(root) + " in a run of " +
                    std::to_string(m_worldSize));
}

void C10dCommunicator::broadcast(std::vector<torch::Tensor>& tensors, int root) {
    checkRoot("broadcast", root);
    runBucketed(tensors, "broadcast", [this, root](std::vector<at::Tensor>& one) {
        c10d::BroadcastOptions options;
        options.rootRank = root;
        options.timeout = m_timeout;
        return m_group->broadcast(one, options);
    });
}

std::unique_ptr<PendingCollective> C10dCommunicator::startAllReduceSum(const torch::Tensor& flat) {
    return start(flat, -1);
}

std::unique_ptr<PendingCollective> C10dCommunicator::startReduceSum(const torch::Tensor& flat,
                                                                    int root) {
    checkRoot("reduce", root);
    return start(flat, root);
}

std::unique_ptr<PendingCollective> C10dCommunicator::start(const torch::Tensor& flat, int root) {
    if (!flat.is_contiguous() || flat.dim() != 1)
        throw Error("a started collective needs a flat contiguous tensor");
    torch::NoGradGuard noGrad;
    // Expected on the staging device (OverlappedReduce allocates its buckets there); anything
    // else is staged, and copied back on wait().
    const torch::Tensor reduced = flat.device() == m_staging ? flat : flat.to(m_staging);
    std::vector<at::Tensor> one{reduced};
    const std::string what = root < 0 ? "all-reduce" : "reduce";
    try {
        return std::make_unique<C10dPendingCollective>(*this, launchReduce(one, root), reduced,
                                                       flat, m_timeout, what);
    } catch (const std::exception& e) {
        fail(what + " failed", causeText(e));
    }
}

void C10dCommunicator::barrier() {
    try {
        if (m_barrierByAllReduce) {
            std::vector<at::Tensor> one{torch::zeros({1}, torch::TensorOptions(m_staging))};
            launchReduce(one, -1)->wait(m_timeout);
            // NCCL's wait() only orders the current stream after the collective: reading the
            // value makes the host wait too.
            (void)one.front().to(torch::kCPU);
            return;
        }
        c10d::BarrierOptions options;
        options.timeout = m_timeout;
        m_group->barrier(options)->wait(m_timeout);
    } catch (const std::exception& e) {
        fail("barrier failed", causeText(e));
    }
}

}  // namespace detail

namespace {
/// Environment variable that forces the communicator connectFor picks (gloo or nccl).
constexpr const char* kBackendVariable = "GQA_COMMUNICATOR";
}  // namespace

std::shared_ptr<Communicator> connectFor(const RendezvousSettings& settings, torch::Device device) {
    const char* forced = std::getenv(kBackendVariable);
    const std::string choice = forced ? forced : "";
    if (choice == "gloo") return connectGloo(settings);
    if (choice == "nccl") return connectNccl(settings, device);
    if (!choice.empty())
        throw InputError(std::string(kBackendVariable) + "='" + choice +
                         "' is not a communicator; expected gloo or nccl");
    // NCCL needs one GPU per rank: with fewer GPUs than ranks here (one machine assumed), Gloo.
    const bool gpuPerRank = device.has_index() || torch::cuda::device_count() >=
                                                      static_cast<std::size_t>(settings.worldSize);
    if (device.is_cuda() && ncclAvailable() && gpuPerRank) return connectNccl(settings, device);
    return connectGloo(settings);
}

torch::Device deviceForRank(torch::Device requested, int rank) {
    if (!requested.is_cuda() || requested.has_index()) return requested;
    const auto devices = static_cast<int>(torch::cuda::device_count());
    if (devices < 1) return requested;
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(rank % devices));
}

int freeLocalPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw Error("cannot open a socket to find a free port");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    if (!ok) throw Error("cannot find a free TCP port on this machine");
    return ntohs(address.sin_port);
}

}  // namespace gqa
