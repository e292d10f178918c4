// SPDX-License-Identifier: GPL-3.0-or-later
#include "pipeline/trainingsettings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/error.h"
#include "io/jsonintegers.h"
#include "base/runtime.h"

namespace gqa {
namespace {
using Json = nlohmann::json;
using C = ConversionTrainingConfig;
using Kind = TrainingSetting::Kind;

std::string numberText(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", value);
    return buffer;
}

std::int64_t integerOf(const std::string& name, const Json& value) {
    if (const auto x = int64FromJson(value)) return *x;
    if (value.is_number_integer()) throw InputError(name + " is too large (" + value.dump() + ")");
    throw InputError(name + " must be an integer");
}
double realOf(const std::string& name, const Json& value) {
    if (value.is_number()) return value.get<double>();
    throw InputError(name + " must be a number");
}
std::string textOf(const std::string& name, const Json& value) {
    if (value.is_string()) return value.get<std::string>();
    throw InputError(name + " must be a string");
}

template <class Field>
TrainingSetting integer(std::string name, std::string help, Field field, std::int64_t minimum = 0) {
    const std::string n = name;
    return {std::move(name),
            "N",
            std::move(help),
            Kind::Integer,
            [field](const C& c) { return Json(field(c)); },
            [field, n, minimum](C& c, const Json& v) {
                const std::int64_t x = integerOf(n, v);
                if (x < minimum)
                    throw InputError(n + " must be >= " + std::to_string(minimum) + " (got " +
                                     std::to_string(x) + ")");
                field(c) = std::remove_reference_t<decltype(field(c))>(x);
            }};
}

template <class Field>
TrainingSetting real(std::string name, std::string help, Field field) {
    const std::string n = name;
    return {std::move(name),
            "X",
            std::move(help),
            Kind::Real,
            [field](const C& c) { return Json(field(c)); },
            [field, n](C& c, const Json& v) {
                const double x = realOf(n, v);
                if (!std::isfinite(x) || x < 0.0)
                    throw InputError(n + " must be a finite number >= 0");
                field(c) = x;
            }};
}

TrainingSetting text(std::string name, std::string valueName, std::string help,
                     std::function<std::string(const C&)> get,
                     std::function<void(C&, const std::string&)> set) {
    const std::string n = name;
    return {std::move(name),
            std::move(valueName),
            std::move(help),
            Kind::Text,
            [get](const C& c) { return Json(get(c)); },
            [set, n](C& c, const Json& v) { set(c, textOf(n, v)); }};
}

std::vector<TrainingSetting> makeTable() {
    std::vector<TrainingSetting> t;
    t.push_back(integer(
        "steps", "optimiser updates", [](auto& c) -> auto& { return c.steps; }, 1));
    t.push_back(integer(
        "batch", "sequences per batch (per rank)", [](auto& c) -> auto& { return c.batchSize; },
        1));
    t.push_back(integer(
        "seq-len", "tokens per sequence (jsonl: max example length)",
        [](auto& c) -> auto& { return c.seqLen; }, 2));
    t.push_back(integer(
        "grad-accum", "batches per update", [](auto& c) -> auto& { return c.gradAccumulation; },
        1));
    t.push_back(real(
        "lr", "peak learning rate of the model", [](auto& c) -> auto& { return c.learningRate; }));
    t.push_back(real(
        "merged-lr-scale", "learning-rate multiple of the merged heads",
        [](auto& c) -> auto& { return c.mergedLrScale; }));
    t.push_back(real(
        "gate-lr", "gate learning rate (0 = the scheme's default)",
        [](auto& c) -> auto& { return c.gateLearningRate; }));
    t.push_back(real(
        "multiplier-lr", "Lagrange multiplier learning rate (hard-concrete)",
        [](auto& c) -> auto& { return c.multiplierLearningRate; }));
    {
        // "auto" or a count: the automatic warm-up depends on the run's length.
        TrainingSetting warmup{"warmup",
                               "N",
                               "linear warm-up updates (auto: min(32, steps / 10), at least 1)",
                               Kind::Text,
                               [](const C& c) {
                                   return c.warmupSteps == C::kAutoWarmup ? Json("auto")
                                                                          : Json(c.warmupSteps);
                               },
                               [](C& c, const Json& v) {
                                   if (v.is_string() && v.get<std::string>() == "auto") {
                                       c.warmupSteps = C::kAutoWarmup;
                                       return;
                                   }
                                   const std::int64_t x = integerOf("warmup", v);
                                   if (x < 0) throw InputError("warmup must be \"auto\" or >= 0");
                                   c.warmupSteps = x;
                               }};
        t.push_back(std::move(warmup));
    }
    t.push_back(real(
        "weight-decay", "AdamW weight decay on matrices",
        [](auto& c) -> auto& { return c.weightDecay; }));
    t.push_back(real(
        "grad-clip", "max gradient L2 norm (0 = off)",
        [](auto& c) -> auto& { return c.gradClip; }));
    t.push_back(text(
        "gate-scheme", "NAME", "reference (the paper's code) or hard-concrete (Louizos et al.)",
        [](const C& c) { return gateSchemeName(c.gates.scheme); },
        [](C& c, const std::string& s) { c.gates.scheme = parseGateScheme(s); }));
    t.push_back(real(
        "sparsity-warmup", "fraction of the updates over which the target reaches 1",
        [](auto& c) -> auto& { return c.gates.warmupRatio; }));
    t.push_back(real(
        "prune-ratio", "fraction of the updates after which all gates are 0",
        [](auto& c) -> auto& { return c.gates.pruneRatio; }));
    t.push_back(real(
        "kl-weight", "weight of the full-vocabulary KL",
        [](auto& c) -> auto& { return c.loss.klWeight; }));
    t.push_back(real(
        "bild-weight", "weight of the BiLD loss",
        [](auto& c) -> auto& { return c.loss.bildWeight; }));
    t.push_back(real(
        "lm-weight", "weight of the cross-entropy",
        [](auto& c) -> auto& { return c.loss.lmWeight; }));
    t.push_back(integer(
        "bild-topk", "top-k logits of BiLD", [](auto& c) -> auto& { return c.loss.bildTopK; }, 1));
    t.push_back(real(
        "bild-temperature", "temperature of BiLD",
        [](auto& c) -> auto& { return c.loss.bildTemperature; }));
    t.push_back(text(
        "scope", "NAME",
        "weights trained besides the merged heads and gates: merged, kv (k_proj/v_proj), "
        "attention (+ q_proj/o_proj) or all; the rest is frozen",
        [](const C& c) { return trainScopeName(c.scope); },
        [](C& c, const std::string& s) {
            const std::optional<TrainScope> scope = parseTrainScope(s);
            if (!scope) throw InputError("scope must be merged, kv, attention or all");
            c.scope = *scope;
        }));
    t.push_back(text(
        "dtype", "TYPE", "compute dtype: float32, bfloat16 or float64",
        [](const C& c) {
            return torchDtypeName(c.compute == torch::kBFloat16  ? DType::BF16
                                  : c.compute == torch::kFloat64 ? DType::F64
                                                                 : DType::F32);
        },
        [](C& c, const std::string& s) { c.compute = parseComputeDtype(s); }));
    t.push_back(text(
        "export-dtype", "TYPE", "dtype of the exported model (empty: the original model's)",
        [](const C& c) { return c.exportDtype ? torchDtypeName(*c.exportDtype) : std::string(); },
        [](C& c, const std::string& s) {
            if (s.empty()) {
                c.exportDtype.reset();
                return;
            }
            c.exportDtype = dtypeFromTorchName(s);
            if (!c.exportDtype)
                throw InputError("export-dtype must be float32, bfloat16, float16 or float64");
        }));
    t.push_back(integer(
        "eval-every", "updates between validation losses (0: at the end)",
        [](auto& c) -> auto& { return c.evalEvery; }));
    t.push_back(integer(
        "eval-batches", "validation batches", [](auto& c) -> auto& { return c.evalBatches; }));
    t.push_back(integer(
        "checkpoint-every", "updates between checkpoints (0: at the end)",
        [](auto& c) -> auto& { return c.checkpointEvery; }));
    t.push_back(integer(
        "seed", "seed of gates and data sampling", [](auto& c) -> auto& { return c.seed; }));
    return t;
}
}  // namespace

std::string TrainingSetting::jsonKey() const {
    std::string key = name;
    std::replace(key.begin(), key.end(), '-', '_');
    return key;
}

std::string TrainingSetting::text(const ConversionTrainingConfig& config) const {
    const Json value = get(config);
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
    return numberText(value.get<double>());
}

void TrainingSetting::setText(ConversionTrainingConfig& config, const std::string& text) const {
    const std::string option = "--" + name;
    if (kind == Kind::Text) {
        // An integer-or-name setting (warmup) takes numbers as numbers.
        char* end = nullptr;
        const long long asInteger = std::strtoll(text.c_str(), &end, 10);
        if (!text.empty() && end && *end == '\0') {
            set(config, Json(std::int64_t(asInteger)));
            return;
        }
        set(config, Json(text));
        return;
    }
    char* end = nullptr;
    if (kind == Kind::Integer) {
        const long long x = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || !end || *end != '\0')
            throw InputError(option + " expects an integer, got \"" + text + "\"");
        set(config, Json(std::int64_t(x)));
        return;
    }
    const double x = std::strtod(text.c_str(), &end);
    if (text.empty() || !end || *end != '\0')
        throw InputError(option + " expects a number, got \"" + text + "\"");
    set(config, Json(x));
}

