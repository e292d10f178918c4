// SPDX-License-Identifier: GPL-3.0-or-later
// Multiple-choice scoring against log-probabilities computed independently (one plain forward
// over the concatenated ids, log_softmax), the harness's acc/acc_norm choice and standard error,
// and the task file's refusals with line numbers.
#include <cmath>

#include "base/error.h"
#include "eval/multiplechoice.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

/// A float64 tiny model whose vocabulary matches a trained 300-piece tokenizer.
struct Fixture {
    explicit Fixture(std::int64_t maxPositions = 128)
        : folder(scratchFolder("mc")),
          tokenizer(trainedTokenizer(folder)),
          model(checkpoint(tokenizer.vocabSize(), maxPositions), torch::kFloat64) {}

    static Tokenizer trainedTokenizer(const std::string& folder) {
        trainTinyTokenizer(folder, corpus());
        return Tokenizer::load(folder + "/tokenizer.model");
    }

    static std::string corpus() {
        std::string text;
        for (int i = 0; i < 300; ++i)
            text += "the cat sat on the mat and the dog ran to the garden " + std::to_string(i) +
                    " times, then the bird flew over the house\n";
        return text;
    }
    static Checkpoint checkpoint(std::int64_t vocab, std::int64_t maxPositions) {
        ModelConfig c = tinyConfig();
        c.vocabSize = vocab;
        c.maxPositionEmbeddings = maxPositions;
        return randomCheckpoint(c, 11);
    }

    std::string folder;
    Tokenizer tokenizer;
    DecoderModel model;
};

/// sum_j log p(ids[j] | ids[..j]) over the last `length` ids, from one forward over ids[..-1].
double independentScore(const DecoderModel& m, const std::vector<std::int64_t>& ids,
                        std::size_t length) {
    std::vector<std::int64_t> input(ids.begin(), ids.end() - 1);
    torch::Tensor logProbs =
        torch::log_softmax(m.forward(torch::tensor(input).unsqueeze(0))[0], -1);
    double sum = 0;
    for (std::size_t j = ids.size() - length; j < ids.size(); ++j)
        sum += logProbs[j - 1][ids[j]].item<double>();
    return sum;
}

