// SPDX-License-Identifier: GPL-3.0-or-later
// Safetensors reading and writing: round trips, atomic folder updates, and one test per kind of
// broken input, each checking that the reader throws InputError for the reason it guards.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "error.h"
#include "safetensors.h"

namespace gqa {
namespace {

namespace fs = std::filesystem;

std::string readText(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeText(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

/// Hand-makes a safetensors file: 8-byte little-endian length, header text, data bytes.
void writeRaw(const fs::path& path, const std::string& header, const std::string& data = "",
              std::optional<std::uint64_t> lengthField = std::nullopt) {
    const std::uint64_t length = lengthField.value_or(header.size());
    std::string bytes(reinterpret_cast<const char*>(&length), 8);
    writeText(path, bytes + header + data);
}

std::set<std::string> filesIn(const fs::path& folder) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
        names.insert(entry.path().filename().string());
    return names;
}

/// Runs `action` and checks it throws gqa::InputError whose message holds every phrase.
void expectInputError(const std::function<void()>& action,
                      const std::vector<std::string>& phrases) {
    try {
        action();
        ADD_FAILURE() << "no exception thrown";
    } catch (const InputError& e) {
        const std::string message = e.what();
        for (const std::string& phrase : phrases)
            EXPECT_NE(message.find(phrase), std::string::npos)
                << "message \"" << message << "\" lacks \"" << phrase << "\"";
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected gqa::InputError, got another exception: " << e.what();
    }
}

class SafetensorsTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        m_dir = fs::temp_directory_path() / ("gqa_safetensors_test_" + std::to_string(::getpid()) +
                                             "_" + std::to_string(counter++));
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string file(const std::string& name) const { return (m_dir / name).string(); }

    /// Writes a hand-made file and checks opening it fails with all the phrases (and the path).
    void expectBadFile(const std::string& header, const std::string& data,
                       const std::vector<std::string>& phrases) {
        const std::string path = file("broken.safetensors");
        writeRaw(path, header, data);
        std::vector<std::string> all = phrases;
        all.push_back(path);
        expectInputError([&] { SafetensorsFile::open(path); }, all);
    }

    fs::path m_dir;
};

/// A small model's worth of tensors of every common dtype, with recognisable bytes.
struct Sample {
    std::vector<float> f32{1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, -7.0f};
    std::vector<std::uint16_t> f16{0x3c00, 0xc000, 0x7bff, 0x0001};
    std::vector<std::uint16_t> bf16{0x3f80, 0xbf80, 0x4049, 0x0000, 0x7f80, 0x1234};
    std::vector<std::int64_t> i64{-1, 0, 1, 1ll << 40};
    std::vector<std::uint8_t> u8{0, 1, 2, 254, 255};
    float scalar = 42.0f;

