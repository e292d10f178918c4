// SPDX-License-Identifier: GPL-3.0-or-later
// The conversion training's data: plain-text windows with every mask on; the reference's
// prompt/answer jsonl with its masks at the positions the tokenization implies, no BOS, errors
// naming the line, truncation; reproducible sampling and right padding.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "training/distilldata.h"
#include "base/error.h"
#include "testsupport.h"
#include "text/tokenizer.h"

namespace gqa::test {
namespace {

Tokenizer tinyTokenizer() {
    return Tokenizer::load(sharedTinyTokenizerFolder() + "/tokenizer.model");
}

std::string writeFile(const std::string& name, const std::string& content) {
    const std::string path = scratchFolder("distilldata") + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

/// The InputError message of loading `content`, or "" when it loads.
std::string loadError(const std::string& name, const std::string& content) {
    NullProgress quiet;
    try {
        DistillData::fromJsonl(writeFile(name, content), tinyTokenizer(), 512, quiet);
    } catch (const InputError& e) {
        return e.what();
    }
    return {};
}

std::vector<std::int64_t> concat(std::vector<std::int64_t> a, const std::vector<std::int64_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

bool sameBatch(const DistillBatch& a, const DistillBatch& b) {
    return torch::equal(a.inputs, b.inputs) && torch::equal(a.targets, b.targets) &&
           torch::equal(a.klMask, b.klMask) && torch::equal(a.bildMask, b.bildMask) &&
           torch::equal(a.lmMask, b.lmMask);
}

TEST(DistillData, PlainTextWindowsHaveEveryMaskOn) {
    std::vector<std::int64_t> ids(200);
    for (std::int64_t i = 0; i < 200; ++i) ids[i] = i;
    const DistillData data = DistillData::fromTokens(TokenDataset(ids), 10);
    EXPECT_TRUE(data.isPlainText());
    EXPECT_EQ(data.examples(), 19);  // (200 - 1) / 10 whole windows
    EXPECT_EQ(data.maxId(), 199);
    auto g1 = at::detail::createCPUGenerator(3), g2 = at::detail::createCPUGenerator(3);
    const DistillBatch a = data.sample(4, g1);
    EXPECT_EQ(a.inputs.sizes(), (std::vector<std::int64_t>{4, 10}));
    EXPECT_TRUE(torch::equal(a.targets, a.inputs + 1));  // ids[i] = i
    for (const torch::Tensor* m : {&a.klMask, &a.bildMask, &a.lmMask}) {
        EXPECT_EQ(m->sizes(), a.inputs.sizes());
        EXPECT_TRUE(torch::equal(*m, torch::ones({4, 10})));
    }
    EXPECT_EQ(a.tokens(), 40);
    EXPECT_TRUE(sameBatch(a, data.sample(4, g2)));
    const auto fixed = data.fixedBatches(8, 0);
    ASSERT_EQ(fixed.size(), 3u);  // 8 + 8 + 3 windows
    EXPECT_EQ(fixed[1].inputs[0][0].item<std::int64_t>(), 80);
    EXPECT_EQ(data.fixedBatches(8, 2).size(), 2u);
    EXPECT_THROW(DistillData::fromTokens(TokenDataset(std::vector<std::int64_t>{1, 2, 3}), 5),
                 InputError);
}

TEST(DistillData, JsonlMasksFollowThePromptAndAnswerTokens) {
    const Tokenizer tok = tinyTokenizer();
    const std::string path = writeFile(
        "train.jsonl",
        "{\"instruction\": \"the cat \", \"input\": \"sat on the mat\", \"output\": \"the dog\"}\n"
        "\n"
        "{\"input\": \"a house\", \"output\": \"quickly\"}\r\n"
        "{\"instruction\": null, \"input\": \"\", \"output\": \"the garden and the house\"}\n");
    NullProgress quiet;
    const DistillData data = DistillData::fromJsonl(path, tok, 512, quiet);
    ASSERT_EQ(data.examples(), 3);
    EXPECT_FALSE(data.isPlainText());
    EXPECT_TRUE(data.warnings().empty());
    const std::vector<std::pair<std::string, std::string>> expected{
        {"the cat sat on the mat", "the dog"},
        {"a house", "quickly"},
        {"", "the garden and the house"}};
    const std::vector<DistillBatch> batches = data.fixedBatches(8, 0);
    ASSERT_EQ(batches.size(), 1u);
    const DistillBatch& batch = batches[0];
    std::int64_t longest = 0, predicted = 0;
    for (std::int64_t b = 0; b < 3; ++b) {
        SCOPED_TRACE("example " + std::to_string(b));
        const std::vector<std::int64_t> prompt = tok.encodePlain(expected[b].first);
        const std::vector<std::int64_t> s =
            concat(prompt, concat(tok.encodePlain(expected[b].second), {tok.eosId()}));
        const auto p = std::int64_t(prompt.size()), n = std::int64_t(s.size());
        EXPECT_EQ(data.exampleTokens(b), s);
        EXPECT_EQ(data.promptLength(b), p);
        EXPECT_NE(s[0], tok.bosId());  // no BOS in training
        longest = std::max(longest, n - 1);
        predicted += n - 1;
        for (std::int64_t t = 0; t < batch.inputs.size(1); ++t) {
            const bool real = t + 1 < n;
            EXPECT_EQ(batch.inputs[b][t].item<std::int64_t>(), real ? s[t] : tok.eosId());
            EXPECT_EQ(batch.targets[b][t].item<std::int64_t>(), real ? s[t + 1] : -100);
            EXPECT_EQ(batch.klMask[b][t].item<float>(), real && t + 1 < p ? 1.0f : 0.0f) << t;
            EXPECT_EQ(batch.bildMask[b][t].item<float>(), real && t + 1 >= p ? 1.0f : 0.0f) << t;
            EXPECT_EQ(batch.lmMask[b][t].item<float>(), batch.bildMask[b][t].item<float>());
        }
    }
    EXPECT_GT(data.promptLength(0), 3);  // the test does look at prompt positions
    EXPECT_EQ(batch.inputs.size(1), longest);
    EXPECT_EQ(batch.tokens(), predicted);
    EXPECT_EQ(batch.klMask.sum().item<float>() + batch.bildMask.sum().item<float>(),
              float(predicted));
    EXPECT_EQ(data.maxId(), std::max(tok.eosId(), batch.inputs.max().item<std::int64_t>()));
}

TEST(DistillData, JsonlErrorsNameTheFileAndLine) {
    const std::string good = "{\"input\": \"the cat\", \"output\": \"sat\"}\n";
    std::string message = loadError("bad.jsonl", good + good + "{\"input\": \"the\", \n" + good);
    EXPECT_NE(message.find("bad.jsonl:3:"), std::string::npos) << message;
    message = loadError("missing.jsonl", good + "{\"input\": \"the dog\"}\n");
    EXPECT_NE(message.find("missing.jsonl:2:"), std::string::npos) << message;
    EXPECT_NE(message.find("\"output\""), std::string::npos) << message;
    message = loadError("noinput.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n");
    EXPECT_NE(message.find("noinput.jsonl:1:"), std::string::npos) << message;
    EXPECT_NE(message.find("\"input\""), std::string::npos) << message;
    message = loadError("number.jsonl", good + "\n" + "{\"input\": \"a\", \"output\": 3}\n");
    EXPECT_NE(message.find("number.jsonl:3:"), std::string::npos) << message;
    message = loadError("array.jsonl", "[1, 2]\n");
    EXPECT_NE(message.find("array.jsonl:1:"), std::string::npos) << message;
    EXPECT_NE(loadError("empty.jsonl", "").find("empty.jsonl"), std::string::npos);
    EXPECT_NE(loadError("blank.jsonl", "\n  \n").find("no examples"), std::string::npos);
    EXPECT_EQ(loadError("fine.jsonl", good), "");
    NullProgress quiet;
    EXPECT_THROW(DistillData::fromJsonl("/nonexistent/x.jsonl", tinyTokenizer(), 512, quiet),
                 InputError);
}

TEST(DistillData, LongExamplesAreTruncatedKeepingTheAnswer) {
    const Tokenizer tok = tinyTokenizer();
    const std::string longPrompt = "the cat sat on the mat and the dog ran to the house quickly";
    const std::vector<std::int64_t> prompt = tok.encodePlain(longPrompt);
    const std::vector<std::int64_t> answer = concat(tok.encodePlain("the garden"), {tok.eosId()});
    const auto a = std::int64_t(answer.size());
    const std::int64_t maxLen = a + 3;
    ASSERT_GT(std::int64_t(prompt.size()), maxLen);
    const std::string path = writeFile(
        "long.jsonl", "{\"input\": \"" + longPrompt + "\", \"output\": \"the garden\"}\n" +
                          "{\"input\": \"a\", \"output\": \"" + longPrompt + "\"}\n" +
                          "{\"input\": \"a\", \"output\": \"b\"}\n");
    NullProgress quiet;
    const DistillData data = DistillData::fromJsonl(path, tok, maxLen, quiet);
    ASSERT_EQ(data.examples(), 3);
    // The prompt keeps its last three tokens, the answer is whole.
    EXPECT_EQ(data.exampleTokens(0),
              concat(std::vector<std::int64_t>(prompt.end() - 3, prompt.end()), answer));
    EXPECT_EQ(data.promptLength(0), 3);
    // An answer too long to fit keeps one prompt token and its own beginning.
    const std::vector<std::int64_t> second = data.exampleTokens(1);
    EXPECT_EQ(std::int64_t(second.size()), maxLen);
    EXPECT_EQ(data.promptLength(1), 1);
    EXPECT_EQ(std::vector<std::int64_t>(second.begin() + 1, second.end()),
              std::vector<std::int64_t>(prompt.begin(), prompt.begin() + maxLen - 1));
    EXPECT_LE(data.seqLen(), maxLen - 1);
    ASSERT_EQ(data.warnings().size(), 1u);
    EXPECT_NE(data.warnings()[0].find("2 examples"), std::string::npos) << data.warnings()[0];
    EXPECT_NE(data.warnings()[0].find("truncated"), std::string::npos) << data.warnings()[0];
    EXPECT_NE(data.warnings()[0].find("1 answer "), std::string::npos) << data.warnings()[0];
}

TEST(DistillData, SamplingIsReproducibleAndPadsWithIgnoredTargets) {
    const std::string path =
        writeFile("mixed.jsonl",
                  "{\"input\": \"the cat sat on the mat and the dog\", \"output\": \"ran\"}\n"
                  "{\"input\": \"a\", \"output\": \"house\"}\n"
                  "{\"instruction\": \"the \", \"input\": \"garden\", \"output\": \"slowly over "
                  "the mat\"}\n");
    NullProgress quiet;
    const DistillData data = DistillData::fromJsonl(path, tinyTokenizer(), 512, quiet);
    auto g1 = at::detail::createCPUGenerator(5), g2 = at::detail::createCPUGenerator(5);
    auto g3 = at::detail::createCPUGenerator(6);
    const DistillBatch a = data.sample(16, g1);
    EXPECT_TRUE(sameBatch(a, data.sample(16, g2)));
    EXPECT_FALSE(sameBatch(a, data.sample(16, g3)));
    // Restoring the generator's state replays the next batch.
    const torch::Tensor state = g1.get_state();
    const DistillBatch next = data.sample(16, g1);
    g2.set_state(state);
    EXPECT_TRUE(sameBatch(next, data.sample(16, g2)));

    const torch::Tensor pad = a.targets == -100;
    EXPECT_GT(pad.sum().item<std::int64_t>(), 0);  // examples of different lengths
    for (const torch::Tensor* m : {&a.klMask, &a.bildMask, &a.lmMask})
        EXPECT_EQ(m->masked_select(pad).abs().sum().item<float>(), 0.0f);
    // Every real position is either a prompt (KL) or an answer (BiLD) position.
    EXPECT_TRUE(torch::equal((a.klMask + a.bildMask).masked_select(~pad),
                             torch::ones({(~pad).sum().item<std::int64_t>()})));
    EXPECT_TRUE(torch::equal(a.lmMask, a.bildMask));
    // Padding comes after the real positions in each row.
    for (std::int64_t b = 0; b < a.targets.size(0); ++b) {
        const std::int64_t real = (~pad[b]).sum().item<std::int64_t>();
        EXPECT_EQ(pad[b].slice(0, 0, real).sum().item<std::int64_t>(), 0);
    }
}

}  // namespace
}  // namespace gqa::test
