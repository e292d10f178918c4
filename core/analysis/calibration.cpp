// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/calibration.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/threadpolicy.h"
#include "text/tokenizer.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {

// Plain-text files are tokenized in pieces of about this many bytes, cut at line ends, so that a
// large file is never held whole and reading stops once enough sequences are found.
constexpr std::size_t kTextChunkBytes = 1 << 20;

std::string lowerExtension(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return ext;
}

/// Collects sequences of BOS + (length - 1) text tokens until `wanted` are found.
class SequenceCollector {
public:
    SequenceCollector(std::int64_t bos, std::int64_t length, std::int64_t wanted)
        : m_bos(bos), m_length(length), m_wanted(wanted) {}

    bool full() const { return std::int64_t(m_sequences.size()) >= m_wanted; }
    /// A .jsonl document: its first length - 1 tokens, or nothing when it is shorter.
    void addDocument(const std::vector<std::int64_t>& tokens) {
        if (std::int64_t(tokens.size()) >= m_length - 1)
            emit(tokens.begin(), tokens.begin() + (m_length - 1));
    }
    /// Part of a .txt file: consecutive windows; the remainder waits for the next part.
    void addStream(const std::vector<std::int64_t>& tokens) {
        m_pending.insert(m_pending.end(), tokens.begin(), tokens.end());
        std::size_t used = 0;
        while (!full() && std::int64_t(m_pending.size() - used) >= m_length - 1) {
            emit(m_pending.begin() + used, m_pending.begin() + used + (m_length - 1));
            used += std::size_t(m_length - 1);
        }
        m_pending.erase(m_pending.begin(), m_pending.begin() + used);
    }
    /// End of a .txt file: a window shorter than a sequence is dropped.
    void endStream() { m_pending.clear(); }
    std::vector<std::vector<std::int64_t>> take() { return std::move(m_sequences); }
    std::int64_t count() const { return std::int64_t(m_sequences.size()); }

private:
    template <class It>
    void emit(It begin, It end) {
        std::vector<std::int64_t> seq{m_bos};
        seq.insert(seq.end(), begin, end);
        m_sequences.push_back(std::move(seq));
    }

    std::int64_t m_bos, m_length, m_wanted;
    std::vector<std::int64_t> m_pending;
    std::vector<std::vector<std::int64_t>> m_sequences;
};

void readJsonl(const std::string& path, const Tokenizer& tokenizer, SequenceCollector& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open (no such file or not readable)");
    std::string line;
    for (std::int64_t lineNo = 1; !out.full() && std::getline(in, line); ++lineNo) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
        const std::string where = path + ":" + std::to_string(lineNo) + ": ";
        nlohmann::json doc;
        try {
            doc = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception&) {
            throw InputError(where +
                             "not valid JSON (expected one {\"text\": ...} object per line)");
        }
        if (!doc.is_object() || !doc.contains("text") || !doc["text"].is_string())
            throw InputError(where + "expected an object with a string \"text\" field");
        out.addDocument(tokenizer.encodePlain(doc["text"].get<std::string>()));
    }
    if (in.bad()) throw InputError(path + ": read error");
}

void readText(const std::string& path, const Tokenizer& tokenizer, SequenceCollector& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open (no such file or not readable)");
    std::string chunk, line;
    while (!out.full() && std::getline(in, line)) {
        chunk += line;
        if (!in.eof()) chunk += '\n';
        if (chunk.size() >= kTextChunkBytes) {
            out.addStream(tokenizer.encodePlain(chunk));
            chunk.clear();
        }
    }
    if (in.bad()) throw InputError(path + ": read error");
    if (!chunk.empty() && !out.full()) out.addStream(tokenizer.encodePlain(chunk));
    out.endStream();
}

/// Accumulates every layer's key and value statistics, on the model's device.
class StatisticsObserver final : public AttentionObserver {
public:
    explicit StatisticsObserver(const DecoderModel& model) {
        const ModelConfig& c = model.config();
        for (std::int64_t l = 0; l < c.numLayers; ++l) {
            const std::int64_t kv = model.layers[l].kProj.size(0) / c.headDim;
            // Plane-only key statistics need every dimension in a RoPE plane.
            const bool fullRotary = c.rotaryDims() == c.headDim;
            LayerStatistics s{
                GramStatistics::zeros(kv, c.headDim, /*ropePlanesOnly=*/fullRotary, c.rotaryDims()),
                GramStatistics::zeros(kv, c.headDim)};
            for (GramStatistics* g : {&s.keys, &s.values}) {
                g->raw = g->raw.to(model.device());
                g->normalized = g->normalized.to(model.device());
            }
            m_layers.push_back(std::move(s));
        }
    }