    std::vector<TensorView> views() const {
        return {
            {"model.layers.0.weight", DType::F32, {2, 3}, f32.data()},
            {"half", DType::F16, {4}, f16.data()},
            {"brain", DType::BF16, {3, 2}, bf16.data()},
            {"empty", DType::F32, {0, 5}, nullptr},
            {"ids", DType::I64, {2, 2}, i64.data()},
            {"bytes", DType::U8, {5}, u8.data()},
            {"scalar", DType::F32, {}, &scalar},
        };
    }
};

std::uint64_t bytesOf(const TensorView& v) {
    std::uint64_t n = dtypeSize(v.dtype);
    for (auto d : v.shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

void expectSameBytes(const TensorView& view, const TensorInfo& info, const std::uint8_t* data) {
    SCOPED_TRACE(view.name);
    EXPECT_EQ(info.name, view.name);
    EXPECT_EQ(info.dtype, view.dtype);
    EXPECT_EQ(info.shape, view.shape);
    ASSERT_EQ(info.byteSize(), bytesOf(view));
    if (info.byteSize() > 0) {
        EXPECT_EQ(std::memcmp(data, view.data, info.byteSize()), 0);
    }
}

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

// ---- reader: broken files ---------------------------------------------------------------------

TEST_F(SafetensorsTest, HandMadeValidFileOpens) {  // control: the helper itself makes good files
    writeRaw(file("ok.safetensors"),
             R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}})",
             std::string(8, '\0'));
    const auto st = SafetensorsFile::open(file("ok.safetensors"));
    ASSERT_NE(st.find("a"), nullptr);
    EXPECT_EQ(st.metadata().at("k"), "v");
}

TEST_F(SafetensorsTest, MissingFileRejected) {
    expectInputError([&] { SafetensorsFile::open(file("absent.safetensors")); },
                     {"absent.safetensors", "cannot open"});
}

TEST_F(SafetensorsTest, TruncatedFileRejected) {
    writeText(file("t.safetensors"), "abcde");
    expectInputError([&] { SafetensorsFile::open(file("t.safetensors")); },
                     {"t.safetensors", "file is 5 bytes, too small for the 8-byte header length"});
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFileRejected) {
    writeRaw(file("h.safetensors"), "{}", "", 1234567);
    expectInputError(
        [&] { SafetensorsFile::open(file("h.safetensors")); },
        {"h.safetensors", "header length 1234567 runs past the end of the file (size 10)"});
}

TEST_F(SafetensorsTest, HeaderOverSizeLimitRejected) {
    const std::string path = file("huge.safetensors");
    writeRaw(path, "{}", "", kMaxSafetensorsHeaderBytes + 8);
    fs::resize_file(path, 8 + kMaxSafetensorsHeaderBytes + 16);  // sparse: cheap on disk
    expectInputError([&] { SafetensorsFile::open(path); }, {path, "over the limit"});
}

TEST_F(SafetensorsTest, MalformedJsonHeaderRejected) {
    expectBadFile(R"({"a": {"dtype": "F32",)", "", {"header is not valid JSON"});
}

TEST_F(SafetensorsTest, HeaderNotAnObjectRejected) {
    expectBadFile("[1, 2, 3]", "", {"header is not a JSON object"});
}

TEST_F(SafetensorsTest, RepeatedTensorNameInHeaderRejected) {
    expectBadFile(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                  R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                  "xy", {"repeats the key 'a'"});
}

TEST_F(SafetensorsTest, EntryMissingAFieldRejected) {
    for (const std::string field : {"dtype", "shape", "data_offsets"}) {
        SCOPED_TRACE(field);
        auto entry = nlohmann::json::parse(R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})");
        entry.erase(field);
        expectBadFile(nlohmann::json{{"w.bias", entry}}.dump(), "x",
                      {"tensor 'w.bias'", "has no \"" + field + "\""});
    }
}

TEST_F(SafetensorsTest, EntryWithWrongJsonTypesRejected) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"({"w":[1]})", "is not a JSON object"},
        {R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,1]}})", "dtype 4 is not a string"},
        {R"({"w":{"dtype":"U8","shape":"1","data_offsets":[0,1]}})", "is not an array"},
        {R"({"w":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}})", "holds a non-integer"},
        {R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", "not two non-negative"},
        {R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,"1"]}})", "not two non-negative"},
        {R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", "not two non-negative"},
    };
    for (const auto& [header, phrase] : cases) {
        SCOPED_TRACE(header);
        expectBadFile(header, "x", {"tensor 'w'", phrase});
    }
}

TEST_F(SafetensorsTest, UnknownDtypeRejected) {
    expectBadFile(R"({"a.weight":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}})", "x",
                  {"tensor 'a.weight' has unknown dtype 'F8_E9'"});
}

TEST_F(SafetensorsTest, NegativeDimensionRejected) {
    expectBadFile(R"({"w":{"dtype":"U8","shape":[2,-3],"data_offsets":[0,0]}})", "",
                  {"tensor 'w'", "negative dimension"});
}

TEST_F(SafetensorsTest, ShapeWhoseByteCountOverflowsRejected) {
    expectBadFile(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})",
                  "", {"tensor 'w'", "too large"});
}