std::vector<std::int64_t> concat(std::vector<std::int64_t> a, const std::vector<std::int64_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(MultipleChoice, ScoresAreSummedLogProbabilitiesOfTheChoiceTokens) {
    Fixture f;
    const std::string question = "Question: where did the dog run?\nAnswer:";
    const std::vector<std::string> choices{"to the garden", "mat", "over the house and the cat"};
    MultipleChoiceTask task;
    task.name = "t";
    task.items.push_back({question, choices, 0, 1});
    NullProgress quiet;
    const auto r = evaluateMultipleChoice(f.model, f.tokenizer, task, quiet);
    ASSERT_EQ(r.items.size(), 1u);
    const std::vector<std::int64_t> context = f.tokenizer.encode(question);
    ASSERT_EQ(context.front(), f.tokenizer.bosId());  // BOS only at the start
    for (std::size_t i = 0; i < choices.size(); ++i) {
        const auto continuation = f.tokenizer.encodePlain(choices[i]);
        const double expected =
            independentScore(f.model, concat(context, continuation), continuation.size());
        // Choices of different lengths share one right-padded batch: padding must not matter.
        EXPECT_NEAR(r.items[0].logLikelihoods[i], expected, 1e-9) << choices[i];
        EXPECT_EQ(r.items[0].bytes[i], std::int64_t(choices[i].size()));
        // The dummy prefix plays the harness's " " delimiter: the ids are those of the whole text.
        EXPECT_EQ(concat(context, continuation), f.tokenizer.encode(question + " " + choices[i]));
    }
    EXPECT_FALSE(r.items[0].truncated);
}

TEST(MultipleChoice, LengthNormalisationByBytesCanFlipTheAnswer) {
    Fixture f;
    // A 1-byte choice against a 60-byte one: the long one has the smaller sum (many more tokens)
    // but, at well under one token per byte, the larger sum per byte.
    const std::string question = "the bird flew";
    const std::vector<std::string> choices{
        "x", "over the house and the cat sat on the mat and the dog ran"};
    const auto context = f.tokenizer.encode(question);
    std::vector<double> sums, perByte;
    for (const auto& c : choices) {
        const auto cont = f.tokenizer.encodePlain(c);
        sums.push_back(independentScore(f.model, concat(context, cont), cont.size()));
        perByte.push_back(sums.back() / double(c.size()));
    }
    ASSERT_GT(sums[0], sums[1]) << "construction: the sum must prefer the short choice";
    ASSERT_GT(perByte[1], perByte[0]) << "construction: per byte must prefer the long choice";

    // Item 1: answer is the long choice (index); item 2: the same, answer given as its text.
    const std::string text = "{\"question\": \"the bird flew\", \"choices\": [\"x\", \"" +
                             choices[1] +
                             "\"], \"answer\": 1}\n"
                             "{\"question\": \"the bird flew\", \"choices\": [\"x\", \"" +
                             choices[1] + "\"], \"answer\": \"x\"}\n";
    const auto task = parseMultipleChoiceTask(text, "flip.jsonl");
    EXPECT_EQ(task.name, "flip");
    EXPECT_EQ(task.items[1].answer, 0);
    NullProgress quiet;
    const auto r = evaluateMultipleChoice(f.model, f.tokenizer, task, quiet);
    for (const auto& item : r.items) {
        EXPECT_EQ(item.predicted, 0);
        EXPECT_EQ(item.predictedNorm, 1);
    }
    EXPECT_EQ(r.n, 2);
    EXPECT_DOUBLE_EQ(r.acc, 0.5);        // item 2 right by sum
    EXPECT_DOUBLE_EQ(r.accNorm, 0.5);    // item 1 right per byte
    EXPECT_DOUBLE_EQ(r.accStderr, 0.5);  // sqrt(0.25 / (2 - 1))
}

TEST(MultipleChoice, LongItemsKeepTheLastMaxPositionsPlusOneIds) {
    Fixture f(/*maxPositions=*/12);
    std::string question;
    for (int i = 0; i < 8; ++i) question += "the cat sat on the mat ";
    const std::vector<std::string> choices{"to the garden", "over the house"};
    const auto context = f.tokenizer.encode(question);
    ASSERT_GT(context.size(), 13u);
    bool truncated = false;
    std::vector<std::vector<std::int64_t>> conts;
    for (const auto& c : choices) conts.push_back(f.tokenizer.encodePlain(c));
    const auto scores = scoreContinuations(f.model, context, conts, &truncated);
    EXPECT_TRUE(truncated);
    for (std::size_t i = 0; i < conts.size(); ++i) {
        auto ids = concat(context, conts[i]);
        ids.erase(ids.begin(), ids.end() - 13);  // max positions + 1
        EXPECT_NEAR(scores[i], independentScore(f.model, ids, conts[i].size()), 1e-9);
    }
    MultipleChoiceTask task;
    task.name = "long";
    task.path = "long.jsonl";
    task.items.push_back({question, choices, 0, 1});
    NullProgress quiet;
    const auto r = evaluateMultipleChoice(f.model, f.tokenizer, task, quiet);
    EXPECT_EQ(r.truncatedItems, 1);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find("max_position_embeddings"), std::string::npos);

    // A choice that alone exceeds the context is refused, naming the file and line.
    task.items[0].choices[1] = question;
    task.items[0].line = 7;
    try {
        evaluateMultipleChoice(f.model, f.tokenizer, task, quiet);
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("long.jsonl:7"), std::string::npos) << e.what();
    }
}

