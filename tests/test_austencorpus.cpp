// SPDX-License-Identifier: GPL-3.0-or-later
// Reader of janeaustenr's Rdata.rdb: synthetic files built here (XDR records, zlib-compressed)
// for parsing and every malformed case, plus the real file when scripts/get-corpus.sh fetched it.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <zlib.h>

#include "text/austencorpus.h"
#include "base/error.h"

namespace fs = std::filesystem;

namespace {

// Header words R 4.2 writes (serialize.c): format 3, R version 4.2.1, minimum version 3.5.0.
constexpr std::int32_t kFormatVersion = 3;
constexpr std::int32_t kWriterVersion = 0x00040201;
constexpr std::int32_t kMinReaderVersion = 0x00030500;
constexpr std::int32_t kStrSxpFlags = 16;
constexpr std::int32_t kVecSxpFlags = 19;
constexpr std::int32_t kAsciiCharSxpFlags = 0x00040009;   // CHARSXP with the ASCII gp bit
constexpr std::int32_t kLatin1CharSxpFlags = 0x00004009;  // CHARSXP with the LATIN1 gp bit
constexpr std::int32_t kNaCharSxpFlags = 9;

void putInt(std::string& out, std::int32_t value) {
    const auto u = std::uint32_t(value);
    for (int shift = 24; shift >= 0; shift -= 8) out += char((u >> shift) & 0xff);
}

struct Element {
    std::optional<std::string> text;  // nullopt: NA
    std::int32_t flags = kAsciiCharSxpFlags;
};

std::string serializeHeader(std::int32_t version = kFormatVersion, const char* marker = "X\n") {
    std::string out = marker;
    putInt(out, version);
    putInt(out, kWriterVersion);
    putInt(out, kMinReaderVersion);
    if (version == 3) {
        putInt(out, 5);
        out += "UTF-8";
    }
    return out;
}

std::string serializeElements(const std::vector<Element>& elements,
                              std::string header = serializeHeader(),
                              std::int32_t vectorFlags = kStrSxpFlags) {
    std::string out = std::move(header);
    putInt(out, vectorFlags);
    putInt(out, std::int32_t(elements.size()));
    for (const Element& e : elements) {
        putInt(out, e.text ? e.flags : kNaCharSxpFlags);
        putInt(out, e.text ? std::int32_t(e.text->size()) : -1);
        if (e.text) out += *e.text;
    }
    return out;
}

std::string serializeLines(const std::vector<std::string>& lines) {
    std::vector<Element> elements;
    for (const std::string& line : lines) elements.push_back({line});
    return serializeElements(elements);
}

std::string zlibCompress(const std::string& data) {
    uLongf size = compressBound(uLong(data.size()));
    std::string out(size, '\0');
    const int rc = compress(reinterpret_cast<Bytef*>(out.data()), &size,
                            reinterpret_cast<const Bytef*>(data.data()), uLong(data.size()));
    EXPECT_EQ(rc, Z_OK);
    out.resize(size);
    return out;
}

// One rdb record: big-endian inflated size, then the zlib stream.
std::string record(const std::string& payload, std::optional<std::int32_t> declared = {}) {
    std::string out;
    putInt(out, declared.value_or(std::int32_t(payload.size())));
    return out + zlibCompress(payload);
}

class AustenCorpusTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_folder = fs::temp_directory_path() /
                   ("gqa_austen_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
        fs::remove_all(m_folder);
        fs::create_directories(m_folder);
    }
    void TearDown() override { fs::remove_all(m_folder); }

    std::string writeRdb(const std::string& bytes) {
        const std::string path = (m_folder / "Rdata.rdb").string();
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    }

    // Expects InputError whose message holds the file path and every one of `parts`.
    void expectInputError(const std::string& bytes, std::initializer_list<std::string> parts) {
        const std::string path = writeRdb(bytes);
        try {
            gqa::readAustenRdb(path);
            ADD_FAILURE() << "no InputError";
        } catch (const gqa::InputError& e) {
            const std::string message = e.what();
            EXPECT_NE(message.find(path), std::string::npos) << message;
            for (const std::string& part : parts)
                EXPECT_NE(message.find(part), std::string::npos)
                    << "'" << part << "' not in: " << message;
        }
    }

    fs::path m_folder;
};

TEST_F(AustenCorpusTest, ParsesOneRecord) {
    const auto novels = gqa::readAustenRdb(writeRdb(record(serializeLines({"EMMA", "", "By"}))));
    ASSERT_EQ(novels.size(), 1u);
    EXPECT_EQ(novels[0].title, "Emma");
    EXPECT_EQ(novels[0].lines, (std::vector<std::string>{"EMMA", "", "By"}));
}

