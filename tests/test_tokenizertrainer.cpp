// SPDX-License-Identifier: GPL-3.0-or-later
// SentencePiece BPE training: a tiny model on generated English-like text, checked for Llama-style
// ids, exact round trips, byte fallback, determinism, cancel and bad input.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/progress.h"
#include "text/tokenizer.h"
#include "text/tokenizertrainer.h"

namespace fs = std::filesystem;

namespace {

// 259 pieces are bytes and specials, about 25 are the text's characters: the rest are merges.
constexpr int kTinyVocab = 320;
constexpr int kSentences = 3000;

const std::vector<std::string> kWords = {
    "the",    "a",      "she",    "he",     "was",       "had",      "not",     "her",
    "his",    "of",     "and",    "to",     "in",        "that",     "it",      "with",
    "for",    "but",    "said",   "could",  "would",     "very",     "much",    "little",
    "sister", "mother", "house",  "letter", "friend",    "evening",  "morning", "walk",
    "happy",  "quite",  "indeed", "never",  "always",    "thought",  "felt",    "believe",
    "manner", "family", "young",  "lady",   "gentleman", "marriage", "fortune", "visit"};

std::string readAll(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Records stages and cancels at the first one that starts with `cancelAt` (empty: never).
class RecordingSink : public gqa::ProgressSink {
public:
    explicit RecordingSink(std::string cancelAt = {}) : m_cancelAt(std::move(cancelAt)) {}
    bool report(const gqa::ProgressUpdate& update) override {
        m_fractions.push_back(update.fraction);
        return m_cancelAt.empty() || update.stage.rfind(m_cancelAt, 0) != 0;
    }
    std::vector<double> m_fractions;

private:
    std::string m_cancelAt;
};

class TokenizerTrainerTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_folder = fs::temp_directory_path() /
                   ("gqa_spm_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
        fs::remove_all(m_folder);
        fs::create_directories(m_folder);
        m_text = (m_folder / "text.txt").string();
        // Fixed linear congruential generator (Knuth's MMIX constants): same text everywhere.
        std::uint64_t state = 42;
        auto next = [&state](std::size_t n) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            return std::size_t((state >> 33) % n);
        };
        std::ofstream out(m_text);
        for (int s = 0; s < kSentences; ++s) {
            const std::size_t length = 5 + next(10);
            for (std::size_t w = 0; w < length; ++w)
                out << (w ? (next(8) == 0 ? ", " : " ") : "") << kWords[next(kWords.size())];
            out << ".\n";
            if (next(6) == 0) out << "\n";  // paragraph breaks, as in the novels
        }
    }
    void TearDown() override { fs::remove_all(m_folder); }

    gqa::TokenizerTrainConfig config(const std::string& modelName) const {
        gqa::TokenizerTrainConfig c;
        c.inputFiles = {m_text};
        c.outputModel = (m_folder / modelName).string();
        c.vocabSize = kTinyVocab;
        return c;
    }

    fs::path m_folder;
    std::string m_text;
};

TEST_F(TokenizerTrainerTest, TrainsLlamaStyleBpeThatRoundTrips) {
    RecordingSink sink;
    gqa::trainSentencePieceBpe(config("tokenizer.model"), sink);
    ASSERT_FALSE(sink.m_fractions.empty());
    for (std::size_t i = 1; i < sink.m_fractions.size(); ++i)
        EXPECT_LE(sink.m_fractions[i - 1], sink.m_fractions[i]);
    EXPECT_DOUBLE_EQ(sink.m_fractions.back(), 1.0);
    EXPECT_FALSE(fs::exists(m_folder / "tokenizer.model.tmp"));

    const gqa::Tokenizer sp = gqa::Tokenizer::load((m_folder / "tokenizer.model").string());
    EXPECT_EQ(sp.vocabSize(), kTinyVocab);
    EXPECT_EQ(sp.unkId(), 0);
    EXPECT_EQ(sp.bosId(), 1);
    EXPECT_EQ(sp.eosId(), 2);
    EXPECT_EQ(sp.padId(), -1);
    EXPECT_EQ(sp.idToPiece(0), "<unk>");
    EXPECT_EQ(sp.idToPiece(1), "<s>");
    EXPECT_EQ(sp.idToPiece(2), "</s>");
    EXPECT_EQ(sp.idToPiece(3), "<0x00>");

    // Merges were learned: a frequent word takes fewer pieces than "▁", "t", "h", "e".
    EXPECT_LT(sp.encodePlain("the").size(), 4u);

    for (const std::string text :
         {"she had a little walk with her sister in the morning.",
          "The Quick, brown fox: 42 times!  Two spaces, (brackets) & \"quotes\"; tabs\tok?"}) {
        const auto ids = sp.encodePlain(text);
        EXPECT_EQ(std::count(ids.begin(), ids.end(), sp.unkId()), 0) << text;
        EXPECT_EQ(sp.decode(ids), text);
    }
}

