// SPDX-License-Identifier: GPL-3.0-or-later
// SentencePiece tokenizer wrapper and token-id files.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "io/modelconfig.h"
#include "testsupport.h"
#include "text/tokenizer.h"
#include "text/tokenizersettings.h"
#include "text/tokenizertrainer.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

TEST(Tokenizer, RoundTripsTextAndAddsBosLikeLlama) {
    Tokenizer tok = Tokenizer::load(sharedTinyTokenizerFolder() + "/tokenizer.model");
    const std::string text = "the cat ran quickly over the garden.";
    const auto ids = tok.encode(text);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(tok.decode(ids), text);
    EXPECT_EQ(tok.encodePlain(text).size() + 1, ids.size());
}

TEST(Tokenizer, ByteFallbackCoversUnseenCharacters) {
    Tokenizer tok = Tokenizer::load(sharedTinyTokenizerFolder() + "/tokenizer.model");
    EXPECT_EQ(tok.decode(tok.encodePlain("café ☕")), "café ☕");
}

TEST(TokenizerSettings, ReadsBooleanFlagsOnlyAndRefusesWhatIsNotAnObject) {
    const TokenizerSettings llama =
        parseTokenizerSettings(R"({"add_bos_token": true, "add_eos_token": false})", "t.json");
    EXPECT_EQ(llama.addBos, std::optional<bool>(true));
    EXPECT_EQ(llama.addEos, std::optional<bool>(false));
    // null and non-booleans keep the tokenizer's default.
    const TokenizerSettings loose =
        parseTokenizerSettings(R"({"add_bos_token": null, "add_eos_token": 1})", "t.json");
    EXPECT_FALSE(loose.addBos.has_value());
    EXPECT_FALSE(loose.addEos.has_value());
    EXPECT_THROW(parseTokenizerSettings(R"([{"add_bos_token": true}])", "t.json"), InputError);
    EXPECT_THROW(parseTokenizerSettings(R"({"add_bos_token": tru)", "t.json"), InputError);
}

TEST(Tokenizer, FolderSettingsControlBosAndEos) {
    const std::string folder = scratchFolder("tokfolder");
    fs::copy_file(sharedTinyTokenizerFolder() + "/tokenizer.model", folder + "/tokenizer.model");
    std::ofstream(folder + "/tokenizer_config.json")
        << R"({"add_bos_token": false, "add_eos_token": true})";
    ModelConfig config = tinyConfig();
    Tokenizer tok = Tokenizer::forModelFolder(folder, config);
    const auto ids = tok.encode("the mat");
    EXPECT_NE(ids.front(), 1);
    EXPECT_EQ(ids.back(), 2);
}

TEST(Tokenizer, MissingOrInvalidModelIsAnInputError) {
    EXPECT_THROW(Tokenizer::load("/nonexistent/tokenizer.model"), InputError);
    const std::string folder = scratchFolder("badtok");
    std::ofstream(folder + "/tokenizer.model") << "this is not a protobuf";
    EXPECT_THROW(Tokenizer::load(folder + "/tokenizer.model"), InputError);
}

TEST(TokenIdFile, RoundTripsAndRejectsGarbageWithLineNumbers) {
    const std::string path = scratchFolder("ids") + "/ids.txt";
    const std::vector<std::int64_t> ids{1, 5, 60, 0, 33};
    writeTokenIdFile(path, ids);
    EXPECT_EQ(readTokenIdFile(path, 61), ids);
    EXPECT_THROW(readTokenIdFile(path, 50), InputError);  // 60 is outside a 50-token vocabulary
    std::ofstream(path) << "1 2 3\n4 five 6\n";
    try {
        readTokenIdFile(path);
        FAIL();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace gqa::test
