// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Zero-shot multiple-choice accuracy by log-likelihood, as EleutherAI's lm-evaluation-harness
// defines its `multiple_choice` tasks (acc and acc_norm).
//
// Task file (jsonl, documented in docs/evaluation.md): one object per line with
//   "question": string            the whole prompt, e.g. "Question: ...\nAnswer:"
//   "choices":  [string, ...]     at least 2, non-empty, written without a leading space
//   "answer":   integer | string  index into choices, or a string equal to one of them
// Blank lines are skipped, other fields are ignored. Anything else is an InputError naming the
// file and line.
//
// Scoring. context = tokenizer.encode(question) (BOS as the model folder says), continuation =
// tokenizer.encodePlain(choice). SentencePiece's dummy prefix turns the start of the choice into
// "▁", which is exactly the harness's target delimiter " " between prompt and choice, so the ids
// are those of `question + " " + choice` split at the prompt. An empty context becomes [BOS], as
// the harness uses its prefix token. The score of a choice is the sum over its tokens of
// log p(token | context, earlier choice tokens), in float64.
//   acc      = mean over items of [argmax_i score_i == answer]
//   acc_norm = mean of [argmax_i score_i / bytes_i == answer], bytes_i = UTF-8 length of choice i
// (the harness divides by len(choice) of the Python string; the same for ASCII text). Ties go to
// the first choice (numpy argmax). Standard errors are the harness's: sqrt(p (1 - p) / (n - 1)),
// NaN when n < 2.
//
// Long items: when context + continuation exceed max_position_embeddings + 1 tokens, the context
// is cut from the left (its BOS goes first) so that the last max_position_embeddings + 1 ids
// remain, as the harness does; the input is those ids without the last one. A choice longer than
// max_position_embeddings is an InputError.
//
// All choices of an item run as one right-padded batch (causal attention: padding after a row's
// end cannot change its logits). Progress after every item; cancel works between items.

#include <cstdint>
#include <string>
#include <vector>

#include "model/decodermodel.h"
#include "base/progress.h"
#include "text/tokenizer.h"

namespace gqa {

struct MultipleChoiceItem {
    std::string question;
    std::vector<std::string> choices;
    std::int64_t answer = 0;  ///< index into choices
    std::int64_t line = 0;    ///< 1-based line in the task file
};

struct MultipleChoiceTask {
    std::string name;  ///< file name without extension
    std::string path;
    std::vector<MultipleChoiceItem> items;
};

/// Reads a jsonl task file; InputError "FILE:LINE: what is wrong" for a bad line, and for a file
/// without items.
MultipleChoiceTask readMultipleChoiceTask(const std::string& path);
/// The same from text; `origin` names the file in messages.
MultipleChoiceTask parseMultipleChoiceTask(const std::string& text, const std::string& origin);

struct MultipleChoiceItemScore {
    std::vector<double> logLikelihoods;  ///< per choice, natural log
    std::vector<std::int64_t> bytes;     ///< per choice, UTF-8 length (acc_norm divisor)
    std::int64_t predicted = 0;          ///< argmax of logLikelihoods
    std::int64_t predictedNorm = 0;      ///< argmax of logLikelihoods / bytes
    bool truncated = false;              ///< the context was cut from the left
};

struct MultipleChoiceResult {
    std::string task;
    std::int64_t n = 0;
    double acc = 0.0, accStderr = 0.0;
    double accNorm = 0.0, accNormStderr = 0.0;
    std::int64_t truncatedItems = 0;
    std::vector<MultipleChoiceItemScore> items;
    std::vector<std::string> warnings;
};

/// Scores every item of `task`; InputError when a choice does not fit the model's context or
/// encodes to no token, or an id is outside the model's vocabulary.
MultipleChoiceResult evaluateMultipleChoice(const DecoderModel& model, const Tokenizer& tokenizer,
                                            const MultipleChoiceTask& task, ProgressSink& progress);

/// Sum of log p(continuation | context) for each continuation, all in one right-padded batch,
/// with the left truncation described above (`truncated` set when it happened). Token level, for
/// callers that tokenize themselves.
std::vector<double> scoreContinuations(const DecoderModel& model,
                                       const std::vector<std::int64_t>& context,
                                       const std::vector<std::vector<std::int64_t>>& continuations,
                                       bool* truncated = nullptr);

/// sqrt(p (1 - p) / (n - 1)): the harness's standard error of a mean of 0/1 values; NaN if n < 2.
double binaryMeanStderr(double p, std::int64_t n);

}  // namespace gqa
