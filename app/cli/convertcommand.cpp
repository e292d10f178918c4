// SPDX-License-Identifier: GPL-3.0-or-later
// `gqa-cli convert CONFIG.json`: the whole conversion from one run config (calibrate, group,
// align, train, export: core's pipeline/conversionpipeline.h), with every setting resolved and
// written next to the result so the run can be reproduced. Format: docs/convert.md.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "arguments.h"
#include "base/error.h"
#include "clioptions.h"
#include "commands.h"
#include "pipeline/conversionpipeline.h"
#include "terminalprogress.h"
#include "text/tokenizer.h"

namespace gqa::cli {
namespace fs = std::filesystem;
using Json = nlohmann::json;

int runConvert(const std::vector<std::string>& args) {
    Arguments a("convert",
                "Runs the whole conversion described by a JSON run config: calibrate, search the "
                "grouping, align, train the gates with distillation and export the GQA model "
                "(see docs/convert.md). Paths in the config are relative to its folder. The "
                "resolved settings are written to OUTPUT/convert-config.json; running the same "
                "config again resumes an interrupted run.",
                {"config.json"}, {jsonOption(), quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    const fs::path configPath = a.positional(0);
    Json j;
    try {
        j = Json::parse(readTextFile(configPath.string()));
    } catch (const Json::exception& e) {
        throw InputError(configPath.string() + ": not valid JSON: " + e.what());
    }
    const ConversionRunConfig config = conversionRunConfigFromJson(
        j, fs::absolute(configPath).parent_path().string(), configPath.filename().string());

    // Everything resolved, written before the work starts: the run's own record.
    const RunFolder folder(config.outputFolder);
    fs::create_directories(folder.root());
    {
        Json resolved = conversionRunConfigJson(config);
        resolved["gqa_studio_version"] = GQA_VERSION;
        std::ofstream out(folder.resolvedConfig());
        out << resolved.dump(2) << "\n";
        if (!out.flush()) throw Error(folder.resolvedConfig() + ": cannot write");
    }

    TerminalProgress progress(a.flag("quiet"));
    const ConversionRunResult result = runConversionPipeline(config, progress);
    progress.finish();
    for (const auto& warning : result.warnings)
        std::fprintf(stderr, "warning: %s\n", warning.c_str());
    const ConversionTrainingResult& r = result.trained;
    if (a.flag("json")) {
        std::cout << Json{{"export_folder", r.exportFolder},
                          {"export_verified", r.exportVerified},
                          {"steps", r.steps},
                          {"resumed", r.resumed},
                          {"start", trainingStartName(config.start)},
                          {"already_complete", r.alreadyComplete},
                          {"reused_calibration", result.prepared.reusedCalibration},
                          {"final_validation_loss", std::isfinite(r.finalValidationLoss)
                                                        ? Json(r.finalValidationLoss)
                                                        : Json()},
                          {"run_file", result.runFile}}
                         .dump(2)
                  << "\n";
        return kExitOk;
    }
    if (r.alreadyComplete)
        std::printf("the run in %s was already complete: nothing was trained\n",
                    result.outputFolder.c_str());
    std::printf("converted %s to %lld KV heads (%s start, %lld updates%s)\n",
                config.modelFolder.c_str(), (long long)config.groups,
                trainingStartName(config.start), (long long)r.steps, r.resumed ? ", resumed" : "");
    if (std::isfinite(r.finalValidationLoss))
        std::printf("held-out perplexity of the GQA model: %.2f\n",
                    std::exp(r.finalValidationLoss));
    std::printf("model written to %s (verified), run file %s\n", r.exportFolder.c_str(),
                result.runFile.c_str());
    return kExitOk;
}

}  // namespace gqa::cli
