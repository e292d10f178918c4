// SPDX-License-Identifier: GPL-3.0-or-later
// Safetensors writing: round trips, atomic folder updates and the writer's input checks (the
// reader's checks of broken input: test_safetensorsreader.cpp).

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "safetensorsfixture.h"

namespace gqa {
namespace {

using namespace safetensorstest;

// ---- round trips ------------------------------------------------------------------------------

TEST_F(SafetensorsTest, SingleFileRoundTripKeepsBytesOrderDtypesAndMetadata) {
    Sample sample;
    const auto views = sample.views();
    const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "héllo"}};
    writeSafetensors(file("a.safetensors"), views, metadata);

    const auto st = SafetensorsFile::open(file("a.safetensors"));
    EXPECT_EQ(st.metadata(), metadata);
    ASSERT_EQ(st.tensors().size(), views.size());
    for (std::size_t i = 0; i < views.size(); ++i)
        expectSameBytes(views[i], st.tensors()[i], st.data(st.tensors()[i]));
    EXPECT_EQ(st.find("scalar")->numel(), 1);
    EXPECT_EQ(st.find("empty")->numel(), 0);
    EXPECT_EQ(st.find("nope"), nullptr);
    EXPECT_EQ(st.fileSize(), fs::file_size(file("a.safetensors")));
}

TEST_F(SafetensorsTest, WrittenHeaderIsPaddedContiguousAndOmitsEmptyMetadata) {
    Sample sample;
    writeSafetensors(file("a.safetensors"), sample.views());
    const std::string bytes = readText(file("a.safetensors"));
    std::uint64_t headerSize = 0;
    std::memcpy(&headerSize, bytes.data(), 8);
    EXPECT_EQ(headerSize % 8, 0u);
    const auto header = nlohmann::json::parse(bytes.substr(8, headerSize));
    EXPECT_FALSE(header.contains("__metadata__"));
    std::uint64_t expectedBegin = 0;
    for (const auto& view : sample.views()) {
        const auto offsets = header.at(view.name).at("data_offsets");
        EXPECT_EQ(offsets[0].get<std::uint64_t>(), expectedBegin) << view.name;
        expectedBegin += bytesOf(view);
    }
    EXPECT_EQ(bytes.size(), 8 + headerSize + expectedBegin);
}

TEST_F(SafetensorsTest, FileWithNoTensorsOrOnlyEmptyTensorsRoundTrips) {
    writeSafetensors(file("none.safetensors"), {});
    EXPECT_TRUE(SafetensorsFile::open(file("none.safetensors")).tensors().empty());
    writeSafetensors(file("zero.safetensors"), {{"z", DType::F16, {3, 0}, nullptr}});
    const auto st = SafetensorsFile::open(file("zero.safetensors"));
    ASSERT_EQ(st.tensors().size(), 1u);
    EXPECT_EQ(st.tensors()[0].byteSize(), 0u);
    EXPECT_NE(st.data(st.tensors()[0]), nullptr);
}

