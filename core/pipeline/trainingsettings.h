// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The conversion training's settings, declared once: each entry names a field of
// ConversionTrainingConfig, its help text and how it is read and written. From this one table
// come the `gqa-cli train` options (--kl-weight), the keys of the "training" object of a
// `gqa-cli convert` run config and of the resolved convert-config.json (kl_weight: the option
// name with '_' for '-'), and their defaults in help texts (read from a default
// ConversionTrainingConfig, so a default changes in one place). Unknown JSON keys are refused
// by name, so a typo never silently falls back to a default.
//
// Paths (training text, teacher, validation), the device, and switches that only make sense on
// one front end (data-parallel rendezvous, dry runs) are not in the table: the front ends handle
// them (paths are resolved against different folders by the CLI and the run config).

#include <functional>
#include <type_traits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "training/conversiontraining.h"

namespace gqa {

struct TrainingSetting {
    enum class Kind { Integer, Real, Text };
    std::string name;       ///< the option name, e.g. "kl-weight"
    std::string valueName;  ///< "N", "X", "NAME" in help texts
    std::string help;
    Kind kind = Kind::Real;
    std::function<nlohmann::json(const ConversionTrainingConfig&)> get;
    /// InputError naming the setting when the value is of the wrong type or out of range.
    std::function<void(ConversionTrainingConfig&, const nlohmann::json&)> set;

    /// "kl_weight" for "kl-weight".
    std::string jsonKey() const;
    /// The value as a command line would give it (numbers as %g writes them).
    std::string text(const ConversionTrainingConfig& config) const;
    /// Sets from a command-line text: integers and reals are parsed strictly.
    void setText(ConversionTrainingConfig& config, const std::string& text) const;
};

/// Every setting of the table, in the order help texts list them.
const std::vector<TrainingSetting>& trainingSettings();

/// The table's fields of `config` as a JSON object keyed by jsonKey().
nlohmann::json trainingSettingsJson(const ConversionTrainingConfig& config);

/// Sets the table's fields present in `object`. Keys that are neither in the table nor in
/// `otherKeys` are an InputError naming `where` and the key.
void applyTrainingSettingsJson(const nlohmann::json& object, ConversionTrainingConfig& config,
                               const std::string& where,
                               const std::vector<std::string>& otherKeys = {});

}  // namespace gqa
