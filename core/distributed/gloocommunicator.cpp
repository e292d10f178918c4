// SPDX-License-Identifier: GPL-3.0-or-later
// Communicator over c10d::ProcessGroupGloo (see communicator.h; the shared part is
// c10dcommunicator.h). Built with USE_C10D_GLOO (set in core/CMakeLists.txt on this file only),
// which exposes ProcessGroupGloo in LibTorch's headers.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "distributed/c10dcommunicator.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "base/error.h"

namespace gqa {
namespace {

/// Gloo threads that run queued collectives (PyTorch uses two per device).
constexpr int kGlooThreads = 2;

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

}  // namespace

std::shared_ptr<Communicator> connectGloo(const RendezvousSettings& settings) {
    detail::checkRendezvous(settings);
    const auto connect = [&settings](const c10::intrusive_ptr<c10d::Store>& store,
                                     std::chrono::milliseconds timeout) {
        auto options = c10d::ProcessGroupGloo::Options::create(timeout);
        options->devices.push_back(createDevice(settings));
        options->threads = kGlooThreads;
        return c10::intrusive_ptr<compat::C10dBackend>(c10::make_intrusive<c10d::ProcessGroupGloo>(
            store, settings.rank, settings.worldSize, options));
    };
    // Gloo reduces host memory: CUDA tensors are staged through the CPU.
    return std::make_shared<detail::C10dCommunicator>(settings, "Gloo", torch::kCPU,
                                                      /*barrierByAllReduce=*/false, connect);
}

}  // namespace gqa