TEST_F(AustenCorpusTest, NaLinesBecomeEmpty) {
    const auto bytes = record(serializeElements({{"a"}, {std::nullopt}, {"b"}, {std::nullopt}}));
    const auto novels = gqa::readAustenRdb(writeRdb(bytes));
    ASSERT_EQ(novels.size(), 1u);
    EXPECT_EQ(novels[0].lines, (std::vector<std::string>{"a", "", "b", ""}));
}

TEST_F(AustenCorpusTest, ParsesSeveralRecordsInOrder) {
    const std::string utf8 = "caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve";
    const auto bytes = record(serializeLines({"first"})) +
                       record(serializeElements({{utf8, 0x8009}, {"x"}})) +
                       record(serializeLines({}));
    const auto novels = gqa::readAustenRdb(writeRdb(bytes));
    ASSERT_EQ(novels.size(), 3u);
    EXPECT_EQ(novels[0].title, "Emma");
    EXPECT_EQ(novels[1].title, "Mansfield Park");
    EXPECT_EQ(novels[2].title, "Northanger Abbey");
    EXPECT_EQ(novels[0].lines, std::vector<std::string>{"first"});
    EXPECT_EQ(novels[1].lines, (std::vector<std::string>{utf8, "x"}));
    EXPECT_TRUE(novels[2].lines.empty());
}

TEST_F(AustenCorpusTest, AcceptsVersion2AndConvertsLatin1) {
    const auto payload =
        serializeElements({{std::string("caf\xe9"), kLatin1CharSxpFlags}}, serializeHeader(2));
    const auto novels = gqa::readAustenRdb(writeRdb(record(payload)));
    ASSERT_EQ(novels.size(), 1u);
    EXPECT_EQ(novels[0].lines, std::vector<std::string>{"caf\xc3\xa9"});
}

