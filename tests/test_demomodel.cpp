// SPDX-License-Identifier: GPL-3.0-or-later
// The committed demo model: its held-out perplexity matches its model card, and it writes
// English-looking text. Uses the held-out novel (Persuasion) from the corpus fetched by
// scripts/get-corpus.sh; skipped with a message when the corpus is absent.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "alignment/alignment.h"
#include "text/austencorpus.h"
#include "analysis/calibration.h"
#include "analysis/headanalysis.h"
#include "model/generation.h"
#include "eval/perplexity.h"
#include "testsupport.h"
#include "text/tokenizer.h"

namespace gqa::test {
namespace {
namespace fs = std::filesystem;

const fs::path kDemo = fs::path(GQA_SOURCE_DIR) / "resources" / "models" / "demo";
const fs::path kCorpus = fs::path(GQA_SOURCE_DIR) / "data" / "corpus" / "janeaustenr" / "Rdata.rdb";
/// Allowed relative deviation from the model card's perplexity (bf16 rounding and BLAS
/// differences between machines stay far below this; a wrong model or tokenizer does not).
constexpr double kPerplexityTolerance = 0.02;

std::string persuasionText() {
    for (const Novel& n : readAustenRdb(kCorpus.string()))
        if (n.title == kHeldOutNovel) {
            std::string text;
            for (const auto& line : n.lines) text += line + "\n";
            return text;
        }
    throw std::runtime_error("Persuasion not found in the corpus");
}

TEST(DemoModel, HeldOutPerplexityMatchesTheModelCard) {
    ASSERT_TRUE(fs::exists(kDemo / "config.json")) << "the demo model is missing: " << kDemo;
    if (!fs::exists(kCorpus)) GTEST_SKIP() << "corpus absent: run scripts/get-corpus.sh";
    const auto card = nlohmann::json::parse(readTextFile((kDemo / "evaluation.json").string()));
    const Checkpoint ck = Checkpoint::load(kDemo.string());
    DecoderModel model(ck, torch::kFloat32);
    auto tokens = Tokenizer::forModelFolder(kDemo.string(), ck.config).encode(persuasionText());
    tokens.resize(card["slice_tokens"].get<std::size_t>());
    NullProgress quiet;
    const auto r = perplexity(
        model, tokens, {card["context"].get<std::int64_t>(), card["stride"].get<std::int64_t>()},
        quiet);
    const double expected = card["slice_perplexity"].get<double>();
    EXPECT_NEAR(r.perplexity, expected, kPerplexityTolerance * expected);
}

TEST(DemoModel, GreedyGenerationLooksLikeEnglish) {
    ASSERT_TRUE(fs::exists(kDemo / "config.json")) << "the demo model is missing: " << kDemo;
    const Checkpoint ck = Checkpoint::load(kDemo.string());
    DecoderModel model(ck, torch::kFloat32);
    const Tokenizer tokenizer = Tokenizer::forModelFolder(kDemo.string(), ck.config);
    GenerationConfig config;
    config.maxNewTokens = 48;
    config.stopAtEos = false;
    NullProgress quiet;
    const std::string text = tokenizer.decode(
        generate(model, tokenizer.encode("It was a fine morning, and Elizabeth"), config, quiet)
            .newTokens);
    const auto letters = std::count_if(text.begin(), text.end(), [](unsigned char c) {
        return std::isalpha(c) || c == ' ' || c == ',' || c == '.' || c == '\'' || c == '\n';
    });
    EXPECT_GT(double(letters) / std::max<std::size_t>(1, text.size()), 0.9) << text;
    int common = 0;
    for (const char* word :
         {" the ", " and ", " of ", " to ", " a ", " her ", " was ", " she ", " he "})
        common += text.find(word) != std::string::npos;
    EXPECT_GE(common, 2) << "generated: " << text;
}

/// Calibration sequences from text written here (no corpus needed): BOS + 63 tokens each.
std::vector<std::vector<std::int64_t>> demoSequences(const Tokenizer& tokenizer) {
    const std::string text =
        "Mr. and Mrs. Morland lived in a small house near the church, and their daughter was fond "
        "of walking in the garden. She had read a great many books, and she was always ready to "
        "talk of them to anybody who would listen. Her brother came home from Oxford in the "
        "spring, "
        "bringing with him a friend whose manners were very agreeable, though his fortune was not "
        "large. The whole family was pleased with him, and the evening passed in cheerful "
        "conversation, music, and cards, until the carriage was ordered and the party broke up.";
    const auto ids = tokenizer.encodePlain(text);
    std::vector<std::vector<std::int64_t>> sequences;
    for (std::size_t start = 0; start + 63 <= ids.size(); start += 16) {
        std::vector<std::int64_t> s{tokenizer.bosId()};
        s.insert(s.end(), ids.begin() + start, ids.begin() + start + 63);
        sequences.push_back(s);
    }
    return sequences;
}

/// Alignment never lowers similarity (the identity is admissible), and the aligned, permuted model
/// computes the same function in float32.
TEST(DemoModel, AlignmentRaisesSimilarityAndKeepsLogits) {
    ASSERT_TRUE(fs::exists(kDemo / "config.json")) << "the demo model is missing: " << kDemo;
    const Checkpoint ck = Checkpoint::load(kDemo.string());
    const Tokenizer tokenizer = Tokenizer::forModelFolder(kDemo.string(), ck.config);
    DecoderModel model(ck, torch::kFloat32);
    const auto sequences = demoSequences(tokenizer);
    ASSERT_GE(sequences.size(), 4u);
    NullProgress quiet;
    const auto stats = calibrateTokens(model, sequences, 4, quiet);
    for (Criterion c : {Criterion::Dist, Criterion::Cos})
        for (const auto& layer : stats)
            for (HeadKind kind : {HeadKind::Keys, HeadKind::Values}) {
                const auto s =
                    headSimilarity(kind == HeadKind::Keys ? layer.keys : layer.values, kind, c);
                const double scale = std::max(1.0, s.before.abs().max().item<double>());
                EXPECT_GE((s.after - s.before).min().item<double>(), -1e-9 * scale)
                    << criterionName(c) << " " << headKindName(kind);
            }
    AnalysisConfig config;
    config.groupCounts = {2};
    const auto analysis = analyzeHeads(stats, config, quiet);
    Checkpoint f32 = ck;  // align in float32: bf16 storage would round the folded weights
    for (auto& [name, tensor] : f32.tensors) tensor = tensor.to(torch::kFloat32);
    f32.config.dtype = DType::F32;
    const Checkpoint aligned =
        alignCheckpoint(f32, planAlignment(stats, analysis, 2, false, AlignmentConfig{}));
    const torch::Tensor input = torch::tensor(sequences[0]).unsqueeze(0);
    EXPECT_LT(relativeMaxDiff(DecoderModel(aligned, torch::kFloat32).forward(input),
                              model.forward(input)),
              1e-4);
}

}  // namespace
}  // namespace gqa::test
