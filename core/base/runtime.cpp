// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/runtime.h"

#include <cstdlib>
#include <thread>

#include <torch/version.h>

#include "base/error.h"

namespace gqa {

int configureTorchThreads() {
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("GQA_THREADS")) threads = std::atoi(env);
    if (threads < 1) threads = 1;
    torch::set_num_threads(threads);
    return threads;
}

torch::Device parseDevice(const std::string& text) {
    if (text == "auto") return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
    if (text == "cpu") return torch::kCPU;
    if (text.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available())
            throw InputError("device '" + text +
                             "' asked for, but no CUDA device is available "
                             "(this LibTorch build or machine has none); use --device cpu");
        try {
            return torch::Device(text);
        } catch (const c10::Error&) {
        }
    }
    throw InputError("unknown device '" + text + "'; expected cpu, cuda, cuda:N or auto");
}

bool plansCuda(const std::string& text) {
    if (text == "auto") return torch::cuda::is_available();
    if (text == "cpu") return false;
    if (text == "cuda") return true;
    if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
        text.find_first_not_of("0123456789", 5) == std::string::npos)
        return true;
    throw InputError("unknown device '" + text + "'; expected cpu, cuda, cuda:N or auto");
}

torch::ScalarType parseComputeDtype(const std::string& text) {
    if (text == "float32" || text == "fp32") return torch::kFloat32;
    if (text == "bfloat16" || text == "bf16") return torch::kBFloat16;
    if (text == "float16" || text == "fp16") return torch::kFloat16;
    if (text == "float64" || text == "fp64") return torch::kFloat64;
    throw InputError("unknown dtype '" + text +
                     "'; expected float32, bfloat16, float16 or float64");
}

std::string torchVersionText() {
    return std::string("LibTorch ") + TORCH_VERSION +
           (torch::cuda::is_available() ? " (CUDA available)" : " (CPU)");
}

}  // namespace gqa