TEST_F(SafetensorsTest, ShardedCheckpointRoundTripKeepsOrderBytesAndMetadata) {
    Sample sample;
    const auto views = sample.views();
    const std::map<std::string, std::string> metadata{{"format", "pt"}};
    const std::string folder = file("model");
    writeSafetensorsCheckpoint(folder, views, 24, metadata);

    const auto index =
        nlohmann::json::parse(readText(fs::path(folder) / "model.safetensors.index.json"));
    std::uint64_t total = 0;
    for (const auto& v : views) total += bytesOf(v);
    EXPECT_EQ(index["metadata"]["total_size"].get<std::uint64_t>(), total);
    EXPECT_EQ(index["weight_map"].size(), views.size());
    EXPECT_FALSE(fs::exists(fs::path(folder) / "model.safetensors"));

    const auto checkpoint = SafetensorsCheckpoint::open(folder);
    EXPECT_TRUE(checkpoint.sharded());
    EXPECT_EQ(checkpoint.metadata(), metadata);
    EXPECT_EQ(checkpoint.totalTensorBytes(), total);
    std::vector<std::string> expectedNames;
    for (const auto& v : views) expectedNames.push_back(v.name);
    EXPECT_EQ(checkpoint.names(), expectedNames);
    std::set<std::string> shardFiles;
    for (const auto& v : views) {
        ASSERT_TRUE(checkpoint.contains(v.name));
        expectSameBytes(v, checkpoint.info(v.name), checkpoint.data(v.name));
        const std::string shard = fs::path(checkpoint.fileOf(v.name)).filename().string();
        EXPECT_EQ(index["weight_map"][v.name], shard);
        shardFiles.insert(shard);
    }
    // Each shard stays within the limit unless it holds a single tensor.
    for (const auto& shard : shardFiles) {
        const auto st = SafetensorsFile::open((fs::path(folder) / shard).string());
        std::uint64_t bytes = 0;
        for (const auto& t : st.tensors()) bytes += t.byteSize();
        EXPECT_TRUE(bytes <= 24 || st.tensors().size() == 1) << shard;
    }
    EXPECT_GT(shardFiles.size(), 2u);
    const std::string n = std::to_string(shardFiles.size());
    EXPECT_EQ(*shardFiles.begin(), "model-00001-of-0000" + n + ".safetensors");
}

TEST_F(SafetensorsTest, TensorLargerThanShardLimitGetsAShardOfItsOwn) {
    std::vector<float> big(100, 1.0f), small(2, 2.0f);
    const std::string folder = file("model");
    writeSafetensorsCheckpoint(folder,
                               {{"a", DType::F32, {2}, small.data()},
                                {"big", DType::F32, {100}, big.data()},
                                {"b", DType::F32, {2}, small.data()}},
                               16);
    const auto checkpoint = SafetensorsCheckpoint::open(folder);
    EXPECT_EQ(fs::path(checkpoint.fileOf("a")).filename(), "model-00001-of-00003.safetensors");
    EXPECT_EQ(fs::path(checkpoint.fileOf("big")).filename(), "model-00002-of-00003.safetensors");
    EXPECT_EQ(fs::path(checkpoint.fileOf("b")).filename(), "model-00003-of-00003.safetensors");
}

TEST_F(SafetensorsTest, CheckpointThatFitsOneShardIsWrittenAsSingleFile) {
    Sample sample;
    const std::string folder = file("model");
    writeSafetensorsCheckpoint(folder, sample.views(), 1u << 20);
    EXPECT_EQ(filesIn(folder), std::set<std::string>{"model.safetensors"});
    const auto checkpoint = SafetensorsCheckpoint::open(folder);
    EXPECT_FALSE(checkpoint.sharded());
    EXPECT_EQ(checkpoint.names().size(), sample.views().size());
}

// ---- atomic writes and folder layout changes ---------------------------------------------------

