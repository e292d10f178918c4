// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/trainingcheckpoint.h"

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "io/jsonintegers.h"
#include "text/tokenizer.h"

namespace gqa {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {
constexpr const char* kOptimizerFile = "optimizer.pt";
constexpr const char* kGeneratorFile = "generator.pt";
constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kTensorsFile = "state_tensors.pt";

bool isComplete(const fs::path& folder) {
    for (const char* f : {"config.json", kOptimizerFile, kGeneratorFile, kStateFile})
        if (!fs::exists(folder / f)) return false;
    return true;
}
}  // namespace

void replaceFolder(const std::string& staged, const std::string& target) {
    const std::string old = target + ".old";
    fs::remove_all(old);
    if (fs::exists(target)) fs::rename(target, old);
    fs::rename(staged, target);
    fs::remove_all(old);
}

void saveTrainingCheckpoint(const std::string& folder, const Checkpoint& model,
                            const torch::optim::Optimizer& optimizer, const TrainerState& state) {
    const fs::path staged = folder + ".tmp";
    fs::remove_all(staged);
    fs::create_directories(staged);
    model.save(staged.string());
    torch::save(optimizer, (staged / kOptimizerFile).string());
    torch::save(state.generatorState, (staged / kGeneratorFile).string());

    Json tensorNames = Json::array();
    if (!state.tensors.empty()) {
        std::vector<torch::Tensor> tensors;
        for (const auto& [name, tensor] : state.tensors) {
            tensorNames.push_back(name);
            tensors.push_back(tensor.detach().cpu().contiguous());
        }
        torch::save(tensors, (staged / kTensorsFile).string());
    }
    Json validation = Json::array();
    for (const auto& [step, loss] : state.validationHistory) validation.push_back({step, loss});
    const Json j{{"step", state.step},
                 {"seed", state.seed},
                 {"loss_history", state.lossHistory},
                 {"validation_history", validation},
                 {"extra", state.extra},
                 {"tensor_names", tensorNames}};
    {
        std::ofstream out(staged / kStateFile, std::ios::binary | std::ios::trunc);
        out << j.dump(1) << "\n";
        if (!out.flush()) throw Error((staged / kStateFile).string() + ": cannot write");
    }
    replaceFolder(staged.string(), folder);
}

std::string findTrainingCheckpoint(const std::string& folder) {
    if (isComplete(folder)) return folder;
    if (!fs::exists(folder) && isComplete(folder + ".old")) return folder + ".old";
    return "";
}

std::pair<Checkpoint, TrainerState> loadTrainingCheckpoint(const std::string& folder) {
    if (!isComplete(folder)) throw InputError(folder + ": not a complete training checkpoint");
    Checkpoint model = Checkpoint::load(folder);
    TrainerState state;
    const std::string statePath = (fs::path(folder) / kStateFile).string();
    try {
        const Json j = Json::parse(readTextFile(statePath));
        const auto step = int64FromJson(j.at("step"));
        if (!step || *step < 0) throw InputError(statePath + ": \"step\" is not a step number");
        state.step = *step;
        if (!j.at("seed").is_number_unsigned())
            throw InputError(statePath + ": \"seed\" is not a non-negative integer");
        state.seed = j.at("seed").get<std::uint64_t>();
        state.lossHistory = j.at("loss_history").get<std::vector<double>>();
        for (const auto& point : j.at("validation_history")) {
            const auto pointStep = int64FromJson(point.at(0));
            if (!pointStep) throw InputError(statePath + ": validation step is not an integer");
            state.validationHistory.emplace_back(*pointStep, point.at(1).get<double>());
        }
        if (j.contains("extra")) state.extra = j.at("extra");
        if (j.contains("tensor_names") && !j.at("tensor_names").empty()) {
            const auto names = j.at("tensor_names").get<std::vector<std::string>>();
            std::vector<torch::Tensor> tensors;
            torch::load(tensors, (fs::path(folder) / kTensorsFile).string());
            if (tensors.size() != names.size())
                throw InputError(folder + ": " + kTensorsFile + " does not match " + kStateFile);
            for (std::size_t i = 0; i < names.size(); ++i) state.tensors[names[i]] = tensors[i];
        }
    } catch (const Json::exception& e) {
        throw InputError(statePath + ": malformed trainer state: " + e.what());
    }
    torch::load(state.generatorState, (fs::path(folder) / kGeneratorFile).string());
    return {std::move(model), std::move(state)};
}

void loadOptimizerState(const std::string& folder, torch::optim::Optimizer& optimizer) {
    torch::load(optimizer, (fs::path(folder) / kOptimizerFile).string());
}

std::string settingsDifferences(const nlohmann::json& saved, const nlohmann::json& now) {
    std::string out;
    auto text = [](const nlohmann::json& object, const std::string& key) {
        return object.contains(key) ? object.at(key).dump() : std::string("(none)");
    };
    auto add = [&](const std::string& key) {
        if (!out.empty()) out += ", ";
        out += key + " " + text(saved, key) + " -> " + text(now, key);
    };
    if (saved.is_object())
        for (const auto& [key, value] : saved.items())
            if (!now.is_object() || !now.contains(key) || now.at(key) != value) add(key);
    if (now.is_object())
        for (const auto& [key, value] : now.items())
            if (!saved.is_object() || !saved.contains(key)) add(key);
    return out;
}

}  // namespace gqa
