// SPDX-License-Identifier: GPL-3.0-or-later
// The conversion training across ranks over real c10d Gloo process groups (each rank a thread
// with its own group here; tests/e2e/distributed.sh runs separate processes): two ranks with
// batch b end with the same weights as one process with batch 2b, with the all-reduce during or
// after backward, with gradient accumulation, with ZeRO-1 optimiser sharding, and a sharded run
// resumes onto the uninterrupted run's weights.

#include <functional>
#include <thread>

#include "training/conversiontraining.h"
#include "base/error.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

constexpr double kRankTolerance = 1e-5;  // float32 sums in another order
constexpr double kRendezvousTimeout = 60.0;

ConversionTrainingConfig run(const std::string& model, std::int64_t batch) {
    ConversionTrainingConfig c;
    c.studentFolder = model;
    c.outputDir = scratchFolder("dp");
    c.groups = 2;
    c.scope = TrainScope::Attention;
    c.trainTokens = randomIds(3000, tinyConfig().vocabSize, 8);
    c.steps = 8;
    c.batchSize = batch;
    c.seqLen = 16;
    c.warmupSteps = 2;
    c.learningRate = 3e-3;
    c.checkpointEvery = 3;
    c.evalEvery = 0;
    c.loss.bildTopK = 4;
    c.exportModel = false;
    // At the start the student is the teacher: the distillation gradient is rounding noise,
    // which AdamW's first steps (g / (|g| + eps)) turn into lr-sized moves that differ with the
    // summation order. The cross-entropy gives every run a real gradient from the first update.
    c.loss.lmWeight = 1.0;
    return c;
}

/// Runs `config` on `world` ranks (threads); rank r's sink is sinks(r). Rethrows a rank's error,
/// else returns rank 0's result.
ConversionTrainingResult runRanks(
    const ConversionTrainingConfig& config, int world,
    const std::function<std::unique_ptr<ProgressSink>(int)>& sinks = {}) {
    const int port = freeLocalPort();
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world));
    ConversionTrainingResult first;
    std::vector<std::thread> threads;
    for (int rank = 0; rank < world; ++rank)
        threads.emplace_back([&, rank] {
            try {
                ConversionTrainingConfig c = config;
                c.communicator =
                    connectGloo(localRendezvous(port, rank, world, kRendezvousTimeout));
                std::unique_ptr<ProgressSink> sink =
                    sinks ? sinks(rank) : std::make_unique<NullProgress>();
                ConversionTrainingResult r = trainConversion(c, *sink);
                if (rank == 0) first = std::move(r);
            } catch (...) {
                errors[std::size_t(rank)] = std::current_exception();
            }
        });
    for (std::thread& t : threads) t.join();
    for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
    return first;
}

/// Largest relative difference over every tensor of two training checkpoints.
double checkpointDiff(const std::string& a, const std::string& b) {
    const Checkpoint x = Checkpoint::load(conversionCheckpointFolder(a));
    const Checkpoint y = Checkpoint::load(conversionCheckpointFolder(b));
    double worst = 0.0;
    for (const auto& [name, t] : x.tensors) worst = std::max(worst, relativeMaxDiff(t, y.at(name)));
    return worst;
}

class DistributedTraining : public SeededTest {
protected:
    std::string model = writeRandomModel(tinyConfig(4), 41);
};

TEST_F(DistributedTraining, TwoRanksEqualOneProcessWithTheCombinedBatch) {
    ConversionTrainingConfig single = run(model, 4);
    NullProgress progress;
    trainConversion(single, progress);
    ConversionTrainingConfig accumulated = run(model, 2);
    accumulated.gradAccumulation = 2;
    trainConversion(accumulated, progress);
    struct Variant {
        const char* name;
        bool shard, overlap;
        std::int64_t accumulation;
    };
    for (const Variant& v : {Variant{"all-reduce overlapped with backward", false, true, 1},
                             Variant{"all-reduce after backward", false, false, 1},
                             Variant{"overlapped, 2 micro-batches", false, true, 2},
                             Variant{"ZeRO-1, reduced after backward", true, false, 1},
                             Variant{"ZeRO-1, reduced during backward", true, true, 1}}) {
        ConversionTrainingConfig two = run(model, v.accumulation == 1 ? 2 : 1);
        two.shardOptimizer = v.shard;
        two.overlapReduce = v.overlap;
        two.gradAccumulation = v.accumulation;
        two.reduceBucketBytes = 4096;  // many buckets, most started during backward
        const ConversionTrainingResult result = runRanks(two, 2);
        if (v.overlap) {  // buckets did start while backward ran
            EXPECT_GT(result.reduceBuckets, 1) << v.name;
            EXPECT_GT(result.reduceBucketsStartedEarly, 0) << v.name;
        }
        const ConversionTrainingConfig& reference = v.accumulation == 1 ? single : accumulated;
        EXPECT_LT(checkpointDiff(two.outputDir, reference.outputDir), kRankTolerance) << v.name;
    }
    // The weights moved: the comparison is not between two untouched models.
    const std::string q = "model.layers.0.self_attn.q_proj.weight";
    EXPECT_GT(relativeMaxDiff(Checkpoint::load(conversionCheckpointFolder(single.outputDir)).at(q),
                              Checkpoint::load(model).at(q)),
              1e-3);
}

TEST_F(DistributedTraining, ShardedRunResumesOntoTheUninterruptedRun) {
    ConversionTrainingConfig whole = run(model, 2);
    whole.shardOptimizer = true;
    runRanks(whole, 2);

    ConversionTrainingConfig cut = run(model, 2);
    cut.shardOptimizer = true;
    EXPECT_THROW(runRanks(cut, 2, [](int) { return std::make_unique<StopAt>(5); }), Cancelled);
    runRanks(cut, 2);
    EXPECT_LT(checkpointDiff(cut.outputDir, whole.outputDir), kRankTolerance);

    // Another world size cannot resume it.
    ConversionTrainingConfig single = cut;
    NullProgress progress;
    EXPECT_THROW(trainConversion(single, progress), InputError);
}

}  // namespace
}  // namespace gqa::test
