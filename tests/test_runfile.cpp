// SPDX-License-Identifier: GPL-3.0-or-later
// The HDF5 run file: bit-exact round trips, refusal of files that are not (current) run files,
// no reuse of statistics across models or settings, stage writes that cannot hurt earlier ones, and
// the training history (curves, gates, validation, settings) kept beside the calibration, and the
// append-only evaluation records.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "analysis/calibration.h"
#include "base/error.h"
#include "runfile/runfile.h"
#include "runfile/runfolder.h"
#include "testsupport.h"
#include "training/traininghistory.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

// The studio's "Overwrite" of an existing run removes the run's own files, never the user's.
TEST(RunFolder, RemoveRunDeletesTheRunsFilesAndNothingElse) {
    const RunFolder folder(scratchFolder("remove-run"));
    fs::create_directories(folder.checkpoint());
    fs::create_directories(folder.exportedModel());
    std::ofstream(folder.checkpoint() + "/trainer_state.json") << "{}";
    std::ofstream(folder.runFile()) << "x";
    std::ofstream(folder.trainTokens()) << "x";
    const std::string mine = folder.root() + "/notes.txt";
    std::ofstream(mine) << "my notes";
    ASSERT_TRUE(folder.holdsRun());
    folder.removeRun();
    EXPECT_FALSE(folder.holdsRun());
    EXPECT_FALSE(fs::exists(folder.runFile()));
    EXPECT_FALSE(fs::exists(folder.trainTokens()));
    EXPECT_TRUE(fs::exists(mine));
    folder.removeRun();  // nothing left to remove: no error
}

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
    DecoderModel model(Checkpoint::load(c.modelFolder), torch::kFloat64);
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

/// `updates` rows of three metrics and 2 x 3 gates with values that are not round in binary.
TrainingHistory smallHistory(int updates) {
    TrainingHistory h;
    h.layers = 2;
    h.heads = 3;
    for (int i = 0; i < updates; ++i) {
        std::vector<double> gates;
        for (int g = 0; g < 6; ++g) gates.push_back(1.0 / (3.0 + i + g));
        h.append({{"loss", 2.5 / (i + 1)}, {"sparsity", 0.1 * i}, {"lr", 1e-300 * (i + 7)}}, gates);
    }
    return h;
}

const std::vector<std::pair<std::int64_t, double>> kValidation = {{0, 3.25}, {4, 1.0 / 3.0}};
const std::string kSettings = R"({"lambda": 0.5, "gate": "hard-concrete", "note": "ÄÖÜ"})";

void expectSameHistory(const TrainingHistory& a, const TrainingHistory& b) {
    EXPECT_EQ(a.metricNames, b.metricNames);
    EXPECT_EQ(a.layers, b.layers);
    EXPECT_EQ(a.heads, b.heads);
    EXPECT_EQ(a.rows, b.rows);  // bit-exact: float64 all the way
    EXPECT_EQ(a.gates, b.gates);
}

