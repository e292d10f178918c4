// SPDX-License-Identifier: GPL-3.0-or-later
// The eval subcommand: any number of checkpoints side by side in one table (KV-cache size,
// parameters, perplexity, multiple-choice accuracy, decode speed), as text, CSV or JSON. Every
// model gets the same token ids (the first model's tokenizer), the same task items, the same
// random decode contexts and the same device and dtype; models are loaded one at a time. With
// --run the results are also appended to a run file's /evaluation group (docs/run-file.md).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "clioptions.h"
#include "commands.h"
#include "eval/decodespeed.h"
#include "base/error.h"
#include "eval/multiplechoice.h"
#include "eval/modelcomparison.h"
#include "eval/perplexity.h"
#include "runfile/runfile.h"
#include "terminalprogress.h"
#include "text/tokenizer.h"

namespace gqa::cli {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

/// Prefixes every stage with the model being evaluated, e.g. "[2/4 gqa4] perplexity".
class ModelProgress final : public ProgressSink {
public:
    ModelProgress(ProgressSink& inner, std::string prefix)
        : m_inner(inner), m_prefix(std::move(prefix)) {}
    bool report(const ProgressUpdate& update) override {
        ProgressUpdate copy = update;
        copy.stage = m_prefix + copy.stage;
        return m_inner.report(copy);
    }

private:
    ProgressSink& m_inner;
    std::string m_prefix;
};

/// One column set of the table; identity.modelFolder is the folder as given (absolute and with
/// config text and checksum only in a run file's record).
using ModelRow = EvaluatedModel;

/// The folder's last component ("a/b/" gives "b"); the path as given when names would clash.
std::vector<std::string> displayNames(const std::vector<std::string>& folders) {
    std::vector<std::string> names;
    for (const auto& f : folders) {
        fs::path p(f);
        if (p.filename().empty()) p = p.parent_path();
        names.push_back(p.filename().empty() ? f : p.filename().string());
    }
    if (std::set<std::string>(names.begin(), names.end()).size() != names.size()) return folders;
    return names;
}

std::string dtypeText(torch::ScalarType t) {
    switch (t) {
        case torch::kFloat64:
            return "float64";
        case torch::kFloat32:
            return "float32";
        case torch::kBFloat16:
            return "bfloat16";
        case torch::kFloat16:
            return "float16";
        default:
            return c10::toString(t);
    }
}

std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) return "n/a";
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
    return buffer;
}

std::string csvNumber(double v) {
    if (!std::isfinite(v)) return "";
    std::ostringstream s;
    s.precision(10);
    s << v;
    return s.str();
}

std::string csvField(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

bool sameFileContent(const fs::path& a, const fs::path& b) {
    if (!fs::exists(a) || !fs::exists(b)) return false;
    return readTextFile(a.string()) == readTextFile(b.string());
}

/// Left-aligned first column, right-aligned others.
void printTable(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& r : rows)
        for (std::size_t c = 0; c < r.size(); ++c) widths[c] = std::max(widths[c], r[c].size());
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t c = 0; c < r.size(); ++c) {
            const std::string pad(widths[c] - r[c].size(), ' ');
            line += c == 0 ? r[c] + pad : "  " + pad + r[c];
        }
        std::printf("%s\n", line.c_str());
    }
}

/// The lines above the table: what was measured, and how.
std::string setupText(const std::string& deviceText, const ModelRow& first,
                      const std::string& textFile, const std::vector<MultipleChoiceTask>& tasks,
                      const DecodeSpeedConfig* decode) {
    std::string setup = "device: " + deviceText + "\n";
    if (const auto& p = first.perplexity)
        setup += "perplexity: " + textFile + ", " + std::to_string(p->tokensScored) +
                 " tokens scored, context " + std::to_string(p->contextLength) + ", stride " +
                 std::to_string(p->stride) + "\n";
    for (const auto& t : tasks)
        setup += t.name + " (" + t.path + "): " + std::to_string(t.items.size()) +
                 " items, zero-shot log-likelihood; acc_norm divides by the choice's bytes; ± "
                 "standard error\n";
    if (decode)
        setup += "decode: greedy, " + std::to_string(decode->steps) + " timed steps after " +
                 std::to_string(decode->warmupSteps) + " warm-up, random context ids (seed " +
                 std::to_string(decode->seed) + "); KV-cache bytes at N tokens = N x bytes/token\n";
    return setup;
}

