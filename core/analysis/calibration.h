// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Calibration (method §3): run the MHA model over calibration text and accumulate, per layer,
// the head statistics of the pre-RoPE keys and the values (headstatistics.h). Nothing is kept per
// token, so memory is (kvHeads * d)^2 * 4 doubles per layer whatever the amount of text.
//
// Data, as the reference's get_calibration.py: every sequence is BOS followed by sequenceLength - 1
// consecutive text tokens (no padding). Documents are the lines of .jsonl files (their "text"
// field; each gives at most one sequence, its first tokens, like the reference's truncation) and
// whole .txt files (cut into consecutive windows). Documents too short for one sequence are
// skipped; the first numSequences sequences in file order are used (no shuffle, no seed).

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/headstatistics.h"
#include "model/decodermodel.h"
#include "base/progress.h"

namespace gqa {

class Tokenizer;

struct CalibrationConfig {
    // Method §3 (get_calibration.py): 128 sequences of 2048 tokens, batch size 8.
    static constexpr std::int64_t kReferenceSequences = 128;
    static constexpr std::int64_t kReferenceSequenceLength = 2048;
    static constexpr std::int64_t kReferenceBatchSize = 8;

    std::vector<std::string> inputFiles;   ///< .txt (UTF-8) or .jsonl ({"text": ...} per line)
    const Tokenizer* tokenizer = nullptr;  ///< when null, modelFolder/tokenizer.model is loaded
    std::string modelFolder;               ///< used for the tokenizer when `tokenizer` is null
    std::int64_t numSequences = kReferenceSequences;
    std::int64_t sequenceLength = 0;  ///< 0: defaultSequenceLength(model config)
    std::int64_t batchSize = kReferenceBatchSize;
};

/// The settings a calibration was made with: what the run file stores, and what decides whether
/// stored statistics can be reused.
struct CalibrationSettings {
    std::vector<std::string> inputFiles;  ///< absolute paths, in the order used
    std::string inputChecksum;            ///< checksum of the input files' bytes (fileChecksum)
    std::int64_t numSequences = 0;
    std::int64_t sequenceLength = 0;
    std::int64_t batchSize = 0;
    std::int64_t tokens = 0;  ///< numSequences * sequenceLength
};

struct CalibrationResult {
    CalibrationSettings settings;
    std::vector<LayerStatistics> layers;  ///< one per decoder layer, on the CPU
    std::int64_t tokens = 0;
    std::vector<std::string> warnings;
};

/// min(2048, max_position_embeddings).
std::int64_t defaultSequenceLength(const ModelConfig& config);

/// The token sequences of `config` (sequenceLength and numSequences already resolved, > 0).
/// InputError naming the file (and line for .jsonl) for unreadable or malformed input, and when
/// the text gives fewer sequences than asked (saying how many it gives).
std::vector<std::vector<std::int64_t>> calibrationSequences(const CalibrationConfig& config,
                                                            const Tokenizer& tokenizer,
                                                            ProgressSink& progress);

/// Tokenizes the inputs and accumulates the statistics of every layer. Progress per batch
/// ("calibrating", metric "tokens/s"); Cancelled when the sink asks to stop.
CalibrationResult calibrate(const DecoderModel& model, const CalibrationConfig& config,
                            ProgressSink& progress);

/// Token sequences [S][T] checked against the model (at least one, all of one length from 1 to
/// max_position_embeddings, ids inside the vocabulary) and cut into [b, T] batches of at most
/// `batchSize` rows, on the CPU. InputError saying what is wrong, with `user` naming who needs
/// them ("calibration", "the layer-wise fit").
std::vector<torch::Tensor> checkedTokenBatches(
    const std::vector<std::vector<std::int64_t>>& sequences, std::int64_t batchSize,
    const ModelConfig& config, const std::string& user);

/// The statistics of given token sequences [S][T] (all the same length), in batches.
std::vector<LayerStatistics> calibrateTokens(
    const DecoderModel& model, const std::vector<std::vector<std::int64_t>>& sequences,
    std::int64_t batchSize, ProgressSink& progress);

/// Absolute paths of `files`, as CalibrationSettings stores them.
std::vector<std::string> absoluteInputPaths(const std::vector<std::string>& files);
/// 64-bit FNV-1a over the files' bytes in order, read streaming: "fnv1a64:<16 hex digits>".
/// InputError naming a file that cannot be read.
std::string filesChecksum(const std::vector<std::string>& files);

}  // namespace gqa