TEST(RunFileTraining, RoundTripsHistoryValidationAndSettingsBitExactly) {
    const std::string path = scratchFolder("runfile-training") + "/run.h5";
    RunFile run = RunFile::create(path);
    EXPECT_FALSE(run.hasTrainingHistory());
    const TrainingHistory history = smallHistory(5);
    run.writeTrainingHistory(history, kValidation, kSettings);

    const RunFile again = RunFile::open(path);
    ASSERT_TRUE(again.hasTrainingHistory());
    const RunFile::StoredTraining stored = again.readTrainingHistory();
    expectSameHistory(stored.history, history);
    ASSERT_EQ(stored.history.size(), 5);
    EXPECT_EQ(stored.history.gates[4].size(), 6u);
    EXPECT_EQ(stored.history.column("sparsity"), history.column("sparsity"));
    EXPECT_EQ(stored.validation, kValidation);
    EXPECT_EQ(stored.settingsJson, kSettings);
    EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(RunFileTraining, EmptyHistoriesRoundTrip) {
    const std::string path = scratchFolder("runfile-training-empty") + "/run.h5";
    RunFile run = RunFile::create(path);
    TrainingHistory named = smallHistory(1);
    named.truncate(0);  // names and shape, no update yet
    run.writeTrainingHistory(named, {}, "{}");
    RunFile::StoredTraining stored = RunFile::open(path).readTrainingHistory();
    expectSameHistory(stored.history, named);
    EXPECT_EQ(stored.history.size(), 0);
    EXPECT_TRUE(stored.validation.empty());
    EXPECT_EQ(stored.settingsJson, "{}");

    run.writeTrainingHistory(TrainingHistory{}, {}, "");  // nothing at all
    stored = RunFile::open(path).readTrainingHistory();
    expectSameHistory(stored.history, TrainingHistory{});
    EXPECT_TRUE(stored.validation.empty());
    EXPECT_EQ(stored.settingsJson, "");
}

TEST(RunFileTraining, WritingAgainReplacesTheHistory) {
    const std::string path = scratchFolder("runfile-training-replace") + "/run.h5";
    RunFile run = RunFile::create(path);
    run.writeTrainingHistory(smallHistory(5), kValidation, kSettings);
    const TrainingHistory rolledBack = smallHistory(2);
    run.writeTrainingHistory(rolledBack, {{1, 0.75}}, "{}");
    const RunFile::StoredTraining stored = RunFile::open(path).readTrainingHistory();
    expectSameHistory(stored.history, rolledBack);
    EXPECT_EQ(stored.validation, (std::vector<std::pair<std::int64_t, double>>{{1, 0.75}}));
    EXPECT_EQ(stored.settingsJson, "{}");
}

TEST(RunFileTraining, TrainingAndCalibrationStagesKeepEachOther) {
    const Calibrated c = calibratedModel(26);
    const std::string path = scratchFolder("runfile-training-both") + "/run.h5";
    RunFile run = RunFile::create(path);
    run.writeModelIdentity(modelIdentity(c.modelFolder));
    run.writeCalibration(c.settings, c.layers);
    const TrainingHistory history = smallHistory(3);
    run.writeTrainingHistory(history, kValidation, kSettings);
    run.writeCalibration(c.settings, c.layers);  // rewriting calibration keeps the training

    const RunFile again = RunFile::open(path);
    EXPECT_TRUE(again.calibrationMatches(c.modelFolder, c.settings));
    const StoredCalibration calibration = again.readCalibration();
    ASSERT_EQ(calibration.layers.size(), c.layers.size());
    expectSameGram(calibration.layers[1].keys, c.layers[1].keys);
    const RunFile::StoredTraining stored = again.readTrainingHistory();
    expectSameHistory(stored.history, history);
    EXPECT_EQ(stored.validation, kValidation);
    EXPECT_EQ(stored.settingsJson, kSettings);
}

/// Two models the way `gqa-cli eval` fills them: everything measured for the first, only the
/// KV-cache fields for the second. Values are not round in binary.
EvaluationRecord evaluationRecord(const std::string& modelFolder, const std::string& time) {
    EvaluationRecord r;
    r.time = time;
    r.settingsJson = R"({"device": "cpu, float32", "perplexity": {"context_length": 16}})";
    r.warnings = {"decode context 600 exceeds max_position_embeddings"};
    EvaluatedModel full;
    full.name = "mha";
    full.identity = modelIdentity(modelFolder);
    full.kvHeads = 4;
    full.parameters = 12345;
    full.kvCacheBytesPerToken = 512;
    full.perplexity = PerplexityResult{41.0 / 3.0, std::log(41.0 / 3.0), 59, 7, 16, 8};
    MultipleChoiceResult task;
    task.task = "task/with.odd name";
    task.n = 3;
    task.acc = 2.0 / 3.0;
    task.accStderr = 1.0 / 3.0;
    task.accNorm = 1.0 / 3.0;
    task.accNormStderr = 0.1;
    task.truncatedItems = 1;
    full.tasks = {task, task};
    full.tasks[1].task = "second";
    DecodeSpeedResult decode;
    decode.kvHeads = 4;
    decode.elementBytes = 4;
    decode.kvCacheBytesPerToken = 512;
    decode.points = {{8, 1234.5, 1.0 / 1.2345, 0.8, 0.01, 4096, false},
                     {600, 99.25, 10.0 / 0.9925, 10.1, 0.3, 307200, true}};
    full.decode = decode;
    EvaluatedModel bare;
    bare.name = "gqa2";
    bare.identity = {"{}", "/nowhere/gqa2", "fnv1a64:0123456789abcdef"};
    bare.kvHeads = 2;
    bare.kvCacheBytesPerToken = 256;
    r.models = {full, bare};
    return r;
}

void expectSameModel(const EvaluatedModel& a, const EvaluatedModel& b) {
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.identity.configJson, b.identity.configJson);
    EXPECT_EQ(a.identity.modelFolder, b.identity.modelFolder);
    EXPECT_EQ(a.identity.checksum, b.identity.checksum);
    EXPECT_EQ(a.kvHeads, b.kvHeads);
    EXPECT_EQ(a.parameters, b.parameters);
    EXPECT_EQ(a.kvCacheBytesPerToken, b.kvCacheBytesPerToken);
    ASSERT_EQ(a.perplexity.has_value(), b.perplexity.has_value());
    if (a.perplexity) {
        EXPECT_EQ(a.perplexity->perplexity, b.perplexity->perplexity);  // bit-exact
        EXPECT_EQ(a.perplexity->meanNll, b.perplexity->meanNll);
        EXPECT_EQ(a.perplexity->tokensScored, b.perplexity->tokensScored);
        EXPECT_EQ(a.perplexity->windows, b.perplexity->windows);
        EXPECT_EQ(a.perplexity->contextLength, b.perplexity->contextLength);
        EXPECT_EQ(a.perplexity->stride, b.perplexity->stride);
    }
    ASSERT_EQ(a.tasks.size(), b.tasks.size());
    for (std::size_t t = 0; t < a.tasks.size(); ++t) {
        EXPECT_EQ(a.tasks[t].task, b.tasks[t].task);
        EXPECT_EQ(a.tasks[t].n, b.tasks[t].n);
        EXPECT_EQ(a.tasks[t].acc, b.tasks[t].acc);
        EXPECT_EQ(a.tasks[t].accStderr, b.tasks[t].accStderr);
        EXPECT_EQ(a.tasks[t].accNorm, b.tasks[t].accNorm);
        EXPECT_EQ(a.tasks[t].accNormStderr, b.tasks[t].accNormStderr);
        EXPECT_EQ(a.tasks[t].truncatedItems, b.tasks[t].truncatedItems);
    }
    ASSERT_EQ(a.decode.has_value(), b.decode.has_value());
    if (!a.decode) return;
    EXPECT_EQ(a.decode->kvHeads, b.decode->kvHeads);
    EXPECT_EQ(a.decode->elementBytes, b.decode->elementBytes);
    EXPECT_EQ(a.decode->kvCacheBytesPerToken, b.decode->kvCacheBytesPerToken);
    ASSERT_EQ(a.decode->points.size(), b.decode->points.size());
    for (std::size_t i = 0; i < a.decode->points.size(); ++i) {
        const DecodeSpeedPoint &p = a.decode->points[i], &q = b.decode->points[i];
        EXPECT_EQ(p.contextLength, q.contextLength);
        EXPECT_EQ(p.tokensPerSecond, q.tokensPerSecond);
        EXPECT_EQ(p.msPerToken, q.msPerToken);
        EXPECT_EQ(p.medianMsPerToken, q.medianMsPerToken);
        EXPECT_EQ(p.prefillSeconds, q.prefillSeconds);
        EXPECT_EQ(p.kvCacheBytes, q.kvCacheBytes);
        EXPECT_EQ(p.beyondMaxPositions, q.beyondMaxPositions);
    }
}

