// SPDX-License-Identifier: GPL-3.0-or-later
// Training subcommands: pretraining a Llama MHA model from scratch (the demo model's origin).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "arguments.h"
#include "clioptions.h"
#include "commands.h"
#include "base/error.h"
#include "training/pretrainer.h"
#include "base/runtime.h"
#include "terminalprogress.h"
#include "text/tokenizer.h"
#include "training/trainingcheckpoint.h"

namespace gqa::cli {
namespace {
namespace fs = std::filesystem;

// Llama's MLP width is 2/3 of 4 x hidden (the SwiGLU parameter budget), rounded up to this.
constexpr std::int64_t kIntermediateMultiple = 32;
// Room for longer contexts at inference than the training windows.
constexpr std::int64_t kMinMaxPositions = 512;

}  // namespace

int runPretrain(const std::vector<std::string>& args) {
    using C = PretrainConfig;
    Arguments a(
        "pretrain",
        "Trains a Llama MHA model from scratch on text files (AdamW, warmup + cosine learning "
        "rate, gradient clipping). Checkpoints go to OUTPUT/checkpoint, the final model to "
        "OUTPUT/model. Ctrl-C writes a checkpoint and exits with code 3; running the same "
        "command again resumes where it stopped, on the same loss curve.",
        {"output-folder"},
        {{"train", "FILES", "comma-separated text files or folders of .txt files",
          "data/corpus/text"},
         {"validation", "FILE",
          "held-out text for the validation loss (excluded from --train "
          "folders; empty for none)",
          "data/corpus/text/persuasion.txt"},
         {"tokenizer", "FILE", "SentencePiece tokenizer.model (gqa-cli train-tokenizer)", ""},
         {"layers", "N", "decoder layers", "6"},
         {"heads", "N", "attention heads", "8"},
         {"head-dim", "N", "head dimension", "32"},
         {"intermediate", "N", "MLP width (0 = 8/3 x hidden, rounded up to 32)", "0"},
         {"max-positions", "N", "max_position_embeddings (0 = max(512, seq-len))", "0"},
         {"tie-embeddings", "", "share the embedding and LM head weights", ""},
         {"steps", "N", "optimiser updates", std::to_string(C::kDefaultSteps)},
         {"batch", "N", "sequences per batch", std::to_string(C::kDefaultBatchSize)},
         {"seq-len", "N", "tokens per sequence", std::to_string(C::kDefaultSeqLen)},
         {"grad-accum", "N", "batches per update", "1"},
         {"lr", "X", "peak learning rate", numberText(C::kDefaultPeakLr)},
         {"min-lr", "X", "final learning rate of the cosine decay", numberText(C::kDefaultMinLr)},
         {"warmup", "N", "linear warmup updates", std::to_string(C::kDefaultWarmupSteps)},
         {"weight-decay", "X", "AdamW weight decay on matrices",
          numberText(C::kDefaultWeightDecay)},
         {"grad-clip", "X", "max gradient L2 norm (0 = off)", numberText(C::kDefaultGradClip)},
         {"eval-every", "N", "updates between validation losses",
          std::to_string(C::kDefaultEvalEvery)},
         {"eval-batches", "N", "validation batches", std::to_string(C::kDefaultEvalBatches)},
         {"checkpoint-every", "N", "updates between checkpoints",
          std::to_string(C::kDefaultCheckpointEvery)},
         {"seed", "N", "seed of initialisation and data sampling", "0"},
         deviceOption(),
         jsonOption(),
         quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    if (a.text("tokenizer").empty())
        throw InputError("pretrain needs --tokenizer (train one with gqa-cli train-tokenizer)");

    PretrainConfig config;
    config.outputDir = a.positional(0);
    config.tokenizerPath = a.text("tokenizer");
    config.validationFile = a.text("validation");
    config.trainFiles = expandInputs(a.text("train"), config.validationFile);
    config.steps = a.integer("steps");
    config.batchSize = a.integer("batch");
    config.seqLen = a.integer("seq-len");
    config.gradAccumulation = a.integer("grad-accum");
    config.peakLr = a.number("lr");
    config.minLr = a.number("min-lr");
    config.warmupSteps = a.integer("warmup");
    config.weightDecay = a.number("weight-decay");
    config.gradClip = a.number("grad-clip");
    config.evalEvery = a.integer("eval-every");
    config.evalBatches = a.integer("eval-batches");
    config.checkpointEvery = a.integer("checkpoint-every");
    config.seed = static_cast<std::uint64_t>(a.integer("seed"));
    config.device = parseDevice(a.text("device"));

    const Tokenizer tokenizer = Tokenizer::load(config.tokenizerPath);
    ModelConfig& m = config.model;
    m.vocabSize = tokenizer.vocabSize();
    m.numLayers = a.integer("layers");
    m.numHeads = m.numKvHeads = a.integer("heads");
    m.headDim = a.integer("head-dim");
    m.hiddenSize = m.numHeads * m.headDim;
    const std::int64_t autoWidth = (8 * m.hiddenSize + 2) / 3;
    m.intermediateSize = a.integer("intermediate") > 0
                             ? a.integer("intermediate")
                             : (autoWidth + kIntermediateMultiple - 1) / kIntermediateMultiple *
                                   kIntermediateMultiple;
    m.maxPositionEmbeddings = a.integer("max-positions") > 0
                                  ? a.integer("max-positions")
                                  : std::max(kMinMaxPositions, config.seqLen);
    m.tieWordEmbeddings = a.flag("tie-embeddings");
    m.bosTokenId = tokenizer.bosId();
    m.eosTokenId = tokenizer.eosId();
    m.dtype = DType::F32;
    m.validate();

    const bool quiet = a.flag("quiet");
    const std::string resumeFrom =
        findTrainingCheckpoint(pretrainCheckpointFolder(config.outputDir));
    if (!quiet) {
        std::fprintf(
            stderr,
            "model: %lld layers, %lld heads x %lld, MLP %lld, vocab %lld: %.2f M "
            "parameters; %lld tokens per update; %s\n",
            (long long)m.numLayers, (long long)m.numHeads, (long long)m.headDim,
            (long long)m.intermediateSize, (long long)m.vocabSize, m.parameterCount() / 1e6,
            (long long)(config.batchSize * config.seqLen * config.gradAccumulation),
            resumeFrom.empty() ? "starting fresh" : ("resuming from " + resumeFrom).c_str());
    }
    TerminalProgress progress(quiet);
    const PretrainResult r = pretrain(config, progress);
    progress.finish();
    for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (a.flag("json")) {
        nlohmann::json validation = nlohmann::json::array();
        for (const auto& [step, loss] : r.validationHistory) validation.push_back({step, loss});
        nlohmann::json j{{"steps", r.steps},
                         {"start_step", r.startStep},
                         {"resumed", r.resumed},
                         {"already_complete", r.alreadyComplete},
                         {"final_loss", r.finalLoss},
                         {"tokens_per_second", r.tokensPerSecond},
                         {"train_tokens", r.trainTokens},
                         {"loss_history", r.lossHistory},
                         {"validation_history", validation},
                         {"model_folder", r.modelFolder},
                         {"checkpoint_folder", r.checkpointFolder}};
        j["final_validation_loss"] = std::isnan(r.finalValidationLoss)
                                         ? nlohmann::json()
                                         : nlohmann::json(r.finalValidationLoss);
        std::cout << j.dump(2) << "\n";
    } else if (r.alreadyComplete) {
        std::printf(
            "the run in %s was already complete (%lld updates): nothing was trained\n"
            "model written to %s\n",
            config.outputDir.c_str(), (long long)r.steps, r.modelFolder.c_str());
    } else {
        std::printf(
            "trained %lld updates (%s step %lld) on %lld tokens: loss %.4f, validation "
            "loss %.4f, %.0f tokens/s\nmodel written to %s\n",
            (long long)r.steps, r.resumed ? "resumed at" : "from", (long long)r.startStep,
            (long long)r.trainTokens, r.finalLoss, r.finalValidationLoss, r.tokensPerSecond,
            r.modelFolder.c_str());
    }
    return kExitOk;
}

}  // namespace gqa::cli
