// SPDX-License-Identifier: GPL-3.0-or-later
// Calibration benchmark: throughput of a forward pass that accumulates the head statistics versus
// a plain forward pass over the same tokens (issue target: 25% overhead or less), and the peak
// resident memory at two calibration sizes (it must not grow with the number of tokens).
//
// Usage: gqa_calibration_bench [MODEL_FOLDER] [SEQUENCES] [LENGTH]
//   without a folder (or with "-") a random model of the demo's shape is used (6 layers, 8 heads of
//   32, vocab 4096); default 32 sequences of 256 tokens, batch 8, float32 on the CPU.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <torch/torch.h>

#include "analysis/calibration.h"
#include "io/checkpoint.h"
#include "model/decodermodel.h"
#include "model/randominit.h"
#include "base/runtime.h"

namespace {
using Clock = std::chrono::steady_clock;
constexpr std::int64_t kBatch = 8;

long peakRssKb() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

gqa::Checkpoint demoShapedModel() {
    gqa::ModelConfig c;
    c.vocabSize = 4096;
    c.hiddenSize = 256;
    c.intermediateSize = 688;
    c.numLayers = 6;
    c.numHeads = c.numKvHeads = 8;
    c.headDim = 32;
    c.maxPositionEmbeddings = 1024;
    return gqa::initializeModel(c, 0);
}
}  // namespace

int main(int argc, char** argv) {
    gqa::configureTorchThreads();
    const bool given = argc > 1 && std::string(argv[1]) != "-";
    const gqa::Checkpoint ck = given ? gqa::Checkpoint::load(argv[1]) : demoShapedModel();
    const std::int64_t sequences = argc > 2 ? std::atoll(argv[2]) : 32;
    const std::int64_t length = argc > 3 ? std::atoll(argv[3]) : 256;
    gqa::DecoderModel model(ck);
    torch::manual_seed(0);
    std::vector<std::vector<std::int64_t>> tokens;
    for (std::int64_t s = 0; s < sequences; ++s) {
        torch::Tensor t = torch::randint(ck.config.vocabSize, {length}, torch::kLong);
        tokens.emplace_back(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + length);
    }
    gqa::NullProgress quiet;
    gqa::calibrateTokens(model, {tokens[0]}, 1, quiet);  // warm-up

    auto start = Clock::now();
    {
        torch::NoGradGuard noGrad;
        for (std::int64_t s = 0; s < sequences; s += kBatch) {
            std::vector<torch::Tensor> rows;
            for (std::int64_t r = s; r < std::min(sequences, s + kBatch); ++r)
                rows.push_back(torch::tensor(tokens[r]));
            model.hiddenStates(torch::stack(rows));
        }
    }
    const double plain = std::chrono::duration<double>(Clock::now() - start).count();
    start = Clock::now();
    gqa::calibrateTokens(model, tokens, kBatch, quiet);
    const double withStats = std::chrono::duration<double>(Clock::now() - start).count();
    const double n = double(sequences * length);
    std::printf("| %lld x %lld | %.0f | %.0f | %+.1f%% | %ld |\n", (long long)sequences,
                (long long)length, n / plain, n / withStats, 100.0 * (withStats / plain - 1.0),
                peakRssKb() / 1024);
    return 0;
}
