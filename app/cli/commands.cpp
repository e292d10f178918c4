// SPDX-License-Identifier: GPL-3.0-or-later
#include "commands.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "arguments.h"
#include "clioptions.h"
#include "io/checkpoint.h"
#include "base/error.h"
#include "base/installlayout.h"
#include "model/generation.h"
#include "model/decodermodel.h"
#include "io/modelsummary.h"
#include "eval/perplexity.h"
#include "model/randominit.h"
#include "base/runtime.h"
#include "terminalprogress.h"
#include "text/tokenizer.h"

namespace gqa::cli {
namespace {
using Json = nlohmann::json;

std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

/// Token ids from --text, --text-file or --ids-file (exactly one).
std::vector<std::int64_t> inputTokens(const Arguments& a, const std::string& folder,
                                      const ModelConfig& config) {
    const int given = a.has("text") + a.has("text-file") + a.has("ids-file");
    if (given != 1) throw InputError("give exactly one of --text, --text-file, --ids-file");
    if (a.has("ids-file")) return readTokenIdFile(a.text("ids-file"), config.vocabSize);
    const std::string text = a.has("text") ? a.text("text") : readTextFile(a.text("text-file"));
    return Tokenizer::forModelFolder(folder, config).encode(text);
}
}  // namespace

const std::vector<Command>& commands() {
    static const std::vector<Command> kCommands{
        {"inspect", "summarise a model folder (config, tensors, KV-cache size)", runInspect},
        {"perplexity", "sliding-window perplexity of a model on a text", runPerplexity},
        {"generate", "generate text with a KV cache (greedy or sampled)", runGenerate},
        {"eval", "compare models: KV cache, perplexity, multiple-choice accuracy, decode speed",
         runEval},
        {"prepare-corpus", "extract the Austen demo corpus into text files", runPrepareCorpus},
        {"train-tokenizer", "train a SentencePiece BPE tokenizer on text files", runTrainTokenizer},
        {"pretrain", "train a Llama MHA model from scratch on text (resumable)", runPretrain},
        {"calibrate", "record head statistics of a model on calibration text (run file)",
         runCalibrate},
        {"analyze", "head similarity, grouping and predicted merge cost per number of KV heads",
         runAnalyze},
        {"align", "training-free conversion: aligned MHA or merged GQA checkpoint", runAlign},
        {"train", "conversion training: gated merging of KV heads with distillation, export",
         runTrain},
        {"export", "standard GQA model from a conversion training checkpoint, verified", runExport},
#ifdef GQA_HAVE_REPORT
        {"report", "HTML and PDF report of a conversion run (figures, evaluation, export check)",
         runReport},
#endif
        {"convert", "the whole conversion (calibrate, align, train, export) from a JSON config",
         runConvert},
        {"convert-dtype", "copy a model folder with weights in another dtype", runConvertDtype},
        {"make-test-model",
         "write a tiny randomly initialised model of a family (for tests and demos)",
         runMakeTestModel},
    };
    return kCommands;
}

int runInspect(const std::vector<std::string>& args) {
    Arguments a("inspect",
                "Reads config.json and the safetensors headers (no weights) of a model "
                "folder and prints its configuration, tensors and KV-cache cost.",
                {"model-folder"}, {jsonOption(), {"tensors", "", "list every tensor", ""}});
    if (parseOrHelp(a, args)) return kExitOk;
    const ModelSummary s = summarizeModelFolder(a.positional(0));
    const ModelConfig& c = s.config;
    const std::size_t elem = dtypeSize(c.dtype);
    if (a.flag("json")) {
        Json j = Json::parse(c.toJson());
        j["family"] = c.family;
        j["family_summary"] = c.familySummary();
        j["parameter_count"] = c.parameterCount();
        j["stored_bytes"] = s.storedBytes;
        j["sharded"] = s.sharded;
        j["has_tokenizer"] = s.hasTokenizer;
        j["problems"] = s.problems;
        Json kv = Json::object();
        for (auto g : c.validKvHeadCounts())
            kv[std::to_string(g)] = c.kvCacheBytesPerToken(g, elem);
        j["kv_cache_bytes_per_token"] = kv;
        Json tensors = Json::array();
        for (const auto& t : s.tensors)
            tensors.push_back({{"name", t.info.name},
                               {"dtype", dtypeName(t.info.dtype)},
                               {"shape", t.info.shape},
                               {"file", t.file}});
        j["tensors"] = tensors;
        std::cout << j.dump(2) << "\n";
        return s.problems.empty() ? kExitOk : kExitBadInput;
    }
    std::printf("model folder      %s\n", s.folder.c_str());
    std::printf("family            %s\n", c.familySummary().c_str());
    std::printf("layers            %lld\n", (long long)c.numLayers);
    std::printf("hidden size       %lld (MLP %lld)\n", (long long)c.hiddenSize,
                (long long)c.intermediateSize);
    std::printf("attention heads   %lld, KV heads %lld (%s), head dim %lld\n",
                (long long)c.numHeads, (long long)c.numKvHeads, c.isMha() ? "MHA" : "GQA",
                (long long)c.headDim);
    std::printf("vocabulary        %lld, tied embeddings: %s\n", (long long)c.vocabSize,
                c.tieWordEmbeddings ? "yes" : "no");
    std::printf("rope theta        %g, max positions %lld\n", c.ropeTheta,
                (long long)c.maxPositionEmbeddings);
    std::printf("parameters        %lld (%.2f M), stored as %s, %llu bytes%s\n",
                (long long)c.parameterCount(), c.parameterCount() / 1e6,
                torchDtypeName(c.dtype).c_str(), (unsigned long long)s.storedBytes,
                s.sharded ? ", sharded" : "");
    std::printf("tokenizer         %s\n", s.hasTokenizer ? "tokenizer.model" : "none");
    std::printf("KV cache per token (%s):\n", torchDtypeName(c.dtype).c_str());
    for (auto g : c.validKvHeadCounts())
        std::printf("  %3lld KV heads%s  %llu bytes\n", (long long)g,
                    g == c.numKvHeads ? " (this)" : "       ",
                    (unsigned long long)c.kvCacheBytesPerToken(g, elem));
    if (a.flag("tensors"))
        for (const auto& t : s.tensors)
            std::printf("  %-48s %-5s %s\n", t.info.name.c_str(), dtypeName(t.info.dtype).c_str(),
                        shapeText(t.info.shape).c_str());
    for (const auto& p : s.problems) std::fprintf(stderr, "problem: %s\n", p.c_str());
    return s.problems.empty() ? kExitOk : kExitBadInput;
}

int runPerplexity(const std::vector<std::string>& args) {
    Arguments a("perplexity",
                "Perplexity of a model on a text (sliding windows; context and stride are printed "
                "with the result).",
                {"model-folder"},
                {{"text", "TEXT", "text to score", ""},
                 {"text-file", "FILE", "UTF-8 text file to score", ""},
                 {"ids-file", "FILE", "whitespace-separated token ids instead of text", ""},
                 {"context", "N", "window length in tokens", "256"},
                 {"stride", "N", "tokens between window starts", "128"},
                 {"max-tokens", "N", "score only the first N tokens (0 = all)", "0"},
                 deviceOption(),
                 dtypeOption(),
                 jsonOption(),
                 quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    TerminalProgress progress(a.flag("quiet"));
    const std::string folder = a.positional(0);
    DecoderModel model = loadModel(folder, a, progress);
    auto tokens = inputTokens(a, folder, model.config());
    const std::int64_t maxTokens = a.integer("max-tokens");
    if (maxTokens > 0 && std::int64_t(tokens.size()) > maxTokens) tokens.resize(maxTokens);
    const PerplexityResult r =
        perplexity(model, tokens, {a.integer("context"), a.integer("stride")}, progress);
    progress.finish();
    if (a.flag("json")) {
        std::cout << Json{{"perplexity", r.perplexity},        {"mean_nll", r.meanNll},
                          {"tokens_scored", r.tokensScored},   {"windows", r.windows},
                          {"context_length", r.contextLength}, {"stride", r.stride}}
                         .dump(2)
                  << "\n";
    } else {
        std::printf(
            "perplexity %.4f (mean NLL %.4f nats) over %lld tokens, context %lld, stride "
            "%lld, %lld windows\n",
            r.perplexity, r.meanNll, (long long)r.tokensScored, (long long)r.contextLength,
            (long long)r.stride, (long long)r.windows);
    }
    return kExitOk;
}

int runGenerate(const std::vector<std::string>& args) {
    Arguments a("generate", "Generates a continuation of a prompt with a KV cache.",
                {"model-folder"},
                {{"text", "TEXT", "prompt text", ""},
                 {"text-file", "FILE", "prompt from a file", ""},
                 {"ids-file", "FILE", "prompt as token ids", ""},
                 {"max-new-tokens", "N", "tokens to generate", "64"},
                 {"temperature", "T", "0 = greedy", "0"},
                 {"top-k", "K", "sample among the K most likely (0 = all)", "0"},
                 {"top-p", "P", "nucleus sampling mass", "1"},
                 {"seed", "N", "sampling seed", "0"},
                 deviceOption(),
                 dtypeOption(),
                 jsonOption(),
                 quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    TerminalProgress progress(a.flag("quiet"));
    const std::string folder = a.positional(0);
    DecoderModel model = loadModel(folder, a, progress);
    const auto prompt = inputTokens(a, folder, model.config());
    GenerationConfig g;
    g.maxNewTokens = a.integer("max-new-tokens");
    g.temperature = a.number("temperature");
    g.topK = a.integer("top-k");
    g.topP = a.number("top-p");
    g.seed = static_cast<std::uint64_t>(a.integer("seed"));
    const GenerationResult r = generate(model, prompt, g, progress);
    progress.finish();
    std::string text;
    if (!a.has("ids-file"))
        text = Tokenizer::forModelFolder(folder, model.config()).decode(r.newTokens);
    if (a.flag("json")) {
        std::cout << Json{{"new_tokens", r.newTokens},
                          {"text", text},
                          {"kv_cache_bytes", r.kvCacheBytes},
                          {"decode_tokens_per_second", r.decodeTokensPerSecond}}
                         .dump(2)
                  << "\n";
    } else {
        if (a.has("ids-file"))
            for (auto id : r.newTokens) std::printf("%lld ", (long long)id);
        std::printf("%s\n", text.c_str());
        std::fprintf(stderr, "%zu tokens, KV cache %llu bytes, %.1f tokens/s\n", r.newTokens.size(),
                     (unsigned long long)r.kvCacheBytes, r.decodeTokensPerSecond);
    }
    return kExitOk;
}

int runMakeTestModel(const std::vector<std::string>& args) {
    Arguments a(
        "make-test-model",
        "Writes a small randomly initialised MHA (or GQA) model of a supported family "
        "(config.json, model.safetensors and, with --tokenizer or by default the demo "
        "model's, a tokenizer.model) to a folder. Family fields take their Hugging Face "
        "defaults (Phi: partial rotary 0.5 and biases; StableLM: partial rotary 0.25); "
        "--family-fields overrides them. It computes nothing meaningful: it is for tests "
        "and demos of every stage.",
        {"output-folder"},
        {{"arch", "FAMILY", "model family: " + familyIdList(), "llama"},
         {"family-fields", "JSON", "family config fields, e.g. '{\"use_qkv_bias\": true}'", "{}"},
         {"layers", "N", "decoder layers", "2"},
         {"heads", "N", "attention heads", "8"},
         {"kv-heads", "N", "KV heads (= heads for MHA)", "8"},
         {"head-dim", "N", "head dimension", "16"},
         {"vocab", "N", "vocabulary size (at least the tokenizer's)", "256"},
         {"tokenizer", "FILE",
          "tokenizer.model to copy ('demo': the demo model's; 'none': no tokenizer)", "none"},
         {"dtype", "TYPE", "stored dtype: float32, bfloat16, float16", "float32"},
         {"seed", "N", "random seed", "0"},
         {"shard-bytes", "N", "shard files above this size (0 = single file)", "0"}});
    if (parseOrHelp(a, args)) return kExitOk;
    ModelConfig shape;
    shape.numLayers = a.integer("layers");
    shape.numHeads = a.integer("heads");
    shape.numKvHeads = a.integer("kv-heads");
    shape.headDim = a.integer("head-dim");
    shape.hiddenSize = shape.numHeads * shape.headDim;
    shape.intermediateSize = shape.hiddenSize * 3;
    shape.vocabSize = a.integer("vocab");
    shape.maxPositionEmbeddings = 512;
    shape.bosTokenId = 1;
    shape.eosTokenId = 2;
    const auto dtype = dtypeFromTorchName(a.text("dtype"));
    if (!dtype) throw InputError("--dtype must be float32, bfloat16 or float16");
    shape.dtype = *dtype;

    std::string tokenizer = a.text("tokenizer");
    if (tokenizer == "demo") tokenizer = (demoModelDir() / "tokenizer.model").string();
    if (tokenizer != "none") {
        const std::int64_t pieces = Tokenizer::load(tokenizer).vocabSize();
        if (pieces > shape.vocabSize)
            throw InputError("--vocab " + std::to_string(shape.vocabSize) + " is smaller than " +
                             tokenizer + "'s " + std::to_string(pieces) + " pieces");
    }
    const ModelConfig c = ModelConfig::ofFamily(a.text("arch"), shape, a.text("family-fields"));
    const std::string folder = a.positional(0);
    initializeModel(c, static_cast<std::uint64_t>(a.integer("seed")), 0.2)
        .save(folder, static_cast<std::uint64_t>(a.integer("shard-bytes")));
    if (tokenizer != "none")
        std::filesystem::copy_file(tokenizer, std::filesystem::path(folder) / "tokenizer.model",
                                   std::filesystem::copy_options::overwrite_existing);
    std::printf("wrote %s (%s, %lld parameters)\n", folder.c_str(), c.traits().architecture.c_str(),
                (long long)c.parameterCount());
    return kExitOk;
}

}  // namespace gqa::cli
