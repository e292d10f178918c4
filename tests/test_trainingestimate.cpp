// SPDX-License-Identifier: GPL-3.0-or-later
// The training plan (trainingestimate.h): its parameter counts are the trainer's, a LLaMA-2-7B
// conversion to GQA-8 fits one 80 GB GPU at a stated micro-batch, and the memory estimate
// matches the measured peak of tensor memory (memorytracker.h) of real conversion runs on the
// demo model within kEstimateTolerance.
#include <cstdio>
#include <filesystem>
#include <map>

#include "training/conversionsession.h"
#include "training/conversiontraining.h"
#include "base/error.h"
#include "base/memorytracker.h"
#include "io/tensorconvert.h"
#include "testsupport.h"
#include "training/trainingestimate.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

const fs::path kDemo = fs::path(GQA_SOURCE_DIR) / "resources" / "models" / "demo";
const c10::Device kCpu(c10::DeviceType::CPU);
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

/// LLaMA-2-7B's config.json (meta-llama/Llama-2-7b-hf).
ModelConfig llama2_7b() {
    return ModelConfig::fromJson(
        R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
            "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 32,
            "num_key_value_heads": 32, "rms_norm_eps": 1e-05, "vocab_size": 32000,
            "max_position_embeddings": 4096, "tie_word_embeddings": false,
            "torch_dtype": "float16"})",
        "llama-2-7b config.json");
}

TEST(TrainingEstimate, TrainableCountsFollowTheScope) {
    const ModelConfig c = tinyConfig(4);  // 2 layers, 4 heads x 8, hidden 32, untied
    const std::int64_t L = c.numLayers, H = c.numHeads, d = c.headDim, D = c.hiddenSize;
    const std::int64_t G = 2, merged = 2 * L * G * d * D, gates = L * H;
    const std::int64_t kv = 2 * L * H * d * D, qo = 2 * L * H * d * D;
    const std::map<TrainScope, std::int64_t> trainedWeights{{TrainScope::Merged, 0},
                                                            {TrainScope::KeyValue, kv},
                                                            {TrainScope::Attention, kv + qo},
                                                            {TrainScope::All, c.parameterCount()}};
    const std::string folder = writeRandomModel(c, 3);
    const Checkpoint checkpoint = Checkpoint::load(folder);
    for (const auto& [scope, weights] : trainedWeights) {
        TrainingShape shape;
        shape.groups = G;
        shape.scope = scope;
        const TrainingPlan plan = planTraining(c, shape, 0.0);
        EXPECT_EQ(plan.trainableParameters, weights + merged + gates) << trainScopeName(scope);
        EXPECT_EQ(plan.frozenParameters, c.parameterCount() - weights) << trainScopeName(scope);

        // The trainer counts the same.
        ConversionTrainingConfig config;
        config.studentFolder = folder;
        config.groups = G;
        config.scope = scope;
        ConversionTrainingResult result;
        ConversionSession session(config, result);
        session.build(checkpoint, checkpoint);
        EXPECT_EQ(session.trainableCount(), plan.trainableParameters) << trainScopeName(scope);
        EXPECT_EQ(session.frozenCount(), plan.frozenParameters) << trainScopeName(scope);
    }
}

double itemBytes(const TrainingPlan& plan, const std::string& name) {
    for (const MemoryItem& item : plan.memory)
        if (item.name == name) return item.bytes;
    ADD_FAILURE() << "no item " << name;
    return 0.0;
}

