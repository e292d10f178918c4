// SPDX-License-Identifier: GPL-3.0-or-later
// Data preparation subcommands: the demo corpus as text, and a SentencePiece tokenizer trained on
// it.
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "arguments.h"
#include "clioptions.h"
#include "text/austencorpus.h"
#include "io/checkpoint.h"
#include "io/tensorconvert.h"
#include "commands.h"
#include "base/error.h"
#include "terminalprogress.h"
#include "text/tokenizertrainer.h"

namespace gqa::cli {

int runPrepareCorpus(const std::vector<std::string>& args) {
    Arguments a("prepare-corpus",
                "Extracts Jane Austen's six novels from janeaustenr's Rdata.rdb (fetched by "
                "scripts/get-corpus.sh) into one UTF-8 text file per novel.",
                {},
                {{"rdb", "FILE", "the Rdata.rdb file", "data/corpus/janeaustenr/Rdata.rdb"},
                 {"out", "DIR", "folder for the .txt files", "data/corpus/text"}});
    if (parseOrHelp(a, args)) return kExitOk;
    const auto novels = readAustenRdb(a.text("rdb"));
    writeNovelTexts(novels, a.text("out"));
    for (const auto& n : novels)
        std::printf("%-24s %6zu lines -> %s/%s%s\n", n.title.c_str(), n.lines.size(),
                    a.text("out").c_str(), novelFileName(n.title).c_str(),
                    n.title == kHeldOutNovel ? "  (held out)" : "");
    return kExitOk;
}

int runTrainTokenizer(const std::vector<std::string>& args) {
    Arguments a("train-tokenizer",
                "Trains a SentencePiece BPE tokenizer (byte fallback, Llama-style ids) on text "
                "files, deterministically, and writes tokenizer.model.",
                {"output-model"},
                {{"inputs", "FILES", "comma-separated text files", ""},
                 {"vocab", "N", "vocabulary size", "4096"},
                 quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    TokenizerTrainConfig config;
    config.inputFiles = splitList(a.text("inputs"));
    config.outputModel = a.positional(0);
    config.vocabSize = static_cast<int>(a.integer("vocab"));
    TerminalProgress progress(a.flag("quiet"));
    trainSentencePieceBpe(config, progress);
    progress.finish();
    std::printf("wrote %s (%d pieces)\n", config.outputModel.c_str(), config.vocabSize);
    return kExitOk;
}

int runConvertDtype(const std::vector<std::string>& args) {
    Arguments a("convert-dtype",
                "Writes a copy of a model folder with its weights stored in another dtype "
                "(config.json torch_dtype updated, tokenizer and generation config copied).",
                {"model-folder", "output-folder"},
                {{"dtype", "TYPE", "float32, bfloat16 or float16", "bfloat16"}});
    if (parseOrHelp(a, args)) return kExitOk;
    const auto dtype = dtypeFromTorchName(a.text("dtype"));
    if (!dtype || *dtype == DType::F64)
        throw InputError("--dtype must be float32, bfloat16 or float16");
    const Checkpoint ck = convertedTo(Checkpoint::load(a.positional(0)), *dtype);
    ck.save(a.positional(1), 0, a.positional(0));
    std::printf("wrote %s (%s)\n", a.positional(1).c_str(), torchDtypeName(*dtype).c_str());
    return kExitOk;
}

}  // namespace gqa::cli
