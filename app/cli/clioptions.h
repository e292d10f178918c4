// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Options and steps shared by several subcommands, so that every command spells them the same way.

#include <string>
#include <vector>

#include "arguments.h"
#include "model/decodermodel.h"
#include "base/progress.h"

namespace gqa::cli {

OptionSpec deviceOption();  ///< --device cpu|cuda|cuda:N|auto
OptionSpec dtypeOption();   ///< --dtype float32|bfloat16|float64 (compute dtype)
OptionSpec jsonOption();    ///< --json
OptionSpec quietOption();   ///< --quiet

/// Parses; prints the help text and returns true when --help was given.
bool parseOrHelp(Arguments& arguments, const std::vector<std::string>& args);

/// Loads a model folder with the --device and --dtype options.
DecoderModel loadModel(const std::string& folder, const Arguments& arguments,
                       ProgressSink& progress);

/// A number as printf's %g writes it (option defaults in help texts).
std::string numberText(double value);

/// Splits "a,b,c" (empty items dropped).
std::vector<std::string> splitList(const std::string& text);
std::vector<std::int64_t> splitIntegers(const std::string& text, const std::string& option);

/// Comma-separated files and folders; a folder contributes its *.txt files in name order, except
/// `exclude` (a validation file). InputError for an empty result or a folder without text.
std::vector<std::string> expandInputs(const std::string& list, const std::string& exclude);

}  // namespace gqa::cli