TEST(TrainingEstimate, CountsStateByDtypeAndRankAndTimeByRate) {
    const ModelConfig c = llama2_7b();
    TrainingShape shape;
    shape.groups = 8;
    shape.compute = DType::BF16;
    const TrainingPlan plan = planTraining(c, shape, 0.0);
    const double trainable = double(plan.trainableParameters);
    EXPECT_DOUBLE_EQ(itemBytes(plan, "frozen weights"), 2.0 * double(plan.frozenParameters));
    EXPECT_DOUBLE_EQ(itemBytes(plan, "trainable masters"), 4.0 * trainable);
    EXPECT_DOUBLE_EQ(itemBytes(plan, "gradients"), 4.0 * trainable);
    EXPECT_DOUBLE_EQ(itemBytes(plan, "AdamW state"), 8.0 * trainable);
    EXPECT_DOUBLE_EQ(itemBytes(plan, "teacher"), 2.0 * (2.0 * 32 * 4096 * 4096));  // k, v
    EXPECT_DOUBLE_EQ(plan.hostBytes(), 2.0 * double(c.parameterCount()));  // float16 on disk
    EXPECT_EQ(plan.secondsPerUpdate, 0.0);

    TrainingShape sharded = shape;
    sharded.worldSize = 4;
    sharded.shardOptimizer = true;
    const TrainingPlan zero1 = planTraining(c, sharded, 1e12);
    EXPECT_DOUBLE_EQ(itemBytes(zero1, "AdamW state"), 2.0 * trainable);
    EXPECT_DOUBLE_EQ(zero1.tokensPerUpdate, 4.0 * 8 * 256);
    EXPECT_DOUBLE_EQ(zero1.secondsPerUpdate, zero1.flopsPerUpdate / 1e12);
    EXPECT_DOUBLE_EQ(zero1.totalSeconds, 200 * zero1.secondsPerUpdate);

    // A forward is 2 FLOPs per token and weight plus the attention; checkpointing adds one.
    TrainingShape plain = shape;
    plain.checkpointActivations = false;
    const double tokens = 8.0 * 256;
    const double layerWeights = 4.0 * 4096 * 4096 + 3.0 * 4096 * 11008;
    const double attention = 4.0 * 8 * 32 * 256 * 256 * 128;
    EXPECT_NEAR(plan.flopsPerUpdate - planTraining(c, plain, 0.0).flopsPerUpdate,
                32 * (2 * tokens * layerWeights + attention), 1e-9 * plan.flopsPerUpdate);

    shape.groups = 5;
    EXPECT_THROW(planTraining(c, shape, 0.0), InputError);
}

// Summaries group the plan's items by their typed category, not by matching their names.
TEST(TrainingEstimate, EveryHeldItemHasItsCategory) {
    TrainingShape shape;
    shape.groups = 8;
    shape.compute = DType::BF16;
    const TrainingPlan plan = planTraining(llama2_7b(), shape, 0.0);
    auto categoryOf = [&](const std::string& name) {
        for (const MemoryItem& item : plan.memory)
            if (item.name == name) return item.category;
        ADD_FAILURE() << "no item " << name;
        return MemoryCategory::Activations;
    };
    EXPECT_EQ(categoryOf("frozen weights"), MemoryCategory::Weights);
    EXPECT_EQ(categoryOf("trainable masters"), MemoryCategory::Weights);
    EXPECT_EQ(categoryOf("gradients"), MemoryCategory::Optimizer);
    EXPECT_EQ(categoryOf("AdamW state"), MemoryCategory::Optimizer);
    EXPECT_EQ(categoryOf("teacher"), MemoryCategory::Teacher);
    EXPECT_EQ(categoryOf("working set"), MemoryCategory::Activations);
    EXPECT_STREQ(memoryCategoryName(MemoryCategory::Optimizer), "optimizer");
}

TEST(TrainingEstimate, Llama2_7bToGqa8FitsOne80GbGpu) {
    // The issue's target: one 80 GB GPU, GQA-8, sequence length 2048, bfloat16, checkpointing,
    // the default kv scope. Micro-batch 8 is the largest power of two that fits.
    constexpr double kGpuBytes = 80e9;
    constexpr std::int64_t kMicroBatch = 8;
    TrainingShape shape;
    shape.groups = 8;
    shape.compute = DType::BF16;
    shape.seqLen = 2048;
    shape.batchSize = kMicroBatch;
    const TrainingPlan plan = planTraining(llama2_7b(), shape, 0.0);
    std::printf(
        "LLaMA-2-7B -> GQA-8, micro-batch %lld x 2048, bfloat16: %.1f GiB (peak at %s), "
        "%.2f B trainable, %.3g FLOPs/update\n",
        (long long)kMicroBatch, plan.totalBytes() / kGiB, plan.peakPhase.c_str(),
        double(plan.trainableParameters) / 1e9, plan.flopsPerUpdate);
    EXPECT_LT(plan.totalBytes(), kGpuBytes);
    shape.batchSize = 2 * kMicroBatch;
    EXPECT_GT(planTraining(llama2_7b(), shape, 0.0).totalBytes(), kGpuBytes);
}

