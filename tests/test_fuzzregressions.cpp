// SPDX-License-Identifier: GPL-3.0-or-later
// Inputs that crashed or hung a parser under the libFuzzer targets (tests/fuzz, scripts/fuzz.sh),
// reduced by hand, plus their siblings found while fixing them; each test names what it guards and
// fails on the parser as it was before its fix.

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "analysis/groupingfile.h"
#include "base/error.h"
#include "io/modelconfig.h"
#include "pipeline/conversionrunconfig.h"
#include "text/austencorpus.h"
#include "text/tokendataset.h"
#include "text/tokenizer.h"

namespace gqa {
namespace {
namespace fs = std::filesystem;

/// A fresh folder for the running test, removed when the test ends.
class FuzzRegressions : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_folder = fs::temp_directory_path() /
                   ("gqa_fuzzreg_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
        fs::remove_all(m_folder);
        fs::create_directories(m_folder);
    }
    void TearDown() override { fs::remove_all(m_folder); }

    std::string writeFile(const std::string& name, const std::string& bytes) const {
        const std::string path = (m_folder / name).string();
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    }

    fs::path m_folder;
};

/// Expects fromJson to throw InputError whose message holds every one of `parts`.
void expectConfigRefused(const std::string& json, std::initializer_list<std::string> parts) {
    try {
        ModelConfig::fromJson(json, "config.json");
        ADD_FAILURE() << "accepted: " << json;
    } catch (const InputError& e) {
        for (const std::string& part : parts)
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
                << "'" << part << "' not in: " << e.what();
    }
}

std::string llamaConfig(const std::string& extraFields) {
    return R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64,
               "intermediate_size": 48, "num_key_value_heads": 2, "head_dim": 8, )" +
           extraFields + "}";
}

// ---- config.json --------------------------------------------------------------------------------

// fuzz_modelconfig: "1.5e600" made nlohmann throw out_of_range (not parse_error), which escaped
// fromJson as a JSON library exception instead of an InputError.
TEST_F(FuzzRegressions, ConfigNumberTooLargeForADoubleIsInputError) {
    expectConfigRefused("1.5e600", {"config.json", "malformed JSON", "number overflow"});
    expectConfigRefused(llamaConfig(R"("hidden_size": 32, "num_hidden_layers": 2,
                                       "num_attention_heads": 4, "rope_theta": 1e999)"),
                        {"malformed JSON"});
}

// A config accepted with 10^12 layers made expectedTensors (inspect, the studio, parameterCount)
// loop for hours: fuzz_modelconfig times out on it.
TEST_F(FuzzRegressions, ConfigWithAbsurdLayerCountIsRefused) {
    expectConfigRefused(llamaConfig(R"("hidden_size": 32, "num_hidden_layers": 1000000000000,
                                       "num_attention_heads": 4)"),
                        {"num_hidden_layers", "over the limit"});
}

// 2^50 heads made validKvHeadCounts (the studio's KV-cache table) loop for hours.
TEST_F(FuzzRegressions, ConfigWithAbsurdHeadCountIsRefused) {
    expectConfigRefused(llamaConfig(R"("hidden_size": 32, "num_hidden_layers": 2,
                                       "num_attention_heads": 1125899906842624,
                                       "num_key_value_heads": 1)"),
                        {"num_attention_heads", "over the limit"});
}

// vocab_size * hidden_size overflowed int64 in parameterCount (UBSan: signed integer overflow).
TEST_F(FuzzRegressions, ConfigWhoseParameterCountOverflowsIsRefused) {
    expectConfigRefused(llamaConfig(R"("hidden_size": 2147483648, "num_hidden_layers": 2,
                                       "num_attention_heads": 4, "vocab_size": 2147483648)"),
                        {"parameters", "over the limit"});
}

