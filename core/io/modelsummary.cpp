// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/modelsummary.h"

#include <filesystem>
#include <sstream>

#include "base/error.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {
std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::ostringstream s;
    s << '[';
    for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << ']';
    return s.str();
}
}  // namespace

ModelSummary summarizeModelFolder(const std::string& folder) {
    if (!fs::is_directory(folder))
        throw InputError(folder + ": not a folder (expected a model folder with config.json)");
    ModelSummary summary;
    summary.folder = folder;
    summary.config = ModelConfig::fromFile((fs::path(folder) / "config.json").string());
    SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(folder);
    summary.sharded = checkpoint.sharded();
    for (const std::string& name : checkpoint.names()) {
        StoredTensor t{checkpoint.info(name),
                       fs::path(checkpoint.fileOf(name)).filename().string()};
        summary.storedParameterCount += t.info.numel();
        summary.storedBytes += t.info.byteSize();
        summary.tensors.push_back(std::move(t));
    }
    for (const auto& [name, shape] : expectedTensors(summary.config)) {
        if (!checkpoint.contains(name)) {
            summary.problems.push_back("missing tensor '" + name + "'");
        } else if (checkpoint.info(name).shape != shape) {
            summary.problems.push_back("tensor '" + name + "' has shape " +
                                       shapeText(checkpoint.info(name).shape) +
                                       ", config implies " + shapeText(shape));
        }
    }
    summary.hasTokenizer = fs::exists(fs::path(folder) / "tokenizer.model");
    return summary;
}

}  // namespace gqa