TEST_F(SafetensorsTest, AtomicWritesLeaveNoTemporaryFiles) {
    Sample sample;
    writeSafetensors(file("a.safetensors"), sample.views());
    writeSafetensors(file("a.safetensors"), sample.views());  // replacing an existing file
    writeSafetensorsCheckpoint(file("model"), sample.views(), 24);
    EXPECT_EQ(filesIn(m_dir), (std::set<std::string>{"a.safetensors", "model"}));
    for (const auto& name : filesIn(file("model")))
        EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

TEST_F(SafetensorsTest, FailedWriteThrowsErrorAndRemovesTemporaryFile) {
    std::vector<std::uint8_t> data(1 << 16, 7);
    struct rlimit old {};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    const auto oldHandler = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old;
    small.rlim_cur = 4096;  // writes past 4 KiB fail with EFBIG
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
    bool threwError = false;
    try {
        writeSafetensors(file("big.safetensors"), {{"x", DType::U8, {1 << 16}, data.data()}});
    } catch (const InputError&) {
    } catch (const Error& e) {
        threwError = std::string(e.what()).find("big.safetensors") != std::string::npos;
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldHandler);
    EXPECT_TRUE(threwError);
    EXPECT_TRUE(filesIn(m_dir).empty());
}

TEST_F(SafetensorsTest, WritingIntoMissingFolderIsAnIoError) {
    float x = 1;
    EXPECT_THROW(writeSafetensors(file("no/such/dir/a.safetensors"), {{"x", DType::F32, {}, &x}}),
                 Error);
}

TEST_F(SafetensorsTest, RewritingSingleAsShardedRemovesStaleSingleFile) {
    Sample sample;
    const std::string folder = file("model");
    writeSafetensorsCheckpoint(folder, sample.views());
    writeText(fs::path(folder) / "config.json", "{}");
    writeSafetensorsCheckpoint(folder, sample.views(), 24);
    const auto names = filesIn(folder);
    EXPECT_EQ(names.count("model.safetensors"), 0u);
    EXPECT_EQ(names.count("model.safetensors.index.json"), 1u);
    EXPECT_EQ(names.count("config.json"), 1u);
    EXPECT_TRUE(SafetensorsCheckpoint::open(folder).sharded());
}

TEST_F(SafetensorsTest, RewritingShardedAsSingleRemovesIndexAndShards) {
    Sample sample;
    const std::string folder = file("model");
    writeSafetensorsCheckpoint(folder, sample.views(), 24);
    writeText(fs::path(folder) / "config.json", "{}");
    writeText(fs::path(folder) / "model-notes.safetensors.txt", "keep me");
    writeSafetensorsCheckpoint(folder, sample.views());
    EXPECT_EQ(filesIn(folder), (std::set<std::string>{"config.json", "model.safetensors",
                                                      "model-notes.safetensors.txt"}));
    EXPECT_FALSE(SafetensorsCheckpoint::open(folder).sharded());
}

TEST_F(SafetensorsTest, RewritingWithFewerShardsRemovesOldShards) {
    Sample sample;
    const std::string folder = file("model");
    writeSafetensorsCheckpoint(folder, sample.views(), 16);
    const auto before = filesIn(folder).size();
    writeSafetensorsCheckpoint(folder, sample.views(), 40);
    const auto after = filesIn(folder);
    EXPECT_LT(after.size(), before);
    const auto checkpoint = SafetensorsCheckpoint::open(folder);
    std::set<std::string> shardsInUse;
    for (const auto& name : checkpoint.names())
        shardsInUse.insert(fs::path(checkpoint.fileOf(name)).filename().string());
    shardsInUse.insert("model.safetensors.index.json");
    EXPECT_EQ(after, shardsInUse);
}

// ---- writer input checks ----------------------------------------------------------------------

TEST_F(SafetensorsTest, WriterRejectsDuplicateNames) {
    float x = 1;
    expectInputError(
        [&] {
            writeSafetensors(file("a.safetensors"),
                             {{"w", DType::F32, {}, &x}, {"w", DType::F32, {}, &x}});
        },
        {"'w'", "twice"});
    EXPECT_TRUE(filesIn(m_dir).empty());
}

TEST_F(SafetensorsTest, CheckpointWriterRejectsDuplicatesAcrossShardsBeforeWriting) {
    std::vector<float> x(8, 1.0f);
    expectInputError(
        [&] {
            writeSafetensorsCheckpoint(
                file("model"), {{"w", DType::F32, {8}, x.data()}, {"w", DType::F32, {8}, x.data()}},
                16);
        },
        {"'w'", "twice"});
    EXPECT_FALSE(fs::exists(file("model")));
}

TEST_F(SafetensorsTest, WriterRejectsNullDataForNonEmptyTensor) {
    expectInputError(
        [&] {
            writeSafetensors(file("a.safetensors"), {{"w", DType::F32, {2}, nullptr}});
        },
        {"'w'", "no data"});
}

TEST_F(SafetensorsTest, WriterRejectsNegativeDimension) {
    float x = 1;
    expectInputError(
        [&] {
            writeSafetensors(file("a.safetensors"), {{"w", DType::F32, {-1}, &x}});
        },
        {"'w'", "[-1]"});
}

}  // namespace
}  // namespace gqa