TEST_F(TokenizerTrainerTest, ByteFallbackCoversUnseenCharacters) {
    gqa::NullProgress progress;
    gqa::trainSentencePieceBpe(config("tokenizer.model"), progress);
    const gqa::Tokenizer sp = gqa::Tokenizer::load((m_folder / "tokenizer.model").string());

    const std::string text = "caf\xc3\xa9 \xf0\x9f\x99\x82 na\xc3\xafve";  // café 🙂 naïve
    const auto ids = sp.encodePlain(text);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), sp.unkId()), 0);
    for (const char* byte : {"<0xC3>", "<0xA9>", "<0xF0>", "<0x9F>", "<0x99>", "<0x82>"})
        EXPECT_NE(std::find(ids.begin(), ids.end(), sp.pieceToId(byte)), ids.end()) << byte;
    EXPECT_EQ(sp.decode(ids), text);
}

TEST_F(TokenizerTrainerTest, TrainingIsDeterministic) {
    gqa::NullProgress progress;
    gqa::trainSentencePieceBpe(config("a/tokenizer.model"), progress);
    gqa::trainSentencePieceBpe(config("b/tokenizer.model"), progress);
    const std::string a = readAll(m_folder / "a" / "tokenizer.model");
    ASSERT_FALSE(a.empty());
    EXPECT_TRUE(a == readAll(m_folder / "b" / "tokenizer.model"));
}

TEST_F(TokenizerTrainerTest, CancelBeforeOrAfterTrainingWritesNothing) {
    for (const char* stage : {"reading", "training", "writing"}) {
        RecordingSink sink(stage);
        EXPECT_THROW(gqa::trainSentencePieceBpe(config("tokenizer.model"), sink), gqa::Cancelled)
            << stage;
        EXPECT_FALSE(fs::exists(m_folder / "tokenizer.model")) << stage;
        EXPECT_FALSE(fs::exists(m_folder / "tokenizer.model.tmp")) << stage;
    }
}

TEST_F(TokenizerTrainerTest, BadInputThrowsInputError) {
    gqa::NullProgress progress;
    auto missing = config("tokenizer.model");
    missing.inputFiles.push_back((m_folder / "absent.txt").string());
    try {
        gqa::trainSentencePieceBpe(missing, progress);
        ADD_FAILURE() << "no InputError";
    } catch (const gqa::InputError& e) {
        EXPECT_NE(std::string(e.what()).find("absent.txt"), std::string::npos) << e.what();
    }

    auto none = config("tokenizer.model");
    none.inputFiles.clear();
    EXPECT_THROW(gqa::trainSentencePieceBpe(none, progress), gqa::InputError);

    auto tooSmall = config("tokenizer.model");
    tooSmall.vocabSize = 100;
    EXPECT_THROW(gqa::trainSentencePieceBpe(tooSmall, progress), gqa::InputError);

    auto tooLarge = config("tokenizer.model");
    tooLarge.vocabSize = 100000;  // far more pieces than this small text can yield
    EXPECT_THROW(gqa::trainSentencePieceBpe(tooLarge, progress), gqa::InputError);
    EXPECT_FALSE(fs::exists(m_folder / "tokenizer.model"));
}

}  // namespace
