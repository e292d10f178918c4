// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Trains the demo model's tokenizer: a SentencePiece BPE model written as tokenizer.model, the
// file format Llama-1/2 use, so the project's Tokenizer loads it like any Llama tokenizer.
//
// Settings follow Llama's tokenizer: BPE, byte fallback (no character is ever <unk>: unseen ones
// become <0xNN> byte pieces), full character coverage, identity normalization, whitespace kept as
// is, digits split, ids unk=0 <unk>, bos=1 <s>, eos=2 </s>, no pad piece (pad=-1). So for any
// UTF-8 text decode(encode(text)) == text.
//
// Training is deterministic: all sentences are used in input order (no sampling, no shuffling),
// one thread, fixed random seed; the same inputs and vocabulary size give a byte-identical model.
//
// Cancel: the ProgressSink is asked before reading, between input files, before training and
// after it. SentencePiece's training itself cannot be interrupted (it offers no callback), so a
// cancel requested while it runs takes effect when it returns; that wait is short (vocabulary
// 4096 on the five training novels, 65k lines, trains in about 1 s). A cancelled run writes no
// model. SentencePiece's own log is limited to warnings and errors (a process-wide setting).

#include <string>
#include <vector>

#include "base/progress.h"

namespace gqa {

struct TokenizerTrainConfig {
    static constexpr int kDefaultVocabSize = 4096;

    std::vector<std::string> inputFiles;  ///< UTF-8 text files; each line is one sentence
    std::string outputModel;              ///< path of the tokenizer.model to write
    int vocabSize = kDefaultVocabSize;    ///< total pieces, including the 3 specials and 256 bytes
};

/// Trains a BPE tokenizer on `config.inputFiles` and writes it to `config.outputModel` (through a
/// temporary file and a rename; parent folders are created). Throws InputError naming the file for
/// an unreadable input or unwritable output, InputError for options SentencePiece rejects (for
/// example a vocabulary too large for the text), and Cancelled if the sink asks to stop.
void trainSentencePieceBpe(const TokenizerTrainConfig& config, ProgressSink& progress);

}  // namespace gqa