/// Records the largest peak of tensor memory over the updates from `firstStep` on (each
/// update's window runs from the previous report to its own), and over the whole run.
class PeakPerUpdate final : public ProgressSink {
public:
    explicit PeakPerUpdate(double firstStep) : m_firstStep(firstStep) {}
    bool report(const ProgressUpdate& update) override {
        const std::int64_t window = TensorMemory::peakBytes(kCpu);
        m_wholeRun = std::max(m_wholeRun, window);
        for (const auto& [name, value] : update.metrics)
            if (name == "step" && value >= m_firstStep) m_updates = std::max(m_updates, window);
        TensorMemory::resetPeak(kCpu);
        return true;
    }
    std::int64_t updatesPeak() const { return m_updates; }
    /// Call after the run: its tail (the final checkpoint) included.
    std::int64_t wholeRunPeak() const {
        return std::max(m_wholeRun, TensorMemory::peakBytes(kCpu));
    }

private:
    double m_firstStep;
    std::int64_t m_updates = 0, m_wholeRun = 0;
};

struct DemoRun {
    DType compute;
    std::int64_t batch, seqLen;
    bool checkpoint;
    TrainScope scope;
    std::int64_t chunk = 1024;
};

TEST(TrainingEstimate, DemoEstimateMatchesTheMeasuredPeak) {
    ASSERT_TRUE(TensorMemory::install());
    const ModelConfig demo = ModelConfig::fromFile((kDemo / "config.json").string());
    constexpr std::int64_t kTokens = 20000;
    std::vector<std::int64_t> ids(kTokens);
    for (std::int64_t i = 0; i < kTokens; ++i) ids[i] = (i * 7919) % demo.vocabSize;
    // The second row on: the peak of the layers, not of the logits (small chunks, long rows).
    const std::vector<DemoRun> runs{
        {DType::F32, 4, 128, true, TrainScope::KeyValue},
        {DType::BF16, 8, 256, true, TrainScope::KeyValue},
        {DType::BF16, 4, 256, false, TrainScope::KeyValue},
        {DType::F32, 4, 128, false, TrainScope::All},
        {DType::BF16, 2, 512, true, TrainScope::KeyValue, 64},
    };
    for (const DemoRun& run : runs) {
        ConversionTrainingConfig config;
        config.studentFolder = kDemo.string();
        config.groups = 2;
        config.trainTokens = ids;
        config.outputDir = scratchFolder("estimate");
        // Update 1 creates AdamW's state; updates 2 and 3 are measured, gates still training
        // (after P the spread merged heads are no longer kept). The whole run's peak, loading
        // and checkpoint writes included, is checked too.
        config.steps = 3;
        config.gates.pruneRatio = 1.0;
        config.batchSize = run.batch;
        config.seqLen = run.seqLen;
        config.compute = toTorch(run.compute);
        config.checkpointActivations = run.checkpoint;
        config.scope = run.scope;
        config.loss.chunkPositions = run.chunk;
        config.checkpointEvery = 0;
        config.evalEvery = 0;
        config.exportModel = false;
        PeakPerUpdate progress(2);
        TensorMemory::resetPeak(kCpu);
        trainConversion(config, progress);
        const double wholeRun = double(progress.wholeRunPeak());

        TrainingShape shape;
        shape.groups = config.groups;
        shape.scope = run.scope;
        shape.compute = run.compute;
        shape.batchSize = run.batch;
        shape.seqLen = run.seqLen;
        shape.checkpointActivations = run.checkpoint;
        shape.chunkPositions = run.chunk;
        shape.cpu = true;
        shape.datasetTokens = kTokens;
        const TrainingPlan plan = planTraining(demo, shape, 0.0);
        const double measured = double(progress.updatesPeak());
        std::printf(
            "demo %s B=%lld T=%lld checkpointing %s scope %s: measured %.1f MiB, "
            "estimated %.1f MiB (%s), ratio %.3f; whole run incl. loading and "
            "checkpoint %.1f MiB\n",
            dtypeName(run.compute).c_str(), (long long)run.batch, (long long)run.seqLen,
            run.checkpoint ? "on" : "off", trainScopeName(run.scope).c_str(), measured / kMiB,
            plan.totalBytes() / kMiB, plan.peakPhase.c_str(), plan.totalBytes() / measured,
            wholeRun / kMiB);
        EXPECT_NEAR(plan.totalBytes() / measured, 1.0, kEstimateTolerance);
        EXPECT_NEAR(plan.totalBytes() / wholeRun, 1.0, kEstimateTolerance);
    }
}

}  // namespace
}  // namespace gqa::test
