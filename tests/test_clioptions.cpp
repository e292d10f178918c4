// SPDX-License-Identifier: GPL-3.0-or-later
// The CLI as a library: its option mapping (each training setting declared once, in core's table)
// and the values its commands report, checked without starting a process.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "arguments.h"
#include "base/error.h"
#include "commands.h"
#include "pipeline/trainingsettings.h"
#include "testsupport.h"

namespace gqa::test {
namespace {
using gqa::cli::Arguments;

ConversionTrainingConfig parsedTrain(std::vector<std::string> extra) {
    const std::string folder = scratchFolder("cli-train");
    const std::string text = folder + "/train.txt";
    std::ofstream(text) << "some training text\n";
    std::vector<std::string> args{folder + "/out", "--model", folder, "--kv-heads", "2",
                                  "--train",       text};
    args.insert(args.end(), extra.begin(), extra.end());
    Arguments a = cli::trainArguments();
    a.parse(args);
    return cli::trainConfigFromArguments(a);
}

// Drift: `train` warmed up for 32 updates whatever the run's length; convert and the studio used
// min(32, steps / 10). All three now leave the warm-up on automatic.
TEST(CliTrainOptions, WarmupFollowsTheRunLengthLikeEveryOtherFrontEnd) {
    EXPECT_EQ(resolvedWarmupSteps(parsedTrain({"--steps", "100"})), 10);
    EXPECT_EQ(resolvedWarmupSteps(parsedTrain({"--steps", "100", "--warmup", "7"})), 7);
    EXPECT_EQ(resolvedWarmupSteps(parsedTrain({"--steps", "100", "--warmup", "auto"})), 10);
}

TEST(CliTrainOptions, EverySettingOfTheTableIsAnOptionWithItsDefault) {
    const Arguments a = cli::trainArguments();
    const std::string help = a.helpText();
    const ConversionTrainingConfig defaults;
    for (const TrainingSetting& s : trainingSettings()) {
        EXPECT_NE(help.find("--" + s.name), std::string::npos) << s.name;
        EXPECT_EQ(s.get(parsedTrain({})), s.get(defaults)) << s.name;
    }
    const ConversionTrainingConfig c =
        parsedTrain({"--kl-weight", "0.5", "--gate-scheme", "hard-concrete", "--seq-len", "64",
                     "--scope", "all", "--export-dtype", "bfloat16"});
    EXPECT_EQ(c.loss.klWeight, 0.5);
    EXPECT_EQ(c.gates.scheme, GateScheme::HardConcrete);
    EXPECT_EQ(c.seqLen, 64);
    EXPECT_EQ(c.scope, TrainScope::All);
    EXPECT_EQ(c.exportDtype, DType::BF16);
}

TEST(CliTrainOptions, BadValuesNameTheOption) {
    for (const std::vector<std::string>& bad : {std::vector<std::string>{"--steps", "many"},
                                                {"--steps", "0"},
                                                {"--lr", "-1"},
                                                {"--gate-scheme", "none"},
                                                {"--warmup", "-3"},
                                                {"--seq-len", "1"}}) {
        try {
            parsedTrain(bad);
            ADD_FAILURE() << bad[0] << " " << bad[1] << " was accepted";
        } catch (const InputError& e) {
            const std::string option = bad[0].substr(2);
            EXPECT_TRUE(std::string(e.what()).find(option) != std::string::npos ||
                        std::string(e.what()).find("scheme") != std::string::npos)
                << e.what();
        }
    }
}

// Drift: `eval` reported KV-cache bytes in the dtype it computed in (float32), the studio and the
// report in the stored dtype; a bfloat16 model holds 2 bytes per element.
TEST(CliEval, ReportsKvCacheBytesInTheStoredDtype) {
    const ModelConfig c = tinyConfig(2);
    const std::string model = writeRandomModel(c, 3, DType::BF16);
    testing::internal::CaptureStdout();
    const int code = cli::runEval({model, "--json", "--quiet"});
    const std::string out = testing::internal::GetCapturedStdout();
    ASSERT_EQ(code, 0) << out;
    const nlohmann::json j = nlohmann::json::parse(out);
    const std::uint64_t expected = std::uint64_t(c.numLayers * 2 * 2 * c.headDim * 2);
    EXPECT_EQ(j.at("models").at(0).at("kv_cache_bytes_per_token").get<std::uint64_t>(), expected)
        << out;
}

}  // namespace
}  // namespace gqa::test