TEST_F(SafetensorsTest, MetadataValueNotStringRejected) {
    expectBadFile(R"({"__metadata__":{"format":"pt","epoch":3}})", "",
                  {"__metadata__ value of 'epoch' is not a string"});
}

TEST_F(SafetensorsTest, MetadataNotObjectRejected) {
    expectBadFile(R"({"__metadata__":"pt"})", "", {"__metadata__ is not a JSON object"});
}

TEST_F(SafetensorsTest, OffsetsPastDataSectionRejected) {
    expectBadFile(R"({"x":{"dtype":"U8","shape":[100],"data_offsets":[0,100]}})",
                  std::string(64, 'd'),
                  {"tensor 'x' data_offsets [0, 100] end past the data section (64 bytes)"});
}

TEST_F(SafetensorsTest, OffsetsBeginAfterEndRejected) {
    expectBadFile(R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[5,3]}})", std::string(8, 'd'),
                  {"tensor 'x' data_offsets [5, 3] begin after end"});
}

TEST_F(SafetensorsTest, OverlappingOffsetsRejected) {
    expectBadFile(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                  std::string(16, 'd'), {"tensors 'a' and 'b' overlap"});
}

TEST_F(SafetensorsTest, ZeroSizeTensorInsideAnotherDoesNotOverlap) {
    writeRaw(file("z.safetensors"),
             R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
             R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
             std::string(8, 'd'));
    const auto st = SafetensorsFile::open(file("z.safetensors"));
    ASSERT_EQ(st.tensors().size(), 2u);
    EXPECT_EQ(st.tensors()[0].name, "a");  // sorted by offset
}

TEST_F(SafetensorsTest, ShapeSizeMismatchRejected) {
    expectBadFile(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                  std::string(24, 'd'),
                  {"tensor 'w' shape [2,3] of F32 needs 24 bytes but data_offsets span 20"});
}

TEST_F(SafetensorsTest, TensorsSortedByOffsetNotHeaderOrder) {
    writeRaw(file("s.safetensors"),
             R"({"late":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
             R"("early":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
             "abcd");
    const auto st = SafetensorsFile::open(file("s.safetensors"));
    ASSERT_EQ(st.tensors().size(), 2u);
    EXPECT_EQ(st.tensors()[0].name, "early");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(st.data(*st.find("late"))), 2), "cd");
}

// ---- checkpoint folders -----------------------------------------------------------------------

class SafetensorsCheckpointTest : public SafetensorsTest {
protected:
    /// A three-shard checkpoint of tensors a, b, c (one per shard).
    std::string writeSharded() {
        const std::string folder = file("model");
        writeSafetensorsCheckpoint(folder,
                                   {{"a", DType::F32, {4}, m_data.data()},
                                    {"b", DType::F32, {4}, m_data.data()},
                                    {"c", DType::F32, {4}, m_data.data()}},
                                   16);
        return folder;
    }
    std::string indexPath() const { return file("model/model.safetensors.index.json"); }
    std::vector<float> m_data{1, 2, 3, 4};
};

TEST_F(SafetensorsCheckpointTest, FolderWithNoSafetensorsRejected) {
    writeText(m_dir / "config.json", "{}");
    expectInputError([&] { SafetensorsCheckpoint::open(m_dir.string()); },
                     {m_dir.string(), "no model.safetensors"});
}

TEST_F(SafetensorsCheckpointTest, MissingFolderRejected) {
    expectInputError([&] { SafetensorsCheckpoint::open(file("absent")); },
                     {"absent", "not a folder"});
}

TEST_F(SafetensorsCheckpointTest, MissingShardRejected) {
    const std::string folder = writeSharded();
    fs::remove(fs::path(folder) / "model-00002-of-00003.safetensors");
    expectInputError([&] { SafetensorsCheckpoint::open(folder); },
                     {"'model-00002-of-00003.safetensors' is missing"});
}