TEST(RunFileEvaluation, AppendsEntriesAndReadsBackWhatWasWritten) {
    const Calibrated c = calibratedModel(27);
    const std::string path = scratchFolder("runfile-evaluation") + "/run.h5";
    RunFile run = RunFile::create(path);
    EXPECT_EQ(run.evaluationCount(), 0);
    EXPECT_TRUE(run.readEvaluations().empty());
    run.writeModelIdentity(modelIdentity(c.modelFolder));
    run.writeTrainingHistory(smallHistory(3), kValidation, kSettings);

    const EvaluationRecord first = evaluationRecord(c.modelFolder, "2026-11-27T09:30:00Z");
    EvaluationRecord second = evaluationRecord(c.modelFolder, "");  // time set on append
    second.models.pop_back();
    second.warnings.clear();
    EXPECT_EQ(run.appendEvaluation(first), 0);
    EXPECT_EQ(run.appendEvaluation(second), 1);
    run.writeTrainingHistory(smallHistory(4), kValidation, kSettings);  // keeps the evaluations

    const RunFile again = RunFile::open(path);
    EXPECT_EQ(again.evaluationCount(), 2);
    const std::vector<EvaluationRecord> stored = again.readEvaluations();
    ASSERT_EQ(stored.size(), 2u);
    EXPECT_EQ(stored[0].time, first.time);
    EXPECT_EQ(stored[0].settingsJson, first.settingsJson);
    EXPECT_EQ(stored[0].warnings, first.warnings);
    ASSERT_EQ(stored[0].models.size(), 2u);
    expectSameModel(stored[0].models[0], first.models[0]);
    expectSameModel(stored[0].models[1], first.models[1]);
    EXPECT_EQ(stored[1].time.size(), std::string("2026-11-27T09:30:00Z").size());
    EXPECT_EQ(stored[1].time.back(), 'Z');
    EXPECT_TRUE(stored[1].warnings.empty());
    ASSERT_EQ(stored[1].models.size(), 1u);
    expectSameModel(stored[1].models[0], second.models[0]);
    EXPECT_EQ(again.readTrainingHistory().history.size(), 4);
    EXPECT_TRUE(again.hasModelIdentity());
    EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(RunFileTraining, MissingOrMalformedTrainingIsAnInputErrorAndBadHistoriesAreNotWritten) {
    const std::string path = scratchFolder("runfile-training-bad") + "/run.h5";
    RunFile run = RunFile::create(path);
    EXPECT_TRUE(
        contains(inputErrorOf([&] { run.readTrainingHistory(); }), "no training history recorded"));

    run.writeTrainingHistory(smallHistory(4), kValidation, kSettings);
    TrainingHistory ragged = smallHistory(4);
    ragged.rows[2].pop_back();
    EXPECT_THROW(run.writeTrainingHistory(ragged, {}, "{}"), Error);
    EXPECT_EQ(RunFile::open(path).readTrainingHistory().history.size(), 4);  // still the old one

    setTrainingMetricNames(path, {"loss", "sparsity"});  // metrics keeps 3 columns
    const std::string message = inputErrorOf([&] { RunFile::open(path).readTrainingHistory(); });
    EXPECT_TRUE(contains(message, path)) << message;
    EXPECT_TRUE(contains(message, "/training/metrics has 3 columns but metric_names lists 2"))
        << message;
}

}  // namespace
}  // namespace gqa::test