void printText(const std::vector<ModelRow>& rows, const std::vector<std::int64_t>& contexts,
               const std::string& setup) {
    std::printf("%s", setup.c_str());
    std::vector<std::string> header{"model", "KV heads", "KV bytes/token", "parameters"};
    const ModelRow& first = rows.front();
    if (first.perplexity) header.push_back("perplexity");
    for (const auto& t : first.tasks) {
        header.push_back(t.task + " acc");
        header.push_back(t.task + " acc_norm");
    }
    for (auto n : contexts) header.push_back("tok/s@" + std::to_string(n));
    std::vector<std::vector<std::string>> table{header};
    for (const ModelRow& r : rows) {
        std::vector<std::string> line{r.name, std::to_string(r.kvHeads),
                                      std::to_string(r.kvCacheBytesPerToken),
                                      std::to_string(r.parameters)};
        if (r.perplexity) line.push_back(fixed(r.perplexity->perplexity, 2));
        for (const auto& t : r.tasks) {
            line.push_back(fixed(t.acc, 3) + " ± " + fixed(t.accStderr, 3));
            line.push_back(fixed(t.accNorm, 3) + " ± " + fixed(t.accNormStderr, 3));
        }
        if (r.decode)
            for (const auto& p : r.decode->points) line.push_back(fixed(p.tokensPerSecond, 1));
        table.push_back(line);
    }
    printTable(table);
}