    void observe(std::int64_t layer, const torch::Tensor& keys,
                 const torch::Tensor& values) override {
        m_layers.at(layer).keys.accumulate(tokenRows(keys));
        m_layers.at(layer).values.accumulate(tokenRows(values));
    }

    std::vector<LayerStatistics> takeOnCpu() {
        for (LayerStatistics& s : m_layers)
            for (GramStatistics* g : {&s.keys, &s.values}) {
                g->raw = g->raw.cpu();
                g->normalized = g->normalized.cpu();
            }
        return std::move(m_layers);
    }

private:
    std::vector<LayerStatistics> m_layers;
};

}  // namespace

std::int64_t defaultSequenceLength(const ModelConfig& config) {
    return std::min(CalibrationConfig::kReferenceSequenceLength, config.maxPositionEmbeddings);
}

std::vector<std::vector<std::int64_t>> calibrationSequences(const CalibrationConfig& config,
                                                            const Tokenizer& tokenizer,
                                                            ProgressSink& progress) {
    if (config.inputFiles.empty()) throw InputError("calibration needs at least one input file");
    if (config.sequenceLength < 2)
        throw InputError("calibration sequence length must be at least 2");
    if (config.numSequences < 1) throw InputError("calibration needs at least one sequence");
    SequenceCollector collector(tokenizer.bosId(), config.sequenceLength, config.numSequences);
    for (const std::string& file : config.inputFiles) {
        if (collector.full()) break;
        reportOrCancel(progress, {0.0, "reading calibration text", {}});
        const std::string ext = lowerExtension(file);
        if (ext == ".jsonl")
            readJsonl(file, tokenizer, collector);
        else if (ext == ".txt")
            readText(file, tokenizer, collector);
        else
            throw InputError(file + ": unsupported calibration input (expected .txt or .jsonl)");
    }
    if (!collector.full())
        throw InputError("the calibration text gives only " + std::to_string(collector.count()) +
                         " sequence(s) of " + std::to_string(config.sequenceLength) + " tokens; " +
                         std::to_string(config.numSequences) +
                         " are needed (add text, or lower the number or length of sequences)");
    return collector.take();
}

std::vector<torch::Tensor> checkedTokenBatches(
    const std::vector<std::vector<std::int64_t>>& sequences, std::int64_t batchSize,
    const ModelConfig& c, const std::string& user) {
    if (sequences.empty()) throw InputError(user + " needs at least one token sequence");
    if (batchSize < 1) throw InputError(user + ": the batch size must be at least 1");
    const std::int64_t length = std::int64_t(sequences.front().size());
    if (length < 1) throw InputError(user + ": token sequences must not be empty");
    if (length > c.maxPositionEmbeddings)
        throw InputError(user + ": sequence length " + std::to_string(length) +
                         " exceeds the model's max_position_embeddings (" +
                         std::to_string(c.maxPositionEmbeddings) + ")");
    std::vector<torch::Tensor> batches;
    const std::int64_t total = std::int64_t(sequences.size());
    for (std::int64_t begin = 0; begin < total; begin += batchSize) {
        const std::int64_t end = std::min(begin + batchSize, total);
        std::vector<std::int64_t> flat;
        flat.reserve(std::size_t((end - begin) * length));
        for (std::int64_t s = begin; s < end; ++s) {
            if (std::int64_t(sequences[std::size_t(s)].size()) != length)
                throw InputError(user + ": token sequences must all have the same length");
            for (std::int64_t id : sequences[std::size_t(s)])
                if (id < 0 || id >= c.vocabSize)
                    throw InputError(user + ": token id " + std::to_string(id) +
                                     " is outside the model's vocabulary (" +
                                     std::to_string(c.vocabSize) + ")");
            flat.insert(flat.end(), sequences[std::size_t(s)].begin(),
                        sequences[std::size_t(s)].end());
        }
        batches.push_back(torch::tensor(flat, torch::kLong).view({end - begin, length}));
    }
    return batches;
}

