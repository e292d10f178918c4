// SPDX-License-Identifier: GPL-3.0-or-later
#include "testsupport.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "model/decodermodel.h"
#include "io/modelsummary.h"
#include "io/tensorconvert.h"
#include "text/tokenizertrainer.h"

namespace gqa::test {
namespace fs = std::filesystem;

ModelConfig tinyConfig(std::int64_t kvHeads, bool tied) {
    ModelConfig c;
    c.vocabSize = 61;
    c.hiddenSize = 32;
    c.intermediateSize = 48;
    c.numLayers = 2;
    c.numHeads = 4;
    c.numKvHeads = kvHeads;
    c.headDim = 8;
    c.normEps = 1e-6;
    c.ropeTheta = 10000.0;
    c.maxPositionEmbeddings = 128;
    c.tieWordEmbeddings = tied;
    c.bosTokenId = 1;
    c.eosTokenId = 2;
    c.validate();
    return c;
}

Checkpoint randomCheckpoint(const ModelConfig& config, std::uint64_t seed, DType dtype) {
    torch::manual_seed(seed);
    Checkpoint checkpoint;
    checkpoint.config = config;
    checkpoint.config.dtype = dtype;
    for (const auto& [name, shape] : expectedTensors(config)) {
        torch::Tensor t = name.find("norm") != std::string::npos
                              ? 1.0 + 0.1 * torch::randn(shape, torch::kFloat64)
                              : 0.2 * torch::randn(shape, torch::kFloat64);
        checkpoint.set(name, t.to(toTorch(dtype)).contiguous());
    }
    return checkpoint;
}

namespace {
struct ScratchCleaner {
    fs::path root;
    ~ScratchCleaner() {
        std::error_code ignored;
        if (!root.empty()) fs::remove_all(root, ignored);
    }
};
ScratchCleaner& cleaner() {
    static ScratchCleaner c{fs::temp_directory_path() /
                            ("gqa-tests-" + std::to_string(::getpid()))};
    return c;
}
}  // namespace

RendezvousSettings localRendezvous(int port, int rank, int worldSize, double timeoutSeconds) {
    RendezvousSettings s;
    s.masterPort = port;
    s.rank = rank;
    s.worldSize = worldSize;
    s.timeoutSeconds = timeoutSeconds;
    return s;
}

std::string scratchFolder(const std::string& hint) {
    static std::atomic<int> counter{0};
    fs::path p = cleaner().root / (hint + "-" + std::to_string(counter++));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

std::string writeRandomModel(const ModelConfig& config, std::uint64_t seed, DType dtype,
                             std::uint64_t maxShardBytes) {
    const std::string folder = scratchFolder("model");
    randomCheckpoint(config, seed, dtype).save(folder, maxShardBytes);
    return folder;
}

void trainTinyTokenizer(const std::string& folder, const std::string& text) {
    const std::string input = folder + "/train.txt";
    std::ofstream(input) << text;
    TokenizerTrainConfig config;
    config.inputFiles = {input};
    config.outputModel = folder + "/tokenizer.model";
    config.vocabSize = 300;
    NullProgress quiet;
    trainSentencePieceBpe(config, quiet);
}

double relativeMaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
    torch::Tensor x = a.to(torch::kCPU, torch::kFloat64), y = b.to(torch::kCPU, torch::kFloat64);
    const double scale = std::max(1.0, y.abs().max().item<double>());
    return (x - y).abs().max().item<double>() / scale;
}

const std::string& sharedTinyTokenizerFolder() {
    static const std::string folder = [] {
        const std::string dir = scratchFolder("tokenizer");
        std::ostringstream out;
        const char* words[] = {"the",     "cat",    "sat",  "on",   "a",     "mat",
                               "and",     "dog",    "ran",  "to",   "house", "garden",
                               "quickly", "slowly", "over", "under"};
        for (int i = 0; i < 3000; ++i)
            out << words[(i * 7) % 16] << ' ' << words[(i * 3 + 1) % 16]
                << (i % 9 == 0 ? ".\n" : " ");
        trainTinyTokenizer(dir, out.str());
        return dir;
    }();
    return folder;
}

std::vector<std::int64_t> randomIds(std::int64_t n, std::int64_t vocab, std::uint64_t seed) {
    torch::Generator g = at::detail::createCPUGenerator(seed);
    const torch::Tensor t = torch::randint(vocab, {n}, g, torch::kLong);
    return {t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + n};
}

}  // namespace gqa::test