// 2^64 - 1 wrapped to -1 and was reported as "must be positive (is -1)".
TEST_F(FuzzRegressions, ConfigSizeAboveInt64IsRefusedAsTooLarge) {
    expectConfigRefused(llamaConfig(R"("hidden_size": 18446744073709551615,
                                       "num_hidden_layers": 2, "num_attention_heads": 4)"),
                        {"hidden_size", "too large"});
}

// ---- conversion run config ------------------------------------------------------------------

// fuzz_runconfig: "files" and "jsonl" together were accepted by the parser, and only the writer
// of convert-config.json refused them.
TEST_F(FuzzRegressions, RunConfigMixingTextAndJsonlIsRefusedByTheParser) {
    const nlohmann::json j = nlohmann::json::parse(
        R"({"model": "m", "kv_heads": 2, "start": "mean-pool", "output": "o",
            "training": {"files": ["a.txt"], "jsonl": "b.jsonl"}})");
    try {
        conversionRunConfigFromJson(j, "/base", "run.json");
        ADD_FAILURE() << "accepted a run config mixing text and jsonl training files";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("run.json.training"), std::string::npos) << e.what();
    }
}

// fuzz_runconfig (UBSan: "2.2e+72 is outside the range of representable values of type 'long'"):
// an integer field written as a float was converted by nlohmann with undefined behaviour when out
// of range, and rounded silently when in range (2.5 heads became 2).
TEST_F(FuzzRegressions, RunConfigIntegerFieldWrittenAsAFloatIsRefused) {
    for (const char* kvHeads : {"299999999999999999999", "2.5", "2.2e+72"}) {
        const nlohmann::json j = nlohmann::json::parse(
            std::string(R"({"model": "m", "output": "o", "kv_heads": )") + kvHeads + "}");
        try {
            const ConversionRunConfig c = conversionRunConfigFromJson(j, "/base", "run.json");
            ADD_FAILURE() << "kv_heads " << kvHeads << " was read as " << c.groups;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find("run.json.kv_heads must be an integer"),
                      std::string::npos)
                << e.what();
        }
    }
}

// The same through the training settings: 2^64 - 1 wrapped to -1 ("must be >= 1 (got -1)").
TEST_F(FuzzRegressions, RunConfigTrainingIntegerAboveInt64IsRefusedAsTooLarge) {
    const nlohmann::json j = nlohmann::json::parse(
        R"({"model": "m", "kv_heads": 2, "output": "o", "start": "mean-pool",
            "training": {"files": ["a.txt"], "steps": 18446744073709551615}})");
    try {
        conversionRunConfigFromJson(j, "/base", "run.json");
        ADD_FAILURE() << "accepted steps = 2^64 - 1";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos) << e.what();
    }
}

// ---- grouping file ----------------------------------------------------------------------------

// fuzz_groupingfile: a head index written as a huge number was converted with undefined
// behaviour, and a float index (1.5) was rounded to a head silently.
TEST_F(FuzzRegressions, GroupingFileHeadIndexThatIsNotAnIntegerIsRefused) {
    for (const char* head :
         {"22222222222222222222222222222222222222222222222222222222222222222222", "1.5", "1.0"}) {
        const std::string text = std::string("[[[0, ") + head + "], [2, 3]]]";
        try {
            const auto groupings = groupingsFromJsonText(text, "groups.json", 1, 4, 2);
            ADD_FAILURE() << "head " << head << " was read as " << groupings[0][0][1];
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find("integer head indices"), std::string::npos)
                << e.what();
        }
    }
}

// ---- tokenizer_config.json ----------------------------------------------------------------------

