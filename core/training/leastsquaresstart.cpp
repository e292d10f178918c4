// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/leastsquaresstart.h"

#include <filesystem>
#include <map>
#include <vector>

#include "base/error.h"
#include "io/safetensors.h"
#include "io/tensorconvert.h"
#include "training/gatedkvmodel.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {
constexpr const char* kFormatKey = "format";
constexpr const char* kFormat = "gqa-studio least-squares start";
constexpr const char* kGroupsKey = "groups";

std::string startPath(const std::string& folder) {
    return (fs::path(folder) / kLeastSquaresStartFile).string();
}

/// Training-checkpoint name -> the GQA model's tensor of the same role, for every layer.
std::vector<std::pair<std::string, std::string>> startNames(const ModelConfig& c) {
    std::vector<std::pair<std::string, std::string>> names;
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        names.push_back({mergedKeyName(l), tensorName(c, l, LayerTensor::KWeight)});
        names.push_back({mergedValueName(l), tensorName(c, l, LayerTensor::VWeight)});
        names.push_back({mergedQueryName(l), tensorName(c, l, LayerTensor::QWeight)});
        names.push_back({mergedOutputName(l), tensorName(c, l, LayerTensor::OWeight)});
        if (c.qkvBias) {
            names.push_back({mergedKeyBiasName(l), tensorName(c, l, LayerTensor::KBias)});
            names.push_back({mergedValueBiasName(l), tensorName(c, l, LayerTensor::VBias)});
            names.push_back({mergedQueryBiasName(l), tensorName(c, l, LayerTensor::QBias)});
        }
    }
    return names;
}
}  // namespace

void writeLeastSquaresStart(const std::string& folder, const Checkpoint& mergedGqa) {
    std::vector<torch::Tensor> held;  // keeps the float32 copies alive while they are written
    std::vector<TensorView> views;
    for (const auto& [startName, gqaName] : startNames(mergedGqa.config)) {
        held.push_back(mergedGqa.at(gqaName).to(torch::kFloat32).contiguous());
        views.push_back(viewOf(startName, held.back()));
    }
    writeSafetensors(
        startPath(folder), views,
        {{kFormatKey, kFormat}, {kGroupsKey, std::to_string(mergedGqa.config.numKvHeads)}});
}

bool hasLeastSquaresStart(const std::string& folder) { return fs::exists(startPath(folder)); }

bool hasLeastSquaresStartFor(const std::string& folder, std::int64_t groups) {
    if (!hasLeastSquaresStart(folder)) return false;
    try {
        // The file must outlive the reference to its metadata (AddressSanitizer found a
        // reference into a destroyed temporary here).
        const SafetensorsFile file = SafetensorsFile::open(startPath(folder));
        const auto& meta = file.metadata();
        const auto fitted = meta.find(kGroupsKey);
        return fitted != meta.end() && fitted->second == std::to_string(groups);
    } catch (const InputError&) {
        return false;  // unreadable: not a start this run can use (an explicit request says why)
    }
}

void addLeastSquaresStart(const std::string& folder, std::int64_t groups, Checkpoint& student) {
    const std::string path = startPath(folder);
    if (!fs::exists(path))
        throw InputError(folder + " has no least-squares start (" + kLeastSquaresStartFile +
                         "); `gqa-cli align --keep-mha` writes it with the aligned model, or "
                         "start from the mean merge");
    const SafetensorsFile file = SafetensorsFile::open(path);
    const auto& meta = file.metadata();
    const auto format = meta.find(kFormatKey), fitted = meta.find(kGroupsKey);
    if (format == meta.end() || format->second != kFormat || fitted == meta.end())
        throw InputError(path + ": not a least-squares start written by GQA Studio");
    if (fitted->second != std::to_string(groups))
        throw InputError(path + " was fitted for " + fitted->second + " KV heads, not " +
                         std::to_string(groups) + "; align again for " + std::to_string(groups) +
                         " KV heads or start from the mean merge");
    for (const auto& names : startNames(student.config)) {
        const TensorInfo* info = file.find(names.first);
        if (!info) throw InputError(path + " lacks " + names.first);
        student.set(names.first, tensorFromBytes(*info, file.data(*info)));
    }
}

}  // namespace gqa
