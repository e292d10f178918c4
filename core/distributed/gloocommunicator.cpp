// SPDX-License-Identifier: GPL-3.0-or-later
// Communicator over c10d::ProcessGroupGloo (see communicator.h). Built with USE_C10D_GLOO (set in
// core/CMakeLists.txt on this file only), which exposes ProcessGroupGloo in LibTorch's headers.
#include "distributed/communicator.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <map>
#include <utility>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "base/error.h"

namespace gqa {
namespace {

/// PyTorch DDP's default bucket size (bucket_cap_mb = 25): large enough that per-collective
/// overhead vanishes, small enough that several buckets are in flight at once.
constexpr std::int64_t kBucketBytes = 25 * 1024 * 1024;
/// Gloo threads that run queued collectives (PyTorch uses two per device).
constexpr int kGlooThreads = 2;

std::string causeText(const std::exception& e) {
    if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
    return e.what();
}

/// The local address of the route toward the master: the address peers on other machines reach
/// this rank at (127.0.0.1 when the master is on the loopback). A UDP connect sends nothing.
std::string localAddressToward(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (rc != 0)
        throw InputError("master address '" + host + "' does not resolve: " + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
    const int fd = ::socket(found->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) throw Error("cannot open a socket to find the local address");
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    const bool ok = ::connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
    ::close(fd);
    if (!ok) throw Error("no route from this machine to the master address '" + host + "'");
    char text[INET6_ADDRSTRLEN] = {};
    const void* address =
        local.ss_family == AF_INET6
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
    ::inet_ntop(local.ss_family, address, text, sizeof text);
    return text;
}

std::shared_ptr<::gloo::transport::Device> createDevice(const RendezvousSettings& settings) {
    // PyTorch's own override for machines where the route to the master is the wrong interface.
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
        return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
    return c10d::ProcessGroupGloo::createDeviceForHostname(
        localAddressToward(settings.masterAddress, settings.masterPort));
}

class GlooCommunicator final : public Communicator {
public:
    explicit GlooCommunicator(const RendezvousSettings& settings);

    int rank() const override { return m_rank; }
    int worldSize() const override { return m_worldSize; }
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
    std::unique_ptr<PendingCollective> start(const torch::Tensor& flat, int root);

    int m_rank;
    int m_worldSize;
    double m_timeoutSeconds;
    std::chrono::milliseconds m_timeout;
    c10::intrusive_ptr<c10d::Store> m_store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> m_group;
};

GlooCommunicator::GlooCommunicator(const RendezvousSettings& s)
    : m_rank(s.rank),
      m_worldSize(s.worldSize),
      m_timeoutSeconds(s.timeoutSeconds),
      m_timeout(static_cast<std::int64_t>(s.timeoutSeconds * 1000.0)) {
    const std::string master = s.masterAddress + ":" + std::to_string(s.masterPort);
    try {
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(s.masterPort);
        options.isServer = s.rank == 0;
        options.numWorkers = static_cast<std::size_t>(s.worldSize);
        // Joining is checked by the process group's own exchange (within the timeout); LibTorch
        // 1.13's wait for workers would add its timeout again before that and then pass anyway.
        options.waitWorkers = false;
        options.timeout = m_timeout;
        m_store = c10::make_intrusive<c10d::TCPStore>(s.masterAddress, options);
    } catch (const std::exception& e) {
        fail("could not join the run at " + master, causeText(e));
    }
    try {
        auto options = c10d::ProcessGroupGloo::Options::create(m_timeout);
        options->devices.push_back(createDevice(s));
        options->threads = kGlooThreads;
        m_group =
            c10::make_intrusive<c10d::ProcessGroupGloo>(m_store, s.rank, s.worldSize, options);
    } catch (const InputError&) {
        throw;
    } catch (const std::exception& e) {
        fail("could not connect to the other ranks (master " + master + ")", causeText(e));
    }
}

void GlooCommunicator::fail(const std::string& what, const std::string& cause) const {
    throw Error("rank " + std::to_string(m_rank) + " of " + std::to_string(m_worldSize) + ": " +
                what + " (a peer exited, or did not answer within the " +
                std::to_string(static_cast<long>(m_timeoutSeconds)) +
                " s collective timeout): " + cause);
}

void GlooCommunicator::runBucketed(std::vector<torch::Tensor>& tensors, const std::string& what,
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

    // Gloo reduces host memory: CUDA tensors are staged through the CPU (a no-op on CPU).
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (Bucket& bucket : buckets) {
        const torch::Tensor& first = tensors[bucket.members.front()];
        if (bucket.members.size() == 1 && first.is_cpu() && first.is_contiguous()) {
            bucket.flat = first;  // reduced in place, nothing to copy back
            bucket.inPlace = true;
        } else {
            std::vector<torch::Tensor> pieces;
            for (std::size_t i : bucket.members) pieces.push_back(tensors[i].reshape({-1}));
            bucket.flat = torch::cat(pieces).to(torch::kCPU).contiguous();
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

void GlooCommunicator::allReduceSum(std::vector<torch::Tensor>& tensors) {
    runBucketed(tensors, "all-reduce", [this](std::vector<at::Tensor>& one) {
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        options.timeout = m_timeout;
        return m_group->allreduce(one, options);
    });
}

void GlooCommunicator::reduceSum(std::vector<torch::Tensor>& tensors, int root) {
    checkRoot("reduce", root);
    runBucketed(tensors, "reduce", [this, root](std::vector<at::Tensor>& one) {
        c10d::ReduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        options.rootRank = root;
        options.timeout = m_timeout;
        return m_group->reduce(one, options);
    });
}

void GlooCommunicator::checkRoot(const std::string& what, int root) const {
    if (root < 0 || root >= m_worldSize)
        throw Error(what + " to or from rank " + std::to_string(root) + " in a run of " +
                    std::to_string(m_worldSize));
}

void GlooCommunicator::broadcast(std::vector<torch::Tensor>& tensors, int root) {
    checkRoot("broadcast", root);
    runBucketed(tensors, "broadcast", [this, root](std::vector<at::Tensor>& one) {
        c10d::BroadcastOptions options;
        options.rootRank = root;
        options.timeout = m_timeout;
        return m_group->broadcast(one, options);
    });
}

/// One started collective; keeps its tensor alive until it has completed.
class GlooPendingCollective final : public PendingCollective {
public:
    GlooPendingCollective(const GlooCommunicator& owner, c10::intrusive_ptr<c10d::Work> work,
                          torch::Tensor tensor, std::chrono::milliseconds timeout, std::string what)
        : m_owner(owner),
          m_work(std::move(work)),
          m_tensor(std::move(tensor)),
          m_timeout(timeout),
          m_what(std::move(what)) {}
    ~GlooPendingCollective() override {
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
    }

private:
    const GlooCommunicator& m_owner;
    c10::intrusive_ptr<c10d::Work> m_work;
    torch::Tensor m_tensor;
    std::chrono::milliseconds m_timeout;
    std::string m_what;
};

std::unique_ptr<PendingCollective> GlooCommunicator::startAllReduceSum(const torch::Tensor& flat) {
    return start(flat, -1);
}

std::unique_ptr<PendingCollective> GlooCommunicator::startReduceSum(const torch::Tensor& flat,
                                                                    int root) {
    checkRoot("reduce", root);
    return start(flat, root);
}

std::unique_ptr<PendingCollective> GlooCommunicator::start(const torch::Tensor& flat, int root) {
    if (!flat.is_cpu() || !flat.is_contiguous())
        throw Error("a started collective needs a contiguous CPU tensor");
    std::vector<at::Tensor> one{flat};
    const std::string what = root < 0 ? "all-reduce" : "reduce";
    try {
        c10::intrusive_ptr<c10d::Work> work;
        if (root < 0) {
            c10d::AllreduceOptions options;
            options.reduceOp = c10d::ReduceOp::SUM;
            options.timeout = m_timeout;
            work = m_group->allreduce(one, options);
        } else {
            c10d::ReduceOptions options;
            options.reduceOp = c10d::ReduceOp::SUM;
            options.rootRank = root;
            options.timeout = m_timeout;
            work = m_group->reduce(one, options);
        }
        return std::make_unique<GlooPendingCollective>(*this, std::move(work), flat, m_timeout,
                                                       what);
    } catch (const std::exception& e) {
        fail(what + " failed", causeText(e));
    }
}

void GlooCommunicator::barrier() {
    try {
        c10d::BarrierOptions options;
        options.timeout = m_timeout;
        m_group->barrier(options)->wait(m_timeout);
    } catch (const std::exception& e) {
        fail("barrier failed", causeText(e));
    }
}

}  // namespace

std::shared_ptr<Communicator> connectGloo(const RendezvousSettings& settings) {
    if (settings.worldSize < 1 || settings.rank < 0 || settings.rank >= settings.worldSize)
        throw InputError("rank " + std::to_string(settings.rank) + " is not in a run of " +
                         std::to_string(settings.worldSize) +
                         " processes (0 <= rank < world size)");
    if (settings.masterPort < 1 || settings.masterPort > 65535)
        throw InputError("master port " + std::to_string(settings.masterPort) +
                         " is not in 1..65535");
    if (!(settings.timeoutSeconds > 0)) throw InputError("the collective timeout must be positive");
    // A peer that dies leaves half-open sockets: writing to one must be an error, not SIGPIPE's
    // default of killing this process (Python, and so torchrun's workers, ignore it too).
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
        std::signal(SIGPIPE, SIG_IGN);
    return std::make_shared<GlooCommunicator>(settings);
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
