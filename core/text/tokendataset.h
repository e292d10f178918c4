// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A stream of token ids for language-model training, and the batches drawn from it.
//
// Built from text files with a SentencePiece tokenizer (each file is one document: the tokenizer
// adds its BOS in front of each, as at inference), or from ids directly (tests, pre-tokenized
// data). Tokenizing five novels takes seconds, so the ids are cached in a binary file and re-used
// when the inputs have not changed. Cache layout (little-endian):
//
//   char[8]  "GQATOKS1"
//   uint32   bytes per id: 2 (uint16, when every id < 65536) or 4 (int32)
//   uint32   reserved, 0
//   uint64   fingerprint: FNV-1a 64 of the tokenizer file, its BOS/EOS settings and each input
//            file's bytes, in order; a different fingerprint makes the cache stale
//   uint64   number of ids
//   ids      that many, 2 or 4 bytes each
//
// Training batches are windows of seqLen + 1 consecutive ids starting at uniformly random offsets
// drawn from a caller-owned torch::Generator, so the sequence of batches is a function of the
// generator's state alone (save and restore it to resume exactly). Validation uses fixed
// consecutive windows from the start of the stream, the same every time.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "base/progress.h"

namespace gqa {

/// inputs[b, t] predicts targets[b, t] = inputs[b, t + 1]; both [B, T] int64 on the CPU.
struct TokenBatch {
    torch::Tensor inputs;
    torch::Tensor targets;
};

class TokenDataset {
public:
    TokenDataset() = default;
    explicit TokenDataset(const std::vector<std::int64_t>& ids);

    /// Tokenizes `files` (in order) with the SentencePiece model at `tokenizerPath`, or reads
    /// `cachePath` when it holds the same inputs' ids; writes the cache otherwise (atomically).
    /// An empty cachePath disables caching. InputError names an unreadable file.
    static TokenDataset fromTextFiles(const std::vector<std::string>& files,
                                      const std::string& tokenizerPath,
                                      const std::string& cachePath, ProgressSink& progress);

    std::int64_t size() const { return m_ids.defined() ? m_ids.numel() : 0; }
    const torch::Tensor& ids() const { return m_ids; }  ///< int64 [N]
    std::int64_t maxId() const;

    /// `batch` windows at offsets uniform in [0, size - seqLen - 1]. InputError when the stream
    /// is shorter than seqLen + 1.
    TokenBatch sampleBatch(std::int64_t batch, std::int64_t seqLen,
                           torch::Generator& generator) const;

    /// Consecutive windows (stride seqLen) from the start, grouped into batches of up to `batch`;
    /// at most maxBatches batches (0 = all that fit).
    std::vector<TokenBatch> fixedBatches(std::int64_t batch, std::int64_t seqLen,
                                         std::int64_t maxBatches) const;

private:
    torch::Tensor m_ids;
};

/// Writes / reads the cache format above. readTokenCache returns false, leaving `ids` as it was,
/// when the file is missing, malformed (sizes that disagree, a negative id) or has another
/// fingerprint.
void writeTokenCache(const std::string& path, const std::vector<std::int64_t>& ids,
                     std::uint64_t fingerprint);
bool readTokenCache(const std::string& path, std::uint64_t fingerprint,
                    std::vector<std::int64_t>& ids);

}  // namespace gqa
