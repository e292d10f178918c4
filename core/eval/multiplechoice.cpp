// SPDX-License-Identifier: GPL-3.0-or-later
#include "eval/multiplechoice.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/jsonintegers.h"
#include "base/threadpolicy.h"

namespace gqa {
namespace {
using Json = nlohmann::json;

MultipleChoiceItem parseItem(const std::string& line, const std::string& where) {
    Json j;
    try {
        j = Json::parse(line);
    } catch (const Json::exception& e) {
        throw InputError(where + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw InputError(where + ": expected a JSON object");
    MultipleChoiceItem item;
    if (!j.contains("question") || !j["question"].is_string())
        throw InputError(where + ": \"question\" must be a string");
    item.question = j["question"].get<std::string>();
    const Json& choices = j.contains("choices") ? j["choices"] : Json();
    if (!choices.is_array() || choices.size() < 2)
        throw InputError(where + ": \"choices\" must be an array of at least 2 strings");
    for (const Json& c : choices) {
        if (!c.is_string() || c.get<std::string>().empty())
            throw InputError(where + ": every choice must be a non-empty string");
        item.choices.push_back(c.get<std::string>());
    }
    const Json& answer = j.contains("answer") ? j["answer"] : Json();
    if (answer.is_number_integer()) {
        const auto index = int64FromJson(answer);
        item.answer = index ? *index : -1;  // beyond int64: refused just below
        if (item.answer < 0 || item.answer >= std::int64_t(item.choices.size()))
            throw InputError(where + ": \"answer\" " + std::to_string(item.answer) +
                             " is not an index into the " + std::to_string(item.choices.size()) +
                             " choices");
    } else if (answer.is_string()) {
        const std::string text = answer.get<std::string>();
        std::size_t i = 0;
        while (i < item.choices.size() && item.choices[i] != text) ++i;
        if (i == item.choices.size())
            throw InputError(where + ": \"answer\" \"" + text + "\" is not one of the choices");
        item.answer = std::int64_t(i);
    } else {
        throw InputError(where + ": \"answer\" must be a choice index or a choice's text");
    }
    return item;
}

std::int64_t argmax(const std::vector<double>& v) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = i;  // ties keep the first, as numpy.argmax
    return std::int64_t(best);
}
}  // namespace

MultipleChoiceTask parseMultipleChoiceTask(const std::string& text, const std::string& origin) {
    MultipleChoiceTask task;
    task.path = origin;
    task.name = std::filesystem::path(origin).stem().string();
    std::istringstream lines(text);
    std::int64_t number = 0;
    for (std::string line; std::getline(lines, line);) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        MultipleChoiceItem item = parseItem(line, origin + ":" + std::to_string(number));
        item.line = number;
        task.items.push_back(std::move(item));
    }
    if (task.items.empty()) throw InputError(origin + ": no multiple-choice items");
    return task;
}

MultipleChoiceTask readMultipleChoiceTask(const std::string& path) {
    return parseMultipleChoiceTask(readTextFile(path), path);
}

double binaryMeanStderr(double p, std::int64_t n) {
    if (n < 2) return std::numeric_limits<double>::quiet_NaN();
    return std::sqrt(p * (1.0 - p) / double(n - 1));
}

std::vector<double> scoreContinuations(const DecoderModel& model,
                                       const std::vector<std::int64_t>& context,
                                       const std::vector<std::vector<std::int64_t>>& continuations,
                                       bool* truncated) {
    const std::int64_t maxPositions = model.config().maxPositionEmbeddings;
    const std::int64_t vocab = model.config().vocabSize;
    if (context.empty()) throw InputError("multiple choice: the context has no token");
    if (continuations.empty()) throw InputError("multiple choice: no continuation to score");
    if (truncated) *truncated = false;

    // Per row: the ids fed to the model (context + continuation without its last id, cut from the
    // left to at most maxPositions) and where the continuation starts among them.
    std::vector<std::vector<std::int64_t>> inputs;
    std::int64_t longest = 0;
    for (const auto& continuation : continuations) {
        const std::int64_t length = std::int64_t(continuation.size());
        if (length == 0) throw InputError("multiple choice: a choice encodes to no token");
        if (length > maxPositions)
            throw InputError("multiple choice: a choice of " + std::to_string(length) +
                             " tokens does not fit max_position_embeddings (" +
                             std::to_string(maxPositions) + ")");
        std::vector<std::int64_t> ids = context;
        ids.insert(ids.end(), continuation.begin(), continuation.end());
        for (std::int64_t id : ids)
            if (id < 0 || id >= vocab)
                throw InputError("multiple choice: token id " + std::to_string(id) +
                                 " is outside the model's vocabulary of " + std::to_string(vocab));
        const std::int64_t excess = std::int64_t(ids.size()) - (maxPositions + 1);
        if (excess > 0) {
            ids.erase(ids.begin(), ids.begin() + excess);
            if (truncated) *truncated = true;
        }
        ids.pop_back();
        longest = std::max<std::int64_t>(longest, ids.size());
        inputs.push_back(std::move(ids));
    }

    torch::NoGradGuard noGrad;
    const std::int64_t rows = std::int64_t(inputs.size());
    torch::Tensor batch = torch::zeros({rows, longest}, torch::kLong);  // right padding with id 0
    for (std::int64_t r = 0; r < rows; ++r)
        batch[r].slice(0, 0, inputs[r].size()).copy_(torch::tensor(inputs[r], torch::kLong));
    const torch::Tensor hidden = model.hiddenStates(batch);  // [rows, longest, D]

    std::vector<double> scores;
    for (std::int64_t r = 0; r < rows; ++r) {
        const auto& continuation = continuations[r];
        const std::int64_t length = std::int64_t(continuation.size());
        const std::int64_t end = std::int64_t(inputs[r].size());  // logits at j predict id j + 1
        torch::Tensor logits = torch::nn::functional::linear(hidden[r].slice(0, end - length, end),
                                                             model.lmHead, model.lmHeadBias);
        torch::Tensor logProbs = torch::log_softmax(logits.to(torch::kFloat64), -1);
        torch::Tensor targets = torch::tensor(continuation, torch::kLong).to(logProbs.device());
        scores.push_back(logProbs.gather(1, targets.unsqueeze(1)).sum().item<double>());
    }
    return scores;
}

MultipleChoiceResult evaluateMultipleChoice(const DecoderModel& model, const Tokenizer& tokenizer,
                                            const MultipleChoiceTask& task,
                                            ProgressSink& progress) {
    if (task.items.empty()) throw InputError(task.path + ": no multiple-choice items");
    useThreadsForModel(model.config().hiddenSize);
    const std::int64_t bos = model.config().bosTokenId.value_or(tokenizer.bosId());
    MultipleChoiceResult result;
    result.task = task.name;
    std::int64_t correct = 0, correctNorm = 0;
    for (const MultipleChoiceItem& item : task.items) {
        MultipleChoiceItemScore score;
        std::vector<std::int64_t> context = tokenizer.encode(item.question);
        if (context.empty()) context = {bos};
        std::vector<std::vector<std::int64_t>> continuations;
        for (const std::string& choice : item.choices) {
            continuations.push_back(tokenizer.encodePlain(choice));
            score.bytes.push_back(std::int64_t(choice.size()));
        }
        try {
            score.logLikelihoods =
                scoreContinuations(model, context, continuations, &score.truncated);
        } catch (const InputError& e) {
            throw InputError(task.path + ":" + std::to_string(item.line) + ": " + e.what());
        }
        std::vector<double> normalised;
        for (std::size_t i = 0; i < score.bytes.size(); ++i)
            normalised.push_back(score.logLikelihoods[i] / double(score.bytes[i]));
        score.predicted = argmax(score.logLikelihoods);
        score.predictedNorm = argmax(normalised);
        correct += score.predicted == item.answer;
        correctNorm += score.predictedNorm == item.answer;
        result.truncatedItems += score.truncated;
        result.items.push_back(std::move(score));
        const double done = double(result.items.size());
        reportOrCancel(progress, {done / double(task.items.size()),
                                  "multiple choice " + task.name,
                                  {{"acc", correct / done}, {"acc_norm", correctNorm / done}}});
    }
    result.n = std::int64_t(task.items.size());
    result.acc = double(correct) / double(result.n);
    result.accNorm = double(correctNorm) / double(result.n);
    result.accStderr = binaryMeanStderr(result.acc, result.n);
    result.accNormStderr = binaryMeanStderr(result.accNorm, result.n);
    if (result.truncatedItems > 0)
        result.warnings.push_back(task.name + ": " + std::to_string(result.truncatedItems) +
                                  " item(s) longer than max_position_embeddings (" +
                                  std::to_string(model.config().maxPositionEmbeddings) +
                                  "): their context was cut from the left");
    return result;
}

}  // namespace gqa