const std::vector<TrainingSetting>& trainingSettings() {
    static const std::vector<TrainingSetting> table = makeTable();
    return table;
}

nlohmann::json trainingSettingsJson(const ConversionTrainingConfig& config) {
    Json j = Json::object();
    for (const TrainingSetting& s : trainingSettings()) j[s.jsonKey()] = s.get(config);
    return j;
}

void applyTrainingSettingsJson(const nlohmann::json& object, ConversionTrainingConfig& config,
                               const std::string& where,
                               const std::vector<std::string>& otherKeys) {
    if (!object.is_object()) throw InputError(where + " must be a JSON object");
    const auto& table = trainingSettings();
    for (const auto& [key, value] : object.items()) {
        // A named copy: lambdas capturing structured bindings are C++20 (clang 14 refuses them).
        const std::string& name = key;
        const auto setting =
            std::find_if(table.begin(), table.end(),
                         [&name](const TrainingSetting& s) { return s.jsonKey() == name; });
        if (setting != table.end()) {
            try {
                setting->set(config, value);
            } catch (const InputError& e) {
                throw InputError(where + "." + key + ": " + e.what());
            }
        } else if (std::find(otherKeys.begin(), otherKeys.end(), key) == otherKeys.end()) {
            throw InputError(where + ": unknown key \"" + key + "\"");
        }
    }
}

}  // namespace gqa
