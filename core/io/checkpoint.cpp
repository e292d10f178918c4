// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/checkpoint.h"

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "io/modelsummary.h"
#include "io/safetensors.h"
#include "io/tensorconvert.h"

namespace gqa {
namespace fs = std::filesystem;

const std::vector<std::string>& auxiliaryModelFiles() {
    static const std::vector<std::string> kFiles{"tokenizer.model", "tokenizer_config.json",
                                                 "special_tokens_map.json",
                                                 "generation_config.json", "README.md"};
    return kFiles;
}

const torch::Tensor& Checkpoint::at(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw InputError("checkpoint has no tensor '" + name + "'");
    return it->second;
}

void Checkpoint::set(const std::string& name, torch::Tensor tensor) {
    if (!tensors.count(name)) order.push_back(name);
    tensors[name] = std::move(tensor);
}

void Checkpoint::erase(const std::string& name) {
    if (tensors.erase(name)) order.erase(std::find(order.begin(), order.end(), name));
}

Checkpoint Checkpoint::load(const std::string& folder) {
    NullProgress quiet;
    return load(folder, quiet);
}

Checkpoint Checkpoint::load(const std::string& folder, ProgressSink& progress) {
    reportOrCancel(progress, {0.0, "reading config.json", {}});
    if (!fs::is_directory(folder)) throw InputError(folder + ": not a model folder");
    Checkpoint checkpoint;
    checkpoint.config = ModelConfig::fromFile((fs::path(folder) / "config.json").string());
    SafetensorsCheckpoint stored = SafetensorsCheckpoint::open(folder);
    for (const auto& [name, shape] : expectedTensors(checkpoint.config)) {
        if (!stored.contains(name))
            throw InputError(folder + ": missing tensor '" + name + "' required by config.json");
        const TensorInfo& info = stored.info(name);
        if (info.shape != shape) {
            std::string got, want;
            for (auto d : info.shape) got += (got.empty() ? "" : ",") + std::to_string(d);
            for (auto d : shape) want += (want.empty() ? "" : ",") + std::to_string(d);
            throw InputError(folder + ": tensor '" + name + "' has shape [" + got +
                             "] but config.json implies [" + want + "]");
        }
        if (info.dtype != DType::F32 && info.dtype != DType::F16 && info.dtype != DType::BF16 &&
            info.dtype != DType::F64)
            throw InputError(folder + ": tensor '" + name + "' has dtype " + dtypeName(info.dtype) +
                             "; weights must be floating point");
    }
    const std::uint64_t total = std::max<std::uint64_t>(1, stored.totalTensorBytes());
    std::uint64_t done = 0;
    for (const std::string& name : stored.names()) {
        const TensorInfo& info = stored.info(name);
        checkpoint.set(name, tensorFromBytes(info, stored.data(name)));
        done += info.byteSize();
        reportOrCancel(progress, {double(done) / double(total), "loading tensors", {}});
    }
    checkpoint.metadata = stored.metadata();
    return checkpoint;
}

void Checkpoint::save(const std::string& folder, std::uint64_t maxShardBytes,
                      const std::string& copyAuxFrom) const {
    fs::create_directories(folder);
    std::vector<torch::Tensor> keepAlive;
    std::vector<TensorView> views;
    for (const std::string& name : order) {
        torch::Tensor t = at(name).to(torch::kCPU).contiguous();
        keepAlive.push_back(t);
        views.push_back(viewOf(name, t));
    }
    std::map<std::string, std::string> meta = metadata;
    if (!meta.count("format")) meta["format"] = "pt";
    writeSafetensorsCheckpoint(folder, views, maxShardBytes, meta);

    const fs::path configPath = fs::path(folder) / "config.json";
    const fs::path tmp = configPath.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << config.toJson();
        if (!out.flush()) throw Error(tmp.string() + ": cannot write");
    }
    fs::rename(tmp, configPath);

    if (!copyAuxFrom.empty() && fs::weakly_canonical(copyAuxFrom) != fs::weakly_canonical(folder)) {
        for (const std::string& file : auxiliaryModelFiles()) {
            const fs::path from = fs::path(copyAuxFrom) / file;
            if (fs::exists(from))
                fs::copy_file(from, fs::path(folder) / file, fs::copy_options::overwrite_existing);
        }
    }
}

Checkpoint convertedTo(const Checkpoint& checkpoint, DType dtype) {
    Checkpoint out = checkpoint;
    for (auto& [name, tensor] : out.tensors)
        if (tensor.is_floating_point()) tensor = tensor.to(toTorch(dtype)).contiguous();
    out.config.dtype = dtype;
    return out;
}

}  // namespace gqa
