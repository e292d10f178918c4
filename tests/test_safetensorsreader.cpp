// SPDX-License-Identifier: GPL-3.0-or-later
// The safetensors reader on broken input, one test per kind, each checking that it throws
// InputError for the reason it guards; and checkpoint folders (sharded or not) that are broken.

#include <nlohmann/json.hpp>

#include "safetensorsfixture.h"

namespace gqa {
namespace {

using namespace safetensorstest;

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
