// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/distilldata.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "text/tokenizer.h"

namespace gqa {

namespace {
/// Label of a position that predicts nothing (PyTorch's cross-entropy ignore_index).
constexpr std::int64_t kIgnoreIndex = -100;
/// Lines between progress reports while tokenizing a jsonl file.
constexpr std::int64_t kReportEveryLines = 256;

/// A string field of a jsonl object; `required` false returns "" when it is absent or null.
std::string stringField(const nlohmann::json& doc, const char* name, bool required,
                        const std::string& where) {
    const auto it = doc.find(name);
    if (it == doc.end() || (!required && it->is_null())) {
        if (required) throw InputError(where + "missing field \"" + name + "\"");
        return {};
    }
    if (!it->is_string()) throw InputError(where + "field \"" + name + "\" is not a string");
    return it->get<std::string>();
}

/// A progress report of the jsonl reader.
ProgressUpdate tokenizingUpdate(double fraction, std::size_t examples) {
    ProgressUpdate update;
    update.fraction = fraction;
    update.stage = "tokenizing examples";
    update.metrics = {{"examples", double(examples)}};
    return update;
}

std::string plural(std::int64_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}
}  // namespace

DistillData DistillData::fromTokens(TokenDataset tokens, std::int64_t seqLen) {
    if (seqLen < 1) throw InputError("the sequence length must be >= 1");
    if (tokens.size() < seqLen + 1)
        throw InputError(
            "the token stream has " + std::to_string(tokens.size()) +
            " tokens; a window needs sequence length + 1 = " + std::to_string(seqLen + 1));
    DistillData data;
    data.m_plainText = true;
    data.m_seqLen = seqLen;
    data.m_maxId = tokens.maxId();
    data.m_tokens = std::move(tokens);
    return data;
}

DistillData DistillData::fromJsonl(const std::string& path, const Tokenizer& tokenizer,
                                   std::int64_t maxLen, ProgressSink& progress) {
    if (maxLen < 2) throw InputError("the maximum example length must be >= 2 tokens");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open (no such file or not readable)");
    std::error_code sizeError;
    const double bytes = double(std::filesystem::file_size(path, sizeError));
    reportOrCancel(progress, tokenizingUpdate(0.0, 0));

    DistillData data;
    data.m_padId = tokenizer.eosId();
    data.m_maxId = tokenizer.eosId();
    data.m_offsets.push_back(0);
    std::int64_t truncated = 0, promptDropped = 0, skipped = 0;
    std::string line;
    for (std::int64_t lineNo = 1; std::getline(in, line); ++lineNo) {
        if (lineNo == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;       // blank line
        const std::string where = path + ":" + std::to_string(lineNo) + ": ";
        nlohmann::json doc;
        try {
            doc = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception&) {
            throw InputError(where +
                             "not valid JSON (expected one {\"instruction\", \"input\", "
                             "\"output\"} object per line)");
        }
        if (!doc.is_object())
            throw InputError(where + "expected an object with \"input\" and \"output\" fields");
        const std::string prompt =
            stringField(doc, "instruction", false, where) + stringField(doc, "input", true, where);
        const std::string output = stringField(doc, "output", true, where);

        std::vector<std::int64_t> promptIds = tokenizer.encodePlain(prompt);
        std::vector<std::int64_t> answerIds = tokenizer.encodePlain(output);
        answerIds.push_back(tokenizer.eosId());
        const auto p = std::int64_t(promptIds.size()), a = std::int64_t(answerIds.size());
        std::int64_t keepPrompt = p, keepAnswer = a;
        if (p + a > maxLen) {
            ++truncated;
            keepPrompt = p > 0 ? std::clamp<std::int64_t>(maxLen - a, 1, p) : 0;
            keepAnswer = std::min(a, maxLen - keepPrompt);
            if (keepAnswer < a) ++promptDropped;
        }
        if (keepPrompt + keepAnswer < 2) {
            ++skipped;
            continue;
        }
        data.m_ids.insert(data.m_ids.end(), promptIds.end() - keepPrompt, promptIds.end());
        data.m_ids.insert(data.m_ids.end(), answerIds.begin(), answerIds.begin() + keepAnswer);
        data.m_offsets.push_back(std::int64_t(data.m_ids.size()));
        data.m_prompts.push_back(keepPrompt);
        data.m_seqLen = std::max(data.m_seqLen, keepPrompt + keepAnswer - 1);

        if (lineNo % kReportEveryLines == 0) {
            const double done = bytes > 0 ? std::min(1.0, double(in.tellg()) / bytes) : 0.0;
            reportOrCancel(progress, tokenizingUpdate(done, data.m_prompts.size()));
        }
    }
    if (in.bad()) throw InputError(path + ": read error");
    if (data.m_prompts.empty())
        throw InputError(path +
                         ": no examples (expected one {\"instruction\", \"input\", "
                         "\"output\"} object per line)");
    for (std::int64_t id : data.m_ids) data.m_maxId = std::max(data.m_maxId, id);

    if (truncated > 0)
        data.m_warnings.push_back(
            plural(truncated, "example") + " longer than " + std::to_string(maxLen) +
            " tokens were truncated (the prompt loses its beginning" +
            (promptDropped > 0 ? "; " + plural(promptDropped, "answer") + " had to be cut too"
                               : std::string()) +
            ")");
    if (skipped > 0)
        data.m_warnings.push_back(plural(skipped, "example") +
                                  " with fewer than 2 tokens were skipped (nothing to predict)");
    reportOrCancel(progress, tokenizingUpdate(1.0, data.m_prompts.size()));
    return data;
}

DistillBatch DistillData::sample(std::int64_t batch, torch::Generator& generator) const {
    if (batch < 1) throw InputError("the batch size must be >= 1");
    if (m_plainText) return plainTextBatch(m_tokens.sampleBatch(batch, m_seqLen, generator));
    if (examples() == 0) throw InputError("no distillation examples to sample from");
    const torch::Tensor drawn = torch::randint(0, examples(), {batch}, generator, torch::kLong);
    return exampleBatch(std::vector<std::int64_t>(drawn.data_ptr<std::int64_t>(),
                                                  drawn.data_ptr<std::int64_t>() + drawn.numel()));
}

std::vector<DistillBatch> DistillData::fixedBatches(std::int64_t batch,
                                                    std::int64_t maxBatches) const {
    std::vector<DistillBatch> batches;
    if (batch < 1) return batches;
    if (m_plainText) {
        for (const TokenBatch& windows : m_tokens.fixedBatches(batch, m_seqLen, maxBatches))
            batches.push_back(plainTextBatch(windows));
        return batches;
    }
    for (std::int64_t first = 0; first < examples(); first += batch) {
        if (maxBatches > 0 && std::int64_t(batches.size()) >= maxBatches) break;
        std::vector<std::int64_t> indices;
        for (std::int64_t i = first; i < std::min(first + batch, examples()); ++i)
            indices.push_back(i);
        batches.push_back(exampleBatch(indices));
    }
    return batches;
}

std::int64_t DistillData::examples() const {
    if (m_plainText) return (m_tokens.size() - 1) / m_seqLen;
    return std::int64_t(m_prompts.size());
}

std::int64_t DistillData::maxId() const { return m_maxId; }

std::vector<std::int64_t> DistillData::exampleTokens(std::int64_t i) const {
    if (m_plainText || i < 0 || i >= examples()) throw Error("DistillData: no such example");
    return {m_ids.begin() + m_offsets[i], m_ids.begin() + m_offsets[i + 1]};
}

std::int64_t DistillData::promptLength(std::int64_t i) const {
    if (m_plainText || i < 0 || i >= examples()) throw Error("DistillData: no such example");
    return m_prompts[i];
}

DistillBatch DistillData::plainTextBatch(const TokenBatch& windows) const {
    const torch::Tensor ones = torch::ones(windows.inputs.sizes(), torch::kFloat);
    return {windows.inputs, windows.targets, ones, ones.clone(), ones.clone()};
}

DistillBatch DistillData::exampleBatch(const std::vector<std::int64_t>& indices) const {
    const auto B = std::int64_t(indices.size());
    std::int64_t T = 1;
    for (std::int64_t i : indices) T = std::max(T, m_offsets[i + 1] - m_offsets[i] - 1);
    torch::Tensor inputs = torch::full({B, T}, m_padId, torch::kLong);
    torch::Tensor targets = torch::full({B, T}, kIgnoreIndex, torch::kLong);
    torch::Tensor klMask = torch::zeros({B, T}, torch::kFloat);
    torch::Tensor answerMask = torch::zeros({B, T}, torch::kFloat);
    auto in = inputs.accessor<std::int64_t, 2>(), out = targets.accessor<std::int64_t, 2>();
    auto kl = klMask.accessor<float, 2>(), answer = answerMask.accessor<float, 2>();
    for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t* s = m_ids.data() + m_offsets[indices[b]];
        const std::int64_t n = m_offsets[indices[b] + 1] - m_offsets[indices[b]];
        const std::int64_t prompt = m_prompts[indices[b]];
        for (std::int64_t t = 0; t + 1 < n; ++t) {
            in[b][t] = s[t];
            out[b][t] = s[t + 1];
            (t + 1 < prompt ? kl : answer)[b][t] = 1.0f;
        }
    }
    return {inputs, targets, klMask, answerMask, answerMask.clone()};
}

}  // namespace gqa
