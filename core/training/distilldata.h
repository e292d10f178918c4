// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The training data of the conversion training (distillation from the teacher, distillation.h):
// either plain text for causal language modelling or the reference's prompt/answer examples.
//
// Plain text: random windows of seqLen + 1 consecutive ids of a TokenDataset. There is no prompt,
// so all three loss masks are 1 on every position: the full-vocabulary KL, BiLD and the optional
// cross-entropy all see every token.
//
// Prompt/answer jsonl (method §2, "Prompt/answer data", template `none`): one JSON object per line
// with "instruction" (optional), "input" and "output" strings. prompt = instruction + input,
// answer = output + EOS; prompt and answer are tokenized separately without BOS (the reference
// uses add_special_tokens=False, so training never sees a BOS). An example of P prompt and A
// answer tokens is the sequence s[0..P+A-1]; position t predicts s[t+1], so
//   klMask[t]   = 1 when s[t+1] is a prompt token   (t + 1 < P),
//   bildMask[t] = lmMask[t] = 1 when s[t+1] is an answer token (t + 1 >= P).
// Examples longer than maxLen are truncated, keeping the whole answer when it fits: the prompt
// loses its beginning (its end, e.g. "Answer:", leads into the answer); an answer of maxLen
// tokens or more keeps one prompt token and the answer's first maxLen - 1 tokens. Truncated and
// skipped (shorter than 2 tokens) examples are counted in warnings().
//
// Batches are right-padded to their longest example: padded inputs hold the EOS id (a valid
// embedding row), padded targets -100 and padded masks 0. Right padding is exact with our
// causal-only DecoderModel (no attention mask): padding comes after the real tokens, and a causal
// model's output at a position depends only on earlier positions, so padding never changes the
// real positions' outputs; the masks keep the padded positions out of every loss.
//
// Random draws use a caller-owned CPU torch::Generator, so a run is reproducible and resumable
// by saving and restoring the generator's state.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "training/distillation.h"
#include "base/progress.h"
#include "text/tokendataset.h"

namespace gqa {

class Tokenizer;

class DistillData {
public:
    DistillData() = default;

    /// Plain text (causal LM): random windows of seqLen + 1 tokens; all masks 1 (see above).
    /// InputError when seqLen < 1 or the stream is shorter than seqLen + 1.
    static DistillData fromTokens(TokenDataset tokens, std::int64_t seqLen);

    /// The reference's prompt/answer jsonl (see above). InputError naming the file and line
    /// number for malformed lines and missing or non-string fields; an empty file (no examples)
    /// is an error too. Blank lines are skipped. maxLen must be >= 2.
    static DistillData fromJsonl(const std::string& path, const Tokenizer& tokenizer,
                                 std::int64_t maxLen, ProgressSink& progress);

    /// `batch` random windows / random examples (uniform, with replacement), right-padded to the
    /// longest (pads: targets -100, masks 0).
    DistillBatch sample(std::int64_t batch, torch::Generator& generator) const;

    /// Fixed held-out batches: consecutive windows from the start of the stream, or the first
    /// examples in file order, grouped into batches of up to `batch`; at most maxBatches batches
    /// (0 = all). The same every time. (They are not removed from what sample() draws.)
    std::vector<DistillBatch> fixedBatches(std::int64_t batch, std::int64_t maxBatches) const;

    /// Plain text: the number of non-overlapping windows ((tokens - 1) / seqLen), what one epoch
    /// covers; jsonl: the number of examples kept.
    std::int64_t examples() const;
    /// The largest token id any batch can hold (padding included); -1 when empty.
    std::int64_t maxId() const;
    const std::vector<std::string>& warnings() const { return m_warnings; }

    /// Plain text only: the window length; jsonl: the longest example's input length (<= maxLen-1).
    std::int64_t seqLen() const { return m_seqLen; }
    bool isPlainText() const { return m_plainText; }

    /// jsonl only: example i's tokens and the number of them that are prompt tokens.
    std::vector<std::int64_t> exampleTokens(std::int64_t i) const;
    std::int64_t promptLength(std::int64_t i) const;

private:
    DistillBatch plainTextBatch(const TokenBatch& windows) const;
    DistillBatch exampleBatch(const std::vector<std::int64_t>& indices) const;

    bool m_plainText = false;
    std::int64_t m_seqLen = 0;
    TokenDataset m_tokens;                ///< plain text
    std::vector<std::int64_t> m_ids;      ///< jsonl: all examples' tokens, concatenated
    std::vector<std::int64_t> m_offsets;  ///< jsonl: example i is m_ids[m_offsets[i], [i+1])
    std::vector<std::int64_t> m_prompts;  ///< jsonl: prompt length of each example
    std::int64_t m_padId = 0;
    std::int64_t m_maxId = -1;
    std::vector<std::string> m_warnings;
};

}  // namespace gqa