std::vector<LayerStatistics> calibrateTokens(
    const DecoderModel& model, const std::vector<std::vector<std::int64_t>>& sequences,
    std::int64_t batchSize, ProgressSink& progress) {
    const ModelConfig& c = model.config();
    const std::vector<torch::Tensor> batches =
        checkedTokenBatches(sequences, batchSize, c, "calibration");
    useThreadsForModel(c.hiddenSize);
    torch::NoGradGuard noGrad;
    StatisticsObserver observer(model);
    ForwardOptions options;
    options.observer = &observer;
    const double total = double(sequences.size());
    const auto start = std::chrono::steady_clock::now();
    reportOrCancel(progress, {0.0, "calibrating", {}});
    std::int64_t done = 0, tokens = 0;
    for (const torch::Tensor& batch : batches) {
        model.hiddenStates(batch.to(model.device()), options);  // the observer does the work
        done += batch.size(0);
        tokens += batch.numel();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double tokensPerSecond = double(tokens) / std::max(seconds, 1e-9);
        reportOrCancel(progress, {double(done) / total, "calibrating",
                                  {{"tokens/s", tokensPerSecond}}});
    }
    return observer.takeOnCpu();
}

CalibrationResult calibrate(const DecoderModel& model, const CalibrationConfig& config,
                            ProgressSink& progress) {
    CalibrationConfig resolved = config;
    if (resolved.sequenceLength == 0)
        resolved.sequenceLength = defaultSequenceLength(model.config());
    if (resolved.sequenceLength > model.config().maxPositionEmbeddings)
        throw InputError("calibration sequence length " + std::to_string(resolved.sequenceLength) +
                         " exceeds the model's max_position_embeddings (" +
                         std::to_string(model.config().maxPositionEmbeddings) + ")");
    if (resolved.batchSize < 1) throw InputError("calibration batch size must be at least 1");

    std::optional<Tokenizer> loaded;
    const Tokenizer* tokenizer = config.tokenizer;
    if (!tokenizer) {
        if (config.modelFolder.empty())
            throw InputError("calibration needs a tokenizer or the model folder holding one");
        loaded.emplace(Tokenizer::forModelFolder(config.modelFolder, model.config()));
        tokenizer = &*loaded;
    }

    CalibrationResult result;
    const auto sequences = calibrationSequences(resolved, *tokenizer, progress);
    result.layers = calibrateTokens(model, sequences, resolved.batchSize, progress);
    result.tokens = resolved.numSequences * resolved.sequenceLength;
    result.settings.inputFiles = absoluteInputPaths(config.inputFiles);
    result.settings.inputChecksum = filesChecksum(config.inputFiles);
    result.settings.numSequences = resolved.numSequences;
    result.settings.sequenceLength = resolved.sequenceLength;
    result.settings.batchSize = resolved.batchSize;
    result.settings.tokens = result.tokens;

    const std::int64_t referenceTokens =
        CalibrationConfig::kReferenceSequences * CalibrationConfig::kReferenceSequenceLength;
    if (result.tokens < referenceTokens)
        result.warnings.push_back("calibrated on " + std::to_string(result.tokens) +
                                  " tokens; the paper's setting is " +
                                  std::to_string(referenceTokens) + " (128 x 2048)");
    return result;
}

std::vector<std::string> absoluteInputPaths(const std::vector<std::string>& files) {
    std::vector<std::string> out;
    for (const std::string& f : files) out.push_back(fs::absolute(f).lexically_normal().string());
    return out;
}

std::string filesChecksum(const std::vector<std::string>& files) {
    // 64-bit FNV-1a (offset basis and prime from the FNV reference,
    // isthe.com/chongo/tech/comp/fnv).
    constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
    constexpr std::uint64_t kFnvPrime = 1099511628211ull;
    std::uint64_t h = kFnvOffset;
    std::vector<char> buffer(1 << 20);
    for (const std::string& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw InputError(file + ": cannot open (no such file or not readable)");
        while (in) {
            in.read(buffer.data(), std::streamsize(buffer.size()));
            const std::streamsize n = in.gcount();
            for (std::streamsize i = 0; i < n; ++i) {
                h ^= static_cast<unsigned char>(buffer[std::size_t(i)]);
                h *= kFnvPrime;
            }
        }
        if (in.bad()) throw InputError(file + ": read error");
    }
    char text[40];
    std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
    return text;
}

}  // namespace gqa
