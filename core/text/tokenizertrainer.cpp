// SPDX-License-Identifier: GPL-3.0-or-later
#include "text/tokenizertrainer.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "base/error.h"
#include "text/sentencepieceplugin.h"

namespace gqa {

namespace {

// Any fixed value: BPE training without sampling draws no random numbers, this only guards
// against a SentencePiece path that would.
constexpr unsigned int kTrainingSeed = 20240101;
// Byte pieces plus <unk>, <s>, </s>: the smallest vocabulary byte fallback leaves room for.
constexpr int kMinVocabSize = 256 + 3;
// Fractions of the progress bar: reading the text is quick, training is nearly all of it.
constexpr double kReadShare = 0.05;
constexpr double kTrainedFraction = 0.95;

std::vector<std::pair<std::string, std::string>> trainerOptions(int vocabSize) {
    return {
        {"model_type", "bpe"},
        {"vocab_size", std::to_string(vocabSize)},
        {"byte_fallback", "true"},
        {"character_coverage", "1.0"},
        {"unk_id", "0"},
        {"bos_id", "1"},
        {"eos_id", "2"},
        {"pad_id", "-1"},
        // Determinism: every sentence, in order, on one thread.
        {"input_sentence_size", "0"},
        {"shuffle_input_sentence", "false"},
        {"num_threads", "1"},
        // Llama-style pieces: text is kept byte for byte so decoding restores it exactly.
        {"normalization_rule_name", "identity"},
        {"remove_extra_whitespaces", "false"},
        {"add_dummy_prefix", "true"},
        {"split_digits", "true"},
        {"allow_whitespace_only_pieces", "true"},
        // Only warnings and errors on stderr, not SentencePiece's per-step log.
        {"minloglevel", "1"},
    };
}

}  // namespace

void trainSentencePieceBpe(const TokenizerTrainConfig& config, ProgressSink& progress) {
    namespace fs = std::filesystem;
    if (config.inputFiles.empty()) throw InputError("tokenizer training: no input text files");
    if (config.outputModel.empty()) throw InputError("tokenizer training: no output model path");
    if (config.vocabSize < kMinVocabSize)
        throw InputError("tokenizer training: vocabulary size " + std::to_string(config.vocabSize) +
                         " is below the minimum " + std::to_string(kMinVocabSize) +
                         " (256 byte pieces and 3 specials)");

    std::vector<std::string> lines;
    const double fileCount = double(config.inputFiles.size());
    for (std::size_t i = 0; i < config.inputFiles.size(); ++i) {
        const std::string& file = config.inputFiles[i];
        reportOrCancel(progress, {kReadShare * double(i) / fileCount, "reading " + file, {}});
        std::ifstream in(file, std::ios::binary);
        if (!in) throw InputError(file + ": cannot open tokenizer training text");
        for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
        if (in.bad()) throw InputError(file + ": read error");
    }
    reportOrCancel(progress, {kReadShare,
                              "training tokenizer (cannot be interrupted)",
                              {{"lines", double(lines.size())}}});

    const auto start = std::chrono::steady_clock::now();
    std::string serialized;
    try {
        serialized = spm::train(lines, trainerOptions(config.vocabSize), kTrainingSeed);
    } catch (const InputError& e) {
        throw InputError("tokenizer training (vocabulary " + std::to_string(config.vocabSize) +
                         "): " + e.what());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    reportOrCancel(progress,
                   {kTrainedFraction, "writing " + config.outputModel, {{"seconds", seconds}}});

    const fs::path target(config.outputModel);
    const fs::path temp = target.string() + ".tmp";
    std::error_code ec;
    if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(serialized.data(), std::streamsize(serialized.size()));
        out.flush();
        if (!out) {
            fs::remove(temp, ec);
            throw InputError(config.outputModel + ": cannot write tokenizer model");
        }
    }
    fs::rename(temp, target, ec);
    if (ec) {
        const std::string reason = ec.message();
        fs::remove(temp, ec);
        throw InputError(config.outputModel + ": cannot rename temporary file (" + reason + ")");
    }
    // The model is complete: a late cancel request has nothing left to stop.
    progress.report(
        {1.0, "tokenizer written", {{"vocab", double(config.vocabSize)}, {"seconds", seconds}}});
}

}  // namespace gqa
