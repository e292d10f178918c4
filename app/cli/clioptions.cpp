// SPDX-License-Identifier: GPL-3.0-or-later
#include "clioptions.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <iostream>
#include <sstream>

#include "io/checkpoint.h"
#include "base/error.h"
#include "base/runtime.h"

namespace gqa::cli {

OptionSpec deviceOption() { return {"device", "DEV", "cpu, cuda, cuda:N or auto", "auto"}; }
OptionSpec dtypeOption() {
    return {"dtype", "TYPE", "compute dtype: float32, bfloat16, float64", "float32"};
}
OptionSpec jsonOption() { return {"json", "", "print the result as JSON on stdout", ""}; }
OptionSpec quietOption() { return {"quiet", "", "no progress output", ""}; }

bool parseOrHelp(Arguments& a, const std::vector<std::string>& args) {
    a.parse(args);
    if (a.helpRequested()) std::cout << a.helpText();
    return a.helpRequested();
}

DecoderModel loadModel(const std::string& folder, const Arguments& a, ProgressSink& progress) {
    const torch::Device device = parseDevice(a.text("device"));
    const torch::ScalarType dtype = parseComputeDtype(a.text("dtype"));
    return DecoderModel(Checkpoint::load(folder, progress), dtype, device);
}

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream list(text);
    for (std::string item; std::getline(list, item, ',');)
        if (!item.empty()) items.push_back(item);
    return items;
}

std::vector<std::int64_t> splitIntegers(const std::string& text, const std::string& option) {
    std::vector<std::int64_t> values;
    for (const std::string& item : splitList(text)) {
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size())
            throw InputError("--" + option + " expects comma-separated integers, got '" + item +
                             "'");
        values.push_back(v);
    }
    return values;
}

std::vector<std::string> expandInputs(const std::string& list, const std::string& exclude) {
    std::vector<std::string> files;
    const std::filesystem::path excluded =
        exclude.empty() ? std::filesystem::path() : std::filesystem::weakly_canonical(exclude);
    for (const std::string& item : splitList(list)) {
        if (!std::filesystem::is_directory(item)) {
            files.push_back(item);
            continue;
        }
        std::vector<std::string> found;
        for (const auto& entry : std::filesystem::directory_iterator(item))
            if (entry.path().extension() == ".txt" &&
                std::filesystem::weakly_canonical(entry.path()) != excluded)
                found.push_back(entry.path().string());
        std::sort(found.begin(), found.end());
        if (found.empty()) throw InputError(item + ": no .txt files in this folder");
        files.insert(files.end(), found.begin(), found.end());
    }
    if (files.empty()) throw InputError("--train names no files");
    return files;
}

std::string numberText(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", value);
    return buffer;
}

}  // namespace gqa::cli
