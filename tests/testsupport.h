// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared test helpers: tiny random Llama models written as real checkpoints, a seeding fixture,
// tensor-closeness assertions, scratch folders.

#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "io/checkpoint.h"
#include "distributed/communicator.h"
#include "base/progress.h"
#include "io/modelconfig.h"

namespace gqa::test {

/// A tiny Llama config: 2 layers, 4 heads of dim 8 (hidden 32), MLP 48, vocab 61.
ModelConfig tinyConfig(std::int64_t kvHeads = 4, bool tied = false);

/// A checkpoint with random weights (normal, std 0.2; norms around 1) in `dtype`.
Checkpoint randomCheckpoint(const ModelConfig& config, std::uint64_t seed,
                            DType dtype = DType::F32);

/// A fresh empty folder under the system temp dir, removed when the test binary exits.
std::string scratchFolder(const std::string& hint);

/// Writes a random tiny model to a scratch folder and returns its path.
std::string writeRandomModel(const ModelConfig& config, std::uint64_t seed,
                             DType dtype = DType::F32, std::uint64_t maxShardBytes = 0);

/// Writes `text` to folder/train.txt and trains a 300-piece BPE folder/tokenizer.model on it.
void trainTinyTokenizer(const std::string& folder, const std::string& text);

/// A folder holding a tiny BPE tokenizer.model trained once per test binary on generated
/// English-like text (the same words in every test that needs one).
const std::string& sharedTinyTokenizerFolder();

/// n uniform token ids below `vocab` from a seeded generator (training data for tiny runs).
std::vector<std::int64_t> randomIds(std::int64_t n, std::int64_t vocab, std::uint64_t seed);

/// A progress sink that asks to stop once the "step" metric reaches `stopAfter`.
class StopAt final : public ProgressSink {
public:
    explicit StopAt(std::int64_t stopAfter) : m_stopAfter(stopAfter) {}
    bool report(const ProgressUpdate& u) override {
        for (const auto& [name, value] : u.metrics)
            if (name == "step" && value >= double(m_stopAfter)) return false;
        return true;
    }

private:
    std::int64_t m_stopAfter;
};

/// Rendezvous settings for rank `rank` of `worldSize` on this machine (master 127.0.0.1:port).
RendezvousSettings localRendezvous(int port, int rank, int worldSize, double timeoutSeconds);

/// Max |a - b| relative to max(1, max |b|), computed in float64.
double relativeMaxDiff(const torch::Tensor& a, const torch::Tensor& b);

/// Seeds torch before every test for reproducibility.
class SeededTest : public ::testing::Test {
protected:
    void SetUp() override { torch::manual_seed(1234); }
};

}  // namespace gqa::test
