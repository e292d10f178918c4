// SPDX-License-Identifier: GPL-3.0-or-later
// The HDF5 run file: bit-exact round trips, refusal of files that are not (current) run files,
// no reuse of statistics across models or settings, and stage writes that cannot hurt earlier ones.
#include <filesystem>
#include <fstream>
#include <functional>

#include "calibration.h"
#include "error.h"
#include "runfile.h"
#include "testsupport.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

std::string inputErrorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "(no InputError)";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

struct Calibrated {
    std::string modelFolder;
    CalibrationSettings settings;
    std::vector<LayerStatistics> layers;
};

Calibrated calibratedModel(std::uint64_t seed) {
    Calibrated c;
    c.modelFolder = writeRandomModel(tinyConfig(2), seed);
    LlamaModel model(Checkpoint::load(c.modelFolder), torch::kFloat64);
    torch::manual_seed(seed);
    const torch::Tensor ids = torch::randint(61, {3, 7}, torch::kLong);
    std::vector<std::vector<std::int64_t>> seqs(3);
    for (int s = 0; s < 3; ++s)
        for (int t = 0; t < 7; ++t) seqs[s].push_back(ids[s][t].item<std::int64_t>());
    NullProgress quiet;
    c.layers = calibrateTokens(model, seqs, 2, quiet);
    const std::string text = c.modelFolder + "/calibration.txt";
    std::ofstream(text) << "some calibration text";
    c.settings.inputFiles = absoluteInputPaths({text});
    c.settings.inputChecksum = filesChecksum({text});
    c.settings.numSequences = 3;
    c.settings.sequenceLength = 7;
    c.settings.batchSize = 2;
    c.settings.tokens = 21;
    return c;
}

void expectSameGram(const GramStatistics& a, const GramStatistics& b) {
    EXPECT_EQ(a.heads, b.heads);
    EXPECT_EQ(a.headDim, b.headDim);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_TRUE(torch::equal(a.raw, b.raw));
    EXPECT_TRUE(torch::equal(a.normalized, b.normalized));
}

TEST(RunFile, RoundTripsModelIdentityAndCalibrationBitExactly) {
    const Calibrated c = calibratedModel(21);
    const std::string path = scratchFolder("runfile") + "/run.h5";
    RunFile run = RunFile::create(path);
    EXPECT_FALSE(run.hasModelIdentity());
    EXPECT_FALSE(run.hasCalibration());
    const ModelIdentity identity = modelIdentity(c.modelFolder);
    run.writeModelIdentity(identity);
    run.writeCalibration(c.settings, c.layers);

    const RunFile again = RunFile::open(path);
    const ModelIdentity id = again.readModelIdentity();
    EXPECT_EQ(id.configJson, identity.configJson);
    EXPECT_EQ(id.modelFolder, identity.modelFolder);
    EXPECT_EQ(id.checksum, identity.checksum);
    EXPECT_EQ(id.checksum.rfind("fnv1a64:", 0), 0u);
    ASSERT_TRUE(again.hasCalibration());
    const StoredCalibration stored = again.readCalibration();
    EXPECT_EQ(stored.settings.inputFiles, c.settings.inputFiles);
    EXPECT_EQ(stored.settings.inputChecksum, c.settings.inputChecksum);
    EXPECT_EQ(stored.settings.numSequences, 3);
    EXPECT_EQ(stored.settings.sequenceLength, 7);
    EXPECT_EQ(stored.settings.batchSize, 2);
    EXPECT_EQ(stored.settings.tokens, 21);
    ASSERT_EQ(stored.layers.size(), c.layers.size());
    for (std::size_t l = 0; l < c.layers.size(); ++l) {
        expectSameGram(stored.layers[l].keys, c.layers[l].keys);
        expectSameGram(stored.layers[l].values, c.layers[l].values);
    }
}

TEST(RunFile, ReplacingAStageKeepsTheOthersAndDoesNotGrowTheFile) {
    const Calibrated c = calibratedModel(22);
    const std::string path = scratchFolder("runfile-replace") + "/run.h5";
    RunFile run = RunFile::create(path);
    run.writeModelIdentity(modelIdentity(c.modelFolder));
    run.writeCalibration(c.settings, c.layers);
    const auto size = fs::file_size(path);
    run.writeCalibration(c.settings, c.layers);
    EXPECT_EQ(fs::file_size(path), size);
    EXPECT_TRUE(RunFile::open(path).hasModelIdentity());
    EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(RunFile, AFailedStageWriteLeavesTheRecordedStagesIntact) {
    const Calibrated c = calibratedModel(23);
    const std::string path = scratchFolder("runfile-fail") + "/run.h5";
    RunFile run = RunFile::create(path);
    run.writeCalibration(c.settings, c.layers);
    std::vector<LayerStatistics> broken = c.layers;
    broken[1].values.raw = torch::Tensor();  // fails half-way through the write
    EXPECT_ANY_THROW(run.writeCalibration(c.settings, broken));
    const StoredCalibration stored = RunFile::open(path).readCalibration();
    ASSERT_EQ(stored.layers.size(), 2u);
    expectSameGram(stored.layers[1].values, c.layers[1].values);
}

TEST(RunFile, RefusesMissingNonHdf5ForeignAndNewerFiles) {
    const std::string dir = scratchFolder("runfile-bad");
    EXPECT_TRUE(
        contains(inputErrorOf([&] { RunFile::open(dir + "/missing.h5"); }), "no such run file"));
    std::ofstream(dir + "/text.h5") << "not hdf5 at all";
    EXPECT_TRUE(contains(inputErrorOf([&] { RunFile::open(dir + "/text.h5"); }), "not an HDF5"));
    createPlainHdf5File(dir + "/foreign.h5");
    EXPECT_TRUE(contains(inputErrorOf([&] { RunFile::open(dir + "/foreign.h5"); }),
                         "not a GQA Studio run file"));
    RunFile::create(dir + "/newer.h5");
    setRunFileFormatVersion(dir + "/newer.h5", RunFile::kFormatVersion + 1);
    EXPECT_TRUE(contains(inputErrorOf([&] { RunFile::open(dir + "/newer.h5"); }), "newer"));
}

TEST(RunFile, StatisticsAreReusedOnlyForTheSameModelAndSettings) {
    const Calibrated c = calibratedModel(24);
    const std::string other = writeRandomModel(tinyConfig(2), 25);
    const std::string path = scratchFolder("runfile-match") + "/run.h5";
    RunFile run = RunFile::create(path);
    EXPECT_FALSE(run.calibrationMatches(c.modelFolder, c.settings));
    run.writeModelIdentity(modelIdentity(c.modelFolder));
    run.writeCalibration(c.settings, c.layers);
    EXPECT_TRUE(run.calibrationMatches(c.modelFolder, c.settings));
    EXPECT_FALSE(run.calibrationMatches(other, c.settings));
    CalibrationSettings changed = c.settings;
    changed.numSequences = 4;
    EXPECT_FALSE(run.calibrationMatches(c.modelFolder, changed));
    changed = c.settings;
    changed.inputChecksum = "fnv1a64:0000000000000000";
    EXPECT_FALSE(run.calibrationMatches(c.modelFolder, changed));
}

}  // namespace
}  // namespace gqa::test