// The same out_of_range escaped Tokenizer::forModelFolder (found by reading, next to the config
// case, before tokenizer_config.json had its own parser and fuzz target).
TEST_F(FuzzRegressions, TokenizerConfigNumberTooLargeForADoubleIsInputError) {
    const fs::path demo = fs::path(GQA_SOURCE_DIR) / "resources/models/demo";
    fs::copy_file(demo / "tokenizer.model", m_folder / "tokenizer.model");
    writeFile("tokenizer_config.json", R"({"add_bos_token": true, "model_max_length": 1e999})");
    const ModelConfig config = ModelConfig::fromFile((demo / "config.json").string());
    try {
        Tokenizer::forModelFolder(m_folder.string(), config);
        ADD_FAILURE() << "accepted a tokenizer_config.json that is not valid JSON for us";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos)
            << e.what();
    }
}

// ---- janeaustenr Rdata.rdb ----------------------------------------------------------------------

void putBigEndian(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out += char((value >> shift) & 0xff);
}

// fuzz_austencorpus: a character vector declaring 0x46464646 elements in a 40-byte record made
// the reader reserve ~37 GB for the lines before finding out there were none (out of memory).
TEST_F(FuzzRegressions, AustenVectorLengthPastTheDataIsRefusedBeforeAllocating) {
    std::string payload = "X\n";
    for (std::uint32_t word : {3u, 0x00040201u, 0x00030500u, 5u}) putBigEndian(payload, word);
    payload += "UTF-8";
    putBigEndian(payload, 16);          // STRSXP
    putBigEndian(payload, 0x7fffffff);  // elements, none of which follow
    uLongf size = compressBound(uLong(payload.size()));
    std::string compressed(size, '\0');
    ASSERT_EQ(compress(reinterpret_cast<Bytef*>(compressed.data()), &size,
                       reinterpret_cast<const Bytef*>(payload.data()), uLong(payload.size())),
              Z_OK);
    compressed.resize(size);
    std::string file;
    putBigEndian(file, std::uint32_t(payload.size()));
    const std::string path = writeFile("Rdata.rdb", file + compressed);
    try {
        readAustenRdb(path);
        ADD_FAILURE() << "accepted a vector longer than its data";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("string header of 4 bytes runs past the end"),
                  std::string::npos)
            << e.what();
    }
}

// ---- token-id cache -----------------------------------------------------------------------------

std::string cacheHeader(std::uint32_t width, std::uint64_t fingerprint, std::uint64_t count) {
    std::string out = "GQATOKS1";
    auto put = [&](auto value) { out.append(reinterpret_cast<const char*>(&value), sizeof value); };
    put(width);
    put(std::uint32_t{0});
    put(fingerprint);
    put(count);
    return out;
}

// fuzz_tokencache: a 4-byte-wide cache holding a negative id was accepted; training then indexed
// the embedding with it. A refused cache must also leave the caller's ids alone (fromTextFiles
// appends the freshly tokenized ids to them).
TEST_F(FuzzRegressions, TokenCacheWithNegativeIdIsRejectedAndIdsKept) {
    std::string file = cacheHeader(4, 42, 3);
    for (std::int32_t id : {1, 70000, -3}) file.append(reinterpret_cast<const char*>(&id), 4);
    const std::string path = writeFile("ids.bin", file);
    std::vector<std::int64_t> ids{7};
    EXPECT_FALSE(readTokenCache(path, 42, ids));
    EXPECT_EQ(ids, std::vector<std::int64_t>{7});
}

// 32 + count * width wrapped around to the file size for count = 2^63 (width 2) or 2^62
// (width 4), and resizing to that count threw std::length_error out of readTokenCache.
TEST_F(FuzzRegressions, TokenCacheCountThatWrapsTheSizeCheckIsRejected) {
    for (const auto& [width, count] : {std::pair<std::uint32_t, std::uint64_t>{2, 1ull << 63},
                                       std::pair<std::uint32_t, std::uint64_t>{4, 1ull << 62}}) {
        const std::string path = writeFile("ids.bin", cacheHeader(width, 42, count));
        std::vector<std::int64_t> ids;
        EXPECT_FALSE(readTokenCache(path, 42, ids)) << "width " << width;
        EXPECT_TRUE(ids.empty());
    }
}

}  // namespace
}  // namespace gqa