TEST_F(AustenCorpusTest, MissingOrEmptyFileThrows) {
    const std::string missing = (m_folder / "absent.rdb").string();
    try {
        gqa::readAustenRdb(missing);
        ADD_FAILURE() << "no InputError";
    } catch (const gqa::InputError& e) {
        EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
    expectInputError("", {"empty file"});
}

TEST_F(AustenCorpusTest, TruncatedRecordHeaderThrows) {
    expectInputError(record(serializeLines({"ok"})) + std::string("\0\0", 2),
                     {"record 1", "truncated record"});
}

TEST_F(AustenCorpusTest, TruncatedZlibStreamThrows) {
    const std::string full = record(serializeLines({"some text", "more text here"}));
    expectInputError(full.substr(0, full.size() - 5), {"record 0", "truncated zlib stream"});
}

TEST_F(AustenCorpusTest, BadZlibStreamThrows) {
    std::string bytes;
    putInt(bytes, 100);
    bytes += "this is not a zlib stream at all";
    expectInputError(bytes, {"record 0", "bad zlib stream"});
    expectInputError(record(serializeLines({"ok"})) + bytes, {"record 1", "bad zlib stream"});
}

TEST_F(AustenCorpusTest, InflatedSizeMismatchThrows) {
    const std::string payload = serializeLines({"hello"});
    expectInputError(record(payload, std::int32_t(payload.size() + 10)),
                     {"record 0", "header says"});
    expectInputError(record(payload, std::int32_t(payload.size() - 10)), {"record 0", "more than"});
    expectInputError(record(payload, -1), {"record 0", "implausible inflated size"});
}

TEST_F(AustenCorpusTest, WrongSerializationHeaderThrows) {
    const std::vector<Element> one = {{"x"}};
    expectInputError(record(serializeElements(one, serializeHeader(3, "A\n"))),
                     {"record 0", "wrong serialization header"});
    expectInputError(record(serializeElements(one, serializeHeader(4))),
                     {"record 0", "wrong serialization header", "version 4"});
    expectInputError(record("X"), {"record 0", "format marker", "past the end"});
}

TEST_F(AustenCorpusTest, UnexpectedSexpTypeThrows) {
    expectInputError(record(serializeElements({{"x"}}, serializeHeader(), kVecSxpFlags)),
                     {"record 0", "unexpected SEXP type 19"});
    expectInputError(
        record(serializeLines({"a"})) + record(serializeElements({{"a"}, {"b", 0x0010}})),
        {"record 1", "unexpected SEXP type 16 in line 1"});
}

TEST_F(AustenCorpusTest, LengthPastTheEndThrows) {
    // Vector claims 3 elements but holds 2.
    std::string payload = serializeLines({"a", "b"});
    payload[payload.find("UTF-8") + 5 + 4 + 3] = 3;
    expectInputError(record(payload), {"record 0", "string header", "past the end"});
    // A string claims more bytes than remain.
    std::string shortString = serializeLines({"abc"});
    shortString[shortString.size() - 4] = 50;
    expectInputError(record(shortString), {"record 0", "string of 50 bytes", "past the end"});
}

TEST_F(AustenCorpusTest, ExtraRecordThrows) {
    std::string bytes;
    for (int i = 0; i < 7; ++i) bytes += record(serializeLines({"line"}));
    expectInputError(bytes, {"record 6", "unexpected extra record"});
}

TEST_F(AustenCorpusTest, WritesNovelTexts) {
    EXPECT_EQ(gqa::novelFileName("Pride and Prejudice"), "pride_and_prejudice.txt");
    EXPECT_EQ(gqa::novelFileName("Sense & Sensibility"), "sense_sensibility.txt");
    EXPECT_EQ(gqa::novelFileName("Emma"), "emma.txt");
    const fs::path out = m_folder / "texts";
    gqa::writeNovelTexts({{"Emma", {"EMMA", "", "caf\xc3\xa9"}}, {"Mansfield Park", {}}},
                         out.string());
    std::ifstream in(out / "emma.txt", std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_EQ(text, "EMMA\n\ncaf\xc3\xa9\n");
    EXPECT_TRUE(fs::exists(out / "mansfield_park.txt"));
    EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 2);

    // A regular file where the folder should be: InputError naming it.
    std::ofstream(m_folder / "blocker") << "x";
    const std::string blocked = (m_folder / "blocker" / "sub").string();
    try {
        gqa::writeNovelTexts({{"Emma", {"x"}}}, blocked);
        ADD_FAILURE() << "no InputError";
    } catch (const gqa::InputError& e) {
        EXPECT_NE(std::string(e.what()).find(blocked), std::string::npos) << e.what();
    }
}

// The real janeaustenr file, fetched by scripts/get-corpus.sh (GQA_CORPUS_DIR overrides where).
fs::path realRdbPath() {
    const char* dir = std::getenv("GQA_CORPUS_DIR");
    const fs::path base =
        dir ? fs::path(dir) : fs::path(__FILE__).parent_path().parent_path() / "data" / "corpus";
    return base / "janeaustenr" / "Rdata.rdb";
}

TEST_F(AustenCorpusTest, RealJaneaustenrFile) {
    const fs::path path = realRdbPath();
    if (!fs::exists(path))
        GTEST_SKIP() << path.string() << " is absent; run scripts/get-corpus.sh to fetch it";
    const auto novels = gqa::readAustenRdb(path.string());
    ASSERT_EQ(novels.size(), 6u);
    const std::vector<std::string> firstLines = {
        "EMMA",       "MANSFIELD PARK",      "NORTHANGER ABBEY",
        "Persuasion", "PRIDE AND PREJUDICE", "SENSE AND SENSIBILITY"};
    std::size_t totalLines = 0;
    for (std::size_t i = 0; i < novels.size(); ++i) {
        EXPECT_EQ(novels[i].title, gqa::kAustenTitles[i]);
        EXPECT_GT(novels[i].lines.size(), 5000u) << novels[i].title;
        EXPECT_LT(novels[i].lines.size(), 20000u) << novels[i].title;
        const auto first = std::find_if(novels[i].lines.begin(), novels[i].lines.end(),
                                        [](const std::string& l) { return !l.empty(); });
        ASSERT_NE(first, novels[i].lines.end());
        EXPECT_EQ(*first, firstLines[i]);
        totalLines += novels[i].lines.size();
    }
    EXPECT_EQ(totalLines, 73422u);  // janeaustenr 1.0.0: 16235+15349+7856+8328+13030+12624
    EXPECT_LT(novels[3].lines.size(), novels[0].lines.size());  // Persuasion shorter than Emma

    gqa::writeNovelTexts(novels, (m_folder / "texts").string());
    std::uintmax_t bytes = 0;
    for (const auto& entry : fs::directory_iterator(m_folder / "texts")) bytes += entry.file_size();
    EXPECT_GT(bytes, 3'500'000u);  // about 4.0 MB of text
    EXPECT_LT(bytes, 4'500'000u);
}

}  // namespace