void writeCsv(const std::string& path, const std::vector<ModelRow>& rows,
              const std::vector<std::int64_t>& contexts) {
    std::ofstream out(path);
    if (!out) throw InputError(path + ": cannot write the CSV file");
    const ModelRow& first = rows.front();
    out << "model,folder,kv_heads,kv_cache_bytes_per_token,parameters";
    if (first.perplexity) out << ",perplexity,mean_nll,ppl_tokens_scored,ppl_context,ppl_stride";
    for (const auto& t : first.tasks)
        for (const char* m : {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr", "n"})
            out << "," << csvField(t.task + "_" + m);
    for (auto n : contexts)
        out << ",decode_tokens_per_s_" << n << ",decode_ms_per_token_" << n
            << ",decode_median_ms_per_token_" << n << ",kv_cache_bytes_" << n;
    out << "\n";
    for (const ModelRow& r : rows) {
        out << csvField(r.name) << "," << csvField(r.identity.modelFolder) << "," << r.kvHeads
            << "," << r.kvCacheBytesPerToken << "," << r.parameters;
        if (const auto& p = r.perplexity)
            out << "," << csvNumber(p->perplexity) << "," << csvNumber(p->meanNll) << ","
                << p->tokensScored << "," << p->contextLength << "," << p->stride;
        for (const auto& t : r.tasks)
            out << "," << csvNumber(t.acc) << "," << csvNumber(t.accStderr) << ","
                << csvNumber(t.accNorm) << "," << csvNumber(t.accNormStderr) << "," << t.n;
        if (r.decode)
            for (const auto& p : r.decode->points)
                out << "," << csvNumber(p.tokensPerSecond) << "," << csvNumber(p.msPerToken) << ","
                    << csvNumber(p.medianMsPerToken) << "," << p.kvCacheBytes;
        out << "\n";
    }
    if (!out) throw Error(path + ": writing the CSV file failed");
}

Json rowJson(const ModelRow& r) {
    Json j{{"name", r.name},
           {"folder", r.identity.modelFolder},
           {"kv_heads", r.kvHeads},
           {"kv_cache_bytes_per_token", r.kvCacheBytesPerToken},
           {"parameters", r.parameters}};
    if (const auto& p = r.perplexity)
        j["perplexity"] = {{"perplexity", p->perplexity},        {"mean_nll", p->meanNll},
                           {"tokens_scored", p->tokensScored},   {"windows", p->windows},
                           {"context_length", p->contextLength}, {"stride", p->stride}};
    Json tasks = Json::object();
    for (const auto& t : r.tasks)
        tasks[t.task] = {{"acc", t.acc},
                         {"acc_stderr", t.accStderr},
                         {"acc_norm", t.accNorm},
                         {"acc_norm_stderr", t.accNormStderr},
                         {"n", t.n},
                         {"truncated_items", t.truncatedItems}};
    j["tasks"] = tasks;
    Json decode = Json::array();
    if (r.decode)
        for (const auto& p : r.decode->points)
            decode.push_back({{"context_length", p.contextLength},
                              {"tokens_per_second", p.tokensPerSecond},
                              {"ms_per_token", p.msPerToken},
                              {"median_ms_per_token", p.medianMsPerToken},
                              {"prefill_seconds", p.prefillSeconds},
                              {"kv_cache_bytes", p.kvCacheBytes},
                              {"beyond_max_positions", p.beyondMaxPositions}});
    j["decode"] = decode;
    return j;
}

/// Appends the evaluation to the run file with each model's identity (config.json text, absolute
/// folder, tensor checksum); returns the entry's name.
std::string recordEvaluation(RunFile& file, std::vector<ModelRow> rows, const Json& settings,
                             const std::vector<std::string>& warnings) {
    EvaluationRecord record;
    record.settingsJson = settings.dump();
    record.warnings = warnings;
    for (ModelRow& r : rows) r.identity = modelIdentity(r.identity.modelFolder);
    record.models = std::move(rows);
    return RunFile::evaluationEntryName(file.appendEvaluation(record));
}
}  // namespace

int runEval(const std::vector<std::string>& args) {
    Arguments a(
        "eval",
        "Compares checkpoints side by side: KV heads, KV-cache bytes per token, parameters, "
        "perplexity on a text, zero-shot multiple-choice accuracy (acc, acc_norm; "
        "docs/evaluation.md) and greedy decode speed at given context lengths. All models get the "
        "same tokens (the first model's tokenizer), the same device and dtype.",
        {"model-folder..."},
        {{"text-file", "FILE", "UTF-8 text for perplexity (none: no perplexity)", ""},
         {"context", "N", "perplexity window length in tokens",
          std::to_string(kComparisonContextLength)},
         {"stride", "N", "tokens between perplexity window starts",
          std::to_string(kComparisonContextLength / 2)},
         {"max-tokens", "N", "score only the first N tokens of the text (0 = all)", "0"},
         {"tasks", "FILES", "comma-separated multiple-choice task files (.jsonl)", ""},
         {"decode-contexts", "LIST", "context lengths for decode speed, e.g. 256,1024,4096", ""},
         {"decode-steps", "N", "timed greedy decode steps per context (after 2 warm-up)", "32"},
         {"csv", "FILE", "also write the table as CSV", ""},
         {"run", "FILE",
          "append the results, settings and model identities to this run file's /evaluation "
          "(created when missing)",
          ""},
         deviceOption(),
         dtypeOption(),
         jsonOption(),
         quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    std::vector<std::string> folders;
    for (std::size_t i = 0; i < a.positionalCount(); ++i) folders.push_back(a.positional(i));

    // Everything that can be checked without the weights is checked first.
    std::vector<ModelConfig> configs;
    for (const auto& f : folders)
        configs.push_back(ModelConfig::fromFile((fs::path(f) / "config.json").string()));
    std::vector<MultipleChoiceTask> tasks;
    for (const auto& path : splitList(a.text("tasks")))
        tasks.push_back(readMultipleChoiceTask(path));
    const std::vector<std::int64_t> contexts =
        splitIntegers(a.text("decode-contexts"), "decode-contexts");
    DecodeSpeedConfig decodeConfig;
    decodeConfig.contextLengths = contexts;
    decodeConfig.steps = a.integer("decode-steps");
    if (!contexts.empty() && decodeConfig.steps < 1)
        throw InputError("--decode-steps must be at least 1");
    for (auto n : contexts)
        if (n < 1) throw InputError("--decode-contexts must be positive lengths");
    const PerplexityConfig pplConfig{a.integer("context"), a.integer("stride")};
    const std::int64_t maxTokens = a.integer("max-tokens");
    const bool wantText = a.has("text-file");
    const std::string text = wantText ? readTextFile(a.text("text-file")) : std::string();
    std::vector<std::string> warnings;
    if (wantText || !tasks.empty())
        for (std::size_t m = 1; m < folders.size(); ++m) {
            if (configs[m].vocabSize != configs[0].vocabSize)
                throw InputError(folders[m] + ": vocabulary of " +
                                 std::to_string(configs[m].vocabSize) + " differs from " +
                                 folders[0] + "'s " + std::to_string(configs[0].vocabSize) +
                                 "; perplexity and tasks need one tokenizer for all models");
            if (!sameFileContent(fs::path(folders[0]) / "tokenizer.model",
                                 fs::path(folders[m]) / "tokenizer.model"))
                warnings.push_back(folders[m] + ": tokenizer.model missing or different; " +
                                   folders[0] + "'s tokenizer is used for every model");
        }

    std::optional<RunFile> runFile;  // checked now, written after the evaluation
    if (a.has("run") && fs::exists(a.text("run"))) runFile = RunFile::open(a.text("run"));

    TerminalProgress progress(a.flag("quiet"));
    const std::vector<std::string> names = displayNames(folders);
    std::optional<Tokenizer> tokenizer;
    std::vector<std::int64_t> tokens;
    std::vector<ModelRow> rows;
    std::string deviceText;
    for (std::size_t m = 0; m < folders.size(); ++m) {
        ModelProgress sink(progress, "[" + std::to_string(m + 1) + "/" +
                                         std::to_string(folders.size()) + " " + names[m] + "] ");
        const DecoderModel model = loadModel(folders[m], a, sink);
        if (m == 0 && (wantText || !tasks.empty())) {
            tokenizer = Tokenizer::forModelFolder(folders[0], model.config());
            if (wantText) tokens = tokenizer->encode(text);
            if (maxTokens > 0 && std::int64_t(tokens.size()) > maxTokens) tokens.resize(maxTokens);
        }
        deviceText = model.device().str() + ", " + dtypeText(model.dtype());
        ModelRow row;
        row.name = names[m];
        row.identity.modelFolder = folders[m];
        row.kvHeads = model.layers.at(0).kProj.size(0) / model.config().headDim;
        // In the stored dtype, as every front end reports it (eval/modelcomparison.h), not in
        // the dtype this evaluation computes in.
        row.kvCacheBytesPerToken = storedKvCacheBytesPerToken(model.config());
        row.parameters = model.config().parameterCount();
        if (wantText) row.perplexity = perplexity(model, tokens, pplConfig, sink);
        for (const auto& task : tasks) {
            row.tasks.push_back(evaluateMultipleChoice(model, *tokenizer, task, sink));
            for (const auto& w : row.tasks.back().warnings) warnings.push_back(names[m] + ": " + w);
        }
        if (!contexts.empty()) {
            row.decode = measureDecodeSpeed(model, decodeConfig, sink);
            for (const auto& w : row.decode->warnings)
                if (std::find(warnings.begin(), warnings.end(), w) == warnings.end())
                    warnings.push_back(w);
        }
        rows.push_back(std::move(row));
    }
    progress.finish();

    Json settings{{"device", deviceText}};
    if (wantText)
        settings["perplexity_settings"] = {
            {"text_file", fs::absolute(a.text("text-file")).string()},
            {"context_length", rows.front().perplexity->contextLength},
            {"stride", rows.front().perplexity->stride},
            {"tokens", tokens.size()}};
    if (!tasks.empty()) {
        Json list = Json::array();
        for (const auto& t : tasks)
            list.push_back({{"name", t.name},
                            {"path", fs::absolute(t.path).string()},
                            {"items", t.items.size()}});
        settings["task_settings"] = list;
    }
    if (!contexts.empty())
        settings["decode_settings"] = {{"context_lengths", contexts},
                                       {"steps", decodeConfig.steps},
                                       {"warmup_steps", decodeConfig.warmupSteps},
                                       {"seed", decodeConfig.seed}};
    if (a.has("csv")) writeCsv(a.text("csv"), rows, contexts);
    if (a.has("run") && !runFile) runFile = RunFile::create(a.text("run"));
    const std::string entry =
        runFile ? recordEvaluation(*runFile, rows, settings, warnings) : std::string();
    if (a.flag("json")) {
        Json j = settings;
        j["warnings"] = warnings;
        Json models = Json::array();
        for (const auto& r : rows) models.push_back(rowJson(r));
        j["models"] = models;
        if (!entry.empty()) j["run_file"] = {{"path", runFile->path()}, {"entry", entry}};
        std::cout << j.dump(2) << "\n";
    } else {
        printText(rows, contexts,
                  setupText(deviceText, rows.front(), a.text("text-file"), tasks,
                            contexts.empty() ? nullptr : &decodeConfig));
        for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
        if (!entry.empty())
            std::printf("recorded in %s as %s\n", runFile->path().c_str(), entry.c_str());
    }
    return kExitOk;
}

}  // namespace gqa::cli