TEST_F(SafetensorsCheckpointTest, TensorMissingFromItsShardRejected) {
    const std::string folder = writeSharded();
    auto index = nlohmann::json::parse(readText(indexPath()));
    // Swap two entries: every shard is still named, and both tensors exist, in the other shard.
    index["weight_map"]["a"] = "model-00002-of-00003.safetensors";
    index["weight_map"]["b"] = "model-00001-of-00003.safetensors";
    writeText(indexPath(), index.dump());
    expectInputError([&] { SafetensorsCheckpoint::open(folder); },
                     {"tensor 'a' is not in shard 'model-00002-of-00003.safetensors'"});
}

TEST_F(SafetensorsCheckpointTest, TensorListedButStoredNowhereRejected) {
    const std::string folder = writeSharded();
    auto index = nlohmann::json::parse(readText(indexPath()));
    index["weight_map"]["ghost"] = "model-00001-of-00003.safetensors";
    writeText(indexPath(), index.dump());
    expectInputError([&] { SafetensorsCheckpoint::open(folder); }, {"tensor 'ghost'"});
}

TEST_F(SafetensorsCheckpointTest, TensorInTwoShardsRejected) {
    const std::string folder = writeSharded();
    writeSafetensors(
        file("model/model-00003-of-00003.safetensors"),
        {{"c", DType::F32, {4}, m_data.data()}, {"a", DType::F32, {4}, m_data.data()}});
    expectInputError([&] { SafetensorsCheckpoint::open(folder); },
                     {"tensor 'a' is stored in both", "model-00001-of-00003.safetensors",
                      "model-00003-of-00003.safetensors"});
}

TEST_F(SafetensorsCheckpointTest, MalformedIndexRejected) {
    const std::string folder = writeSharded();
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"({"weight_map": {"a": )", "index is not valid JSON"},
        {R"([1, 2])", "\"weight_map\" object"},
        {R"({"metadata": {}})", "\"weight_map\" object"},
        {R"({"weight_map": {"a": 1}})", "weight_map entry 'a' is not a string"},
        {R"({"weight_map": {}})", "lists no tensors"},
        {R"({"weight_map": {"a": "../x.safetensors"}})", "not a file name inside the folder"},
        {R"({"weight_map": {"a": "m.safetensors", "a": "n.safetensors"}})", "repeats the key 'a'"},
    };
    for (const auto& [text, phrase] : cases) {
        SCOPED_TRACE(text);
        writeText(indexPath(), text);
        expectInputError([&] { SafetensorsCheckpoint::open(folder); }, {indexPath(), phrase});
    }
}

TEST_F(SafetensorsCheckpointTest, BrokenShardReportsTheShardFile) {
    const std::string folder = writeSharded();
    writeText(fs::path(folder) / "model-00003-of-00003.safetensors", "abc");
    expectInputError([&] { SafetensorsCheckpoint::open(folder); },
                     {"model-00003-of-00003.safetensors", "too small"});
}

TEST_F(SafetensorsCheckpointTest, SingleShardIndexCountsAsSharded) {
    const std::string folder = file("model");
    fs::create_directories(folder);
    writeSafetensors(file("model/weights.safetensors"), {{"a", DType::F32, {4}, m_data.data()}});
    writeText(indexPath(),
              R"({"metadata":{"total_size":16},"weight_map":{"a":"weights.safetensors"}})");
    const auto checkpoint = SafetensorsCheckpoint::open(folder);
    EXPECT_TRUE(checkpoint.sharded());
    EXPECT_EQ(checkpoint.names(), std::vector<std::string>{"a"});
}

TEST_F(SafetensorsCheckpointTest, LookingUpUnknownTensorNamesIt) {
    const auto checkpoint = SafetensorsCheckpoint::open(writeSharded());
    EXPECT_FALSE(checkpoint.contains("missing.weight"));
    expectInputError([&] { checkpoint.info("missing.weight"); }, {"'missing.weight'"});
    expectInputError([&] { checkpoint.data("missing.weight"); }, {"'missing.weight'"});
    expectInputError([&] { checkpoint.fileOf("missing.weight"); }, {"'missing.weight'"});
}

}  // namespace
}  // namespace gqa
