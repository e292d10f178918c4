// SPDX-License-Identifier: GPL-3.0-or-later
// Communicator over c10d::ProcessGroupNCCL (see communicator.h; the shared part is
// c10dcommunicator.h): GPU-to-GPU collectives, one CUDA device per rank. Compiled in only with
// GQA_WITH_NCCL (core/CMakeLists.txt: a CUDA LibTorch whose headers have ProcessGroupNCCL.hpp and
// an nccl.h to go with them), which also defines USE_C10D_NCCL for this file, as ProcessGroupNCCL
// hides its class without it. Without it, connectNccl says why it cannot.
#include <cstdlib>

#include "base/error.h"
#include "distributed/communicator.h"

#ifdef GQA_WITH_NCCL
#include "distributed/c10dcommunicator.h"

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace gqa {

#ifdef GQA_WITH_NCCL
namespace {

/// NCCL's wait() normally only makes the current stream wait, and a peer that never answers is
/// left to ProcessGroupNCCL's watchdog, which ends the process. Blocking wait makes wait() block
/// the host and throw when the timeout passes, which is this interface's promise (an Error naming
/// the rank). The variable was renamed in 2.2; both names are set unless the user set them.
void requestBlockingWait() {
    ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
    ::setenv("NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
}

}  // namespace

bool ncclAvailable() { return true; }

std::shared_ptr<Communicator> connectNccl(const RendezvousSettings& settings,
                                          torch::Device device) {
    detail::checkRendezvous(settings);
    if (!device.is_cuda() || !torch::cuda::is_available())
        throw InputError("NCCL needs a CUDA device; got '" + device.str() + "'");
    const torch::Device rankDevice = deviceForRank(device, settings.rank);
    if (rankDevice.index() >= static_cast<c10::DeviceIndex>(torch::cuda::device_count()))
        throw InputError("device " + rankDevice.str() + " does not exist on this machine (" +
                         std::to_string(torch::cuda::device_count()) + " CUDA devices)");
    requestBlockingWait();
    const auto connect = [&settings](const c10::intrusive_ptr<c10d::Store>& store,
                                     std::chrono::milliseconds timeout) {
        auto options = c10d::ProcessGroupNCCL::Options::create();
        options->timeout = timeout;
        return c10::intrusive_ptr<compat::C10dBackend>(c10::make_intrusive<c10d::ProcessGroupNCCL>(
            store, settings.rank, settings.worldSize, options));
    };
    return std::make_shared<detail::C10dCommunicator>(settings, "NCCL", rankDevice,
                                                      /*barrierByAllReduce=*/true, connect);
}

#else

bool ncclAvailable() { return false; }

std::shared_ptr<Communicator> connectNccl(const RendezvousSettings&, torch::Device) {
    throw Error(
        "this build has no NCCL communicator (it needs a CUDA LibTorch with c10d NCCL and "
        "nccl.h at configure time: GQA_WITH_NCCL); use Gloo");
}

#endif

}  // namespace gqa
