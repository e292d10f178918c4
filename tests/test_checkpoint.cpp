// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint folders: exact round trips (single file and sharded, every dtype) and clear errors
// for folders that do not match their config.
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "io/safetensors.h"
#include "io/tensorconvert.h"
#include "testsupport.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

void expectIdentical(const Checkpoint& a, const Checkpoint& b) {
    ASSERT_EQ(a.order, b.order);
    for (const auto& name : a.order) {
        EXPECT_EQ(a.at(name).scalar_type(), b.at(name).scalar_type()) << name;
        EXPECT_TRUE(torch::equal(a.at(name), b.at(name))) << name;
    }
}

std::string readBytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Checkpoint, SaveLoadRoundTripIsBitExactForEveryFloatType) {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F64}) {
        const Checkpoint original = randomCheckpoint(tinyConfig(2), 3, t);
        const std::string folder = scratchFolder("roundtrip");
        original.save(folder);
        const Checkpoint loaded = Checkpoint::load(folder);
        expectIdentical(original, loaded);
        EXPECT_EQ(loaded.config.dtype, t);
        // save(load(x)) reproduces the tensor file byte for byte.
        const std::string again = scratchFolder("roundtrip-again");
        loaded.save(again);
        EXPECT_EQ(readBytes(fs::path(folder) / "model.safetensors"),
                  readBytes(fs::path(again) / "model.safetensors"));
    }
}

TEST(Checkpoint, ShardedRoundTripIsExactAndWritesAnIndex) {
    const Checkpoint original = randomCheckpoint(tinyConfig(4), 5);
    const std::string folder = scratchFolder("sharded");
    original.save(folder, /*maxShardBytes=*/16 * 1024);
    EXPECT_TRUE(fs::exists(fs::path(folder) / "model.safetensors.index.json"));
    EXPECT_FALSE(fs::exists(fs::path(folder) / "model.safetensors"));
    const Checkpoint loaded = Checkpoint::load(folder);
    expectIdentical(original, loaded);
    EXPECT_TRUE(SafetensorsCheckpoint::open(folder).sharded());
    // Saving the sharded load unsharded gives the same tensors again.
    const std::string single = scratchFolder("unsharded");
    loaded.save(single);
    expectIdentical(original, Checkpoint::load(single));
}

TEST(Checkpoint, HalfPrecisionConversionsBehaveAsExpected) {
    const Checkpoint f32 = randomCheckpoint(tinyConfig(), 7);
    const torch::Tensor w = f32.at("model.norm.weight");
    // bf16 keeps 8 bits of mantissa, f16 11: relative rounding error below 2^-8 and 2^-11.
    EXPECT_LT(relativeMaxDiff(w.to(torch::kBFloat16).to(torch::kFloat32), w), 1.0 / 256);
    EXPECT_LT(relativeMaxDiff(w.to(torch::kFloat16).to(torch::kFloat32), w), 1.0 / 2048);
    // Values already representable in bf16 survive bf16 -> f32 -> bf16 exactly.
    const torch::Tensor b = w.to(torch::kBFloat16);
    EXPECT_TRUE(torch::equal(b.to(torch::kFloat32).to(torch::kBFloat16), b));
}

TEST(Checkpoint, CopiesAuxiliaryFilesWhenAsked) {
    const std::string source = writeRandomModel(tinyConfig(), 9);
    std::ofstream(fs::path(source) / "generation_config.json") << "{\"do_sample\": false}\n";
    const std::string target = scratchFolder("aux");
    Checkpoint::load(source).save(target, 0, source);
    EXPECT_TRUE(fs::exists(fs::path(target) / "generation_config.json"));
}

TEST(Checkpoint, MissingTensorIsNamed) {
    Checkpoint ck = randomCheckpoint(tinyConfig(), 11);
    ck.erase("model.layers.1.mlp.up_proj.weight");
    const std::string folder = scratchFolder("missing");
    ck.save(folder);
    try {
        Checkpoint::load(folder);
        FAIL() << "loaded a checkpoint with a missing tensor";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.up_proj.weight"),
                  std::string::npos);
    }
}

TEST(Checkpoint, WrongTensorShapeForConfigIsNamed) {
    Checkpoint ck = randomCheckpoint(tinyConfig(4), 13);
    ck.config.numKvHeads = 2;  // config says GQA-2 but k_proj/v_proj keep 4 heads
    const std::string folder = scratchFolder("shape");
    ck.save(folder);
    try {
        Checkpoint::load(folder);
        FAIL() << "loaded a checkpoint whose shapes contradict config.json";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("k_proj"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("[16,32]"), std::string::npos) << e.what();
    }
}

TEST(Checkpoint, NonLlamaConfigIsRefused) {
    const std::string folder = writeRandomModel(tinyConfig(), 15);
    std::ofstream(fs::path(folder) / "config.json") << R"({"model_type": "gpt2", "n_layer": 2})";
    EXPECT_THROW(Checkpoint::load(folder), InputError);
}

TEST(Checkpoint, MalformedConfigJsonIsRefused) {
    const std::string folder = writeRandomModel(tinyConfig(), 17);
    std::ofstream(fs::path(folder) / "config.json") << "{ not json";
    EXPECT_THROW(Checkpoint::load(folder), InputError);
}

TEST(Checkpoint, FolderWithoutWeightsIsRefused) {
    const std::string folder = writeRandomModel(tinyConfig(), 19);
    fs::remove(fs::path(folder) / "model.safetensors");
    EXPECT_THROW(Checkpoint::load(folder), InputError);
    EXPECT_THROW(Checkpoint::load(folder + "/nope"), InputError);
}

TEST(Checkpoint, IntegerWeightsAreRefused) {
    Checkpoint ck = randomCheckpoint(tinyConfig(), 21);
    ck.set("model.norm.weight", torch::ones({32}, torch::kInt32));
    const std::string folder = scratchFolder("int");
    ck.save(folder);
    EXPECT_THROW(Checkpoint::load(folder), InputError);
}

TEST(Checkpoint, CancelDuringLoadThrowsCancelled) {
    struct StopAtOnce : ProgressSink {
        bool report(const ProgressUpdate&) override { return false; }
    } stop;
    EXPECT_THROW(Checkpoint::load(writeRandomModel(tinyConfig(), 23), stop), Cancelled);
}

}  // namespace
}  // namespace gqa::test
