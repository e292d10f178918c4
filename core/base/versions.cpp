// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/versions.h"

#include <link.h>  // dl_iterate_phdr

#include <filesystem>
#include <string_view>

#include <H5public.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "distributed/communicator.h"
#include "model/attentionkernel.h"

namespace gqa {

std::string torchVersion() { return TORCH_VERSION; }

std::string torchBackends() {
    std::string text = "CPU";
    if (torch::cuda::is_available()) {
        const auto devices = torch::cuda::device_count();
        text += ", CUDA (" + std::to_string(devices) + (devices == 1 ? " device)" : " devices)");
    }
    return text;
}

std::string computeFeatures() {
    std::string kernel;
    try {
        kernel = attentionKernelName(attentionKernel());
    } catch (const std::exception& e) {  // a bad $GQA_ATTENTION: say so rather than fail here
        kernel = std::string("none (") + e.what() + ")";
    }
    return "attention kernel: " + kernel + "; NCCL: " + (ncclAvailable() ? "yes" : "no");
}

std::string hdf5Version() {
    unsigned major = 0, minor = 0, release = 0;
    if (H5get_libversion(&major, &minor, &release) < 0) return "unknown";
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

std::string blasLibrary() {
    std::string found;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
            const std::string_view name = info->dlpi_name ? info->dlpi_name : "";
            if (name.find("/libblas.so") == std::string_view::npos) return 0;
            *static_cast<std::string*>(data) = std::string(name);
            return 1;
        },
        &found);
    if (found.empty()) return found;
    std::error_code ec;
    const std::filesystem::path resolved = std::filesystem::canonical(found, ec);
    return ec ? found : resolved.string();
}

}  // namespace gqa
