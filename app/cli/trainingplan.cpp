// SPDX-License-Identifier: GPL-3.0-or-later
#include "trainingplan.h"

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

namespace gqa::cli {
namespace {
using Json = nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = 1024.0 * kMiB;

std::string bytesText(double bytes) {
    char text[32];
    if (bytes >= kGiB)
        std::snprintf(text, sizeof text, "%.2f GiB", bytes / kGiB);
    else
        std::snprintf(text, sizeof text, "%.1f MiB", bytes / kMiB);
    return text;
}

/// 1234567 -> "1,234,567".
std::string countText(std::int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string durationText(double seconds) {
    char text[32];
    if (seconds < 120.0)
        std::snprintf(text, sizeof text, "%.1f s", seconds);
    else if (seconds < 7200.0)
        std::snprintf(text, sizeof text, "%.1f min", seconds / 60.0);
    else
        std::snprintf(text, sizeof text, "%.1f h", seconds / 3600.0);
    return text;
}

Json itemsJson(const std::vector<MemoryItem>& items) {
    Json list = Json::array();
    for (const MemoryItem& item : items)
        list.push_back({{"name", item.name},
                        {"bytes", item.bytes},
                        {"detail", item.detail},
                        {"category", memoryCategoryName(item.category)}});
    return list;
}

Json planJson(const ModelConfig& m, const TrainingShape& s, const TrainingPlan& p) {
    Json phases = Json::array();
    for (const MemoryItem& phase : p.phases)
        phases.push_back({{"name", phase.name}, {"bytes", phase.bytes}});
    const bool timed = p.secondsPerUpdate > 0.0;
    return {{"model",
             {{"layers", m.numLayers},
              {"heads", m.numHeads},
              {"head_dim", m.headDim},
              {"hidden_size", m.hiddenSize},
              {"intermediate_size", m.intermediateSize},
              {"vocab_size", m.vocabSize},
              {"tied_embeddings", m.tieWordEmbeddings},
              {"parameters", m.parameterCount()}}},
            {"shape",
             {{"kv_heads", s.groups},
              {"scope", trainScopeName(s.scope)},
              {"dtype", torchDtypeName(s.compute)},
              {"batch_size", s.batchSize},
              {"seq_len", s.seqLen},
              {"grad_accumulation", s.gradAccumulation},
              {"steps", s.steps},
              {"checkpoint_activations", s.checkpointActivations},
              {"chunk_positions", s.chunkPositions},
              {"separate_teacher", s.separateTeacher},
              {"world_size", s.worldSize},
              {"shard_optimizer", s.shardOptimizer},
              {"device", s.cpu ? "cpu" : "gpu"}}},
            {"trainable_parameters", p.trainableParameters},
            {"frozen_parameters", p.frozenParameters},
            {"memory", itemsJson(p.memory)},
            {"total_bytes", p.totalBytes()},
            {"peak_phase", p.peakPhase},
            {"phases", phases},
            {"host_memory", itemsJson(p.hostMemory)},
            {"host_bytes", p.hostBytes()},
            {"tokens_per_update", p.tokensPerUpdate},
            {"flops_per_update", p.flopsPerUpdate},
            {"seconds_per_update", timed ? Json(p.secondsPerUpdate) : Json()},
            {"total_seconds", timed ? Json(p.totalSeconds) : Json()}};
}

void printItems(const std::vector<MemoryItem>& items, std::FILE* out) {
    for (const MemoryItem& item : items)
        std::fprintf(out, "  %-24s %12s  %s\n", item.name.c_str(), bytesText(item.bytes).c_str(),
                     item.detail.c_str());
}
}  // namespace

void printTrainingPlan(const ModelConfig& m, const TrainingShape& s, const TrainingPlan& p,
                       bool json, std::FILE* out) {
    if (json) {
        std::fprintf(out, "%s\n", planJson(m, s, p).dump(2).c_str());
        return;
    }
    std::fprintf(out,
                 "Conversion training plan: %lld layers x %lld heads of %lld, hidden %lld, MLP "
                 "%lld, vocabulary %lld -> %lld KV heads\n",
                 (long long)m.numLayers, (long long)m.numHeads, (long long)m.headDim,
                 (long long)m.hiddenSize, (long long)m.intermediateSize, (long long)m.vocabSize,
                 (long long)s.groups);
    std::fprintf(out,
                 "  scope %s, %s, micro-batch %lld x %lld tokens, accumulation %lld, %d rank%s%s, "
                 "activation checkpointing %s, %s\n",
                 trainScopeName(s.scope).c_str(), torchDtypeName(s.compute).c_str(),
                 (long long)s.batchSize, (long long)s.seqLen, (long long)s.gradAccumulation,
                 s.worldSize, s.worldSize == 1 ? "" : "s",
                 s.shardOptimizer ? " (AdamW state sharded)" : "",
                 s.checkpointActivations ? "on" : "off", s.cpu ? "CPU" : "GPU");
    std::fprintf(out, "Parameters: %s trainable, %s frozen\n",
                 countText(p.trainableParameters).c_str(), countText(p.frozenParameters).c_str());
    std::fprintf(out, "Memory per rank at the peak (during the %s):\n", p.peakPhase.c_str());
    printItems(p.memory, out);
    std::fprintf(out, "  %-24s %12s\n", "total", bytesText(p.totalBytes()).c_str());
    std::fprintf(out, "Peak of each phase:");
    for (const MemoryItem& phase : p.phases)
        std::fprintf(out, " %s %s;", phase.name.c_str(), bytesText(phase.bytes).c_str());
    std::fprintf(out, "\n");
    if (!p.hostMemory.empty()) {
        std::fprintf(out, "Host memory:\n");
        printItems(p.hostMemory, out);
    }
    std::fprintf(out, "Per update: %s tokens, %.3g FLOPs per rank",
                 countText(std::llround(p.tokensPerUpdate)).c_str(), p.flopsPerUpdate);
    if (p.secondsPerUpdate > 0.0)
        std::fprintf(out, ", %s; %lld updates: %s\n", durationText(p.secondsPerUpdate).c_str(),
                     (long long)s.steps, durationText(p.totalSeconds).c_str());
    else
        std::fprintf(out, " (no rate given: no time estimate)\n");
}

}  // namespace gqa::cli