TEST(MultipleChoice, CancelStopsBetweenItems) {
    Fixture f;
    struct Stop : ProgressSink {
        bool report(const ProgressUpdate&) override { return false; }
    } stop;
    MultipleChoiceTask task;
    task.items.push_back({"the cat", {"sat", "ran"}, 0, 1});
    task.items.push_back({"the dog", {"sat", "ran"}, 1, 2});
    EXPECT_THROW(evaluateMultipleChoice(f.model, f.tokenizer, task, stop), Cancelled);
}

TEST(MultipleChoice, StandardErrorIsTheHarnessSampleFormula) {
    EXPECT_NEAR(binaryMeanStderr(0.25, 5), std::sqrt(0.25 * 0.75 / 4), 1e-15);
    EXPECT_TRUE(std::isnan(binaryMeanStderr(1.0, 1)));
}

TEST(MultipleChoice, TaskFileRefusesBadLinesWithTheirLineNumber) {
    const std::string good = R"({"question": "q", "choices": ["a", "b"], "answer": 1})";
    const std::vector<std::pair<std::string, std::string>> bad{
        {"{not json", "not valid JSON"},
        {"[1, 2]", "JSON object"},
        {R"({"choices": ["a", "b"], "answer": 0})", "question"},
        {R"({"question": 3, "choices": ["a", "b"], "answer": 0})", "question"},
        {R"({"question": "q", "choices": ["a"], "answer": 0})", "at least 2"},
        {R"({"question": "q", "choices": "ab", "answer": 0})", "at least 2"},
        {R"({"question": "q", "choices": ["a", ""], "answer": 0})", "non-empty"},
        {R"({"question": "q", "choices": ["a", 2], "answer": 0})", "non-empty"},
        {R"({"question": "q", "choices": ["a", "b"], "answer": 2})", "not an index"},
        {R"({"question": "q", "choices": ["a", "b"], "answer": -1})", "not an index"},
        {R"({"question": "q", "choices": ["a", "b"], "answer": "c"})", "not one of the choices"},
        {R"({"question": "q", "choices": ["a", "b"], "answer": 1.5})", "answer"},
        {R"({"question": "q", "choices": ["a", "b"]})", "answer"},
    };
    for (const auto& [line, message] : bad) {
        try {
            parseMultipleChoiceTask(good + "\n\n" + line + "\n" + good + "\n", "task.jsonl");
            ADD_FAILURE() << "accepted: " << line;
        } catch (const InputError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("task.jsonl:3: "), std::string::npos) << what;
            EXPECT_NE(what.find(message), std::string::npos) << what;
        }
    }
    EXPECT_THROW(parseMultipleChoiceTask("\n  \n", "empty.jsonl"), InputError);
    EXPECT_THROW(readMultipleChoiceTask("/nonexistent/task.jsonl"), InputError);
    // Blank lines are skipped, CRLF accepted, unknown fields ignored, the line numbers kept.
    const auto task = parseMultipleChoiceTask(
        "\n" + good + "\r\n" + R"({"id": 9, "question": "", "choices": ["x", "y"], "answer": "y"})",
        "ok.jsonl");
    ASSERT_EQ(task.items.size(), 2u);
    EXPECT_EQ(task.items[0].line, 2);
    EXPECT_EQ(task.items[1].line, 3);
    EXPECT_EQ(task.items[1].answer, 1);
}

TEST(MultipleChoice, EmptyQuestionIsConditionedOnBos) {
    Fixture f;
    f.tokenizer.setAddsBos(false);
    MultipleChoiceTask task;
    task.items.push_back({"", {"the cat", "the dog ran"}, 0, 1});
    NullProgress quiet;
    const auto r = evaluateMultipleChoice(f.model, f.tokenizer, task, quiet);
    const auto cont = f.tokenizer.encodePlain("the cat");
    EXPECT_NEAR(r.items[0].logLikelihoods[0],
                independentScore(f.model, concat({f.tokenizer.bosId()}, cont), cont.size()), 1e-9);
}

}  // namespace
}  // namespace gqa::test
