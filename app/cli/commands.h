// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The CLI's subcommands. Each takes the arguments after its name and returns the process exit
// code; errors propagate as exceptions that main() maps to the documented exit codes.

#include <functional>
#include <string>
#include <vector>

#include "training/conversiontraining.h"

namespace gqa::cli {

/// Exit codes (documented in `gqa-cli --help` and docs/cli.md).
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitBadInput = 2, kExitCancelled = 3 };

struct Command {
    std::string name;
    std::string summary;
    std::function<int(const std::vector<std::string>&)> run;
};

const std::vector<Command>& commands();

int runInspect(const std::vector<std::string>& args);
int runPerplexity(const std::vector<std::string>& args);
int runGenerate(const std::vector<std::string>& args);
int runEval(const std::vector<std::string>& args);
int runMakeTestModel(const std::vector<std::string>& args);
int runPrepareCorpus(const std::vector<std::string>& args);
int runTrainTokenizer(const std::vector<std::string>& args);
int runConvertDtype(const std::vector<std::string>& args);
int runPretrain(const std::vector<std::string>& args);
int runCalibrate(const std::vector<std::string>& args);
int runAnalyze(const std::vector<std::string>& args);
int runAlign(const std::vector<std::string>& args);
int runTrain(const std::vector<std::string>& args);
int runExport(const std::vector<std::string>& args);
int runReport(const std::vector<std::string>& args);  ///< only with GQA_HAVE_REPORT
int runConvert(const std::vector<std::string>& args);

class Arguments;
/// `train`'s declared options (its training hyper-parameters come from core's one table,
/// pipeline/trainingsettings.h), and the config they describe: exposed for unit tests of the
/// option mapping. trainConfigFromArguments leaves the device at CPU for --dry-run.
Arguments trainArguments();

}  // namespace gqa::cli

namespace gqa::cli {
ConversionTrainingConfig trainConfigFromArguments(const Arguments& arguments);
}  // namespace gqa::cli
