// SPDX-License-Identifier: GPL-3.0-or-later
// The run file's /evaluation group (layout in docs/run-file.md): one append-only entry per
// `gqa-cli eval --run`.
#include <cmath>
#include <cstdio>
#include <ctime>

#include "runfile/runfile.h"
#include "runfile/runfileio.h"

namespace gqa {
using namespace runfileio;

namespace {
constexpr const char* kEvaluationGroup = "evaluation";
/// Columns of a model's decode/points dataset, in order.
const std::vector<std::string> kDecodeColumns{
    "context_length",  "tokens_per_second", "ms_per_token",        "median_ms_per_token",
    "prefill_seconds", "kv_cache_bytes",    "beyond_max_positions"};

std::string indexedName(const char* prefix, std::size_t index) {
    char name[48];
    std::snprintf(name, sizeof name, "%s_%03zu", prefix, index);
    return name;
}

std::string utcNow() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

std::size_t countEntries(const H5::Group& g, const char* prefix) {
    std::size_t n = 0;
    while (hasLink(g, indexedName(prefix, n))) ++n;
    return n;
}

void writeModel(H5::Group& entry, std::size_t index, const EvaluatedModel& m) {
    H5::Group g = entry.createGroup(indexedName("model", index));
    writeString(g, "name", m.name);
    writeString(g, "model_folder", m.identity.modelFolder);
    writeString(g, "config_json", m.identity.configJson);
    writeString(g, "checksum", m.identity.checksum);
    writeInt(g, "kv_heads", m.kvHeads);
    writeInt(g, "parameters", m.parameters);
    writeInt(g, "kv_cache_bytes_per_token", std::int64_t(m.kvCacheBytesPerToken));
    if (const auto& p = m.perplexity) {
        H5::Group pg = g.createGroup("perplexity");
        writeDouble(pg, "perplexity", p->perplexity);
        writeDouble(pg, "mean_nll", p->meanNll);
        writeInt(pg, "tokens_scored", p->tokensScored);
        writeInt(pg, "windows", p->windows);
        writeInt(pg, "context_length", p->contextLength);
        writeInt(pg, "stride", p->stride);
    }
    H5::Group tasks = g.createGroup("tasks");
    for (std::size_t t = 0; t < m.tasks.size(); ++t) {
        const MultipleChoiceResult& r = m.tasks[t];
        H5::Group tg = tasks.createGroup(indexedName("task", t));
        writeString(tg, "task", r.task);
        writeInt(tg, "n", r.n);
        writeDouble(tg, "acc", r.acc);
        writeDouble(tg, "acc_stderr", r.accStderr);
        writeDouble(tg, "acc_norm", r.accNorm);
        writeDouble(tg, "acc_norm_stderr", r.accNormStderr);
        writeInt(tg, "truncated_items", r.truncatedItems);
    }
    if (const auto& d = m.decode) {
        H5::Group dg = g.createGroup("decode");
        writeInt(dg, "kv_heads", d->kvHeads);
        writeInt(dg, "element_bytes", std::int64_t(d->elementBytes));
        writeInt(dg, "kv_cache_bytes_per_token", std::int64_t(d->kvCacheBytesPerToken));
        writeStrings(dg, "columns", kDecodeColumns);
        std::vector<double> rows;
        for (const DecodeSpeedPoint& p : d->points)
            rows.insert(rows.end(), {double(p.contextLength), p.tokensPerSecond, p.msPerToken,
                                     p.medianMsPerToken, p.prefillSeconds, double(p.kvCacheBytes),
                                     p.beyondMaxPositions ? 1.0 : 0.0});
        writeDoubles(dg, "points", {d->points.size(), kDecodeColumns.size()}, rows);
    }
}

EvaluatedModel readModel(const H5::Group& g, const std::string& where) {
    EvaluatedModel m;
    m.name = readString(g, "name");
    m.identity = {readString(g, "config_json"), readString(g, "model_folder"),
                  readString(g, "checksum")};
    m.kvHeads = readInt(g, "kv_heads");
    m.parameters = readInt(g, "parameters");
    m.kvCacheBytesPerToken = std::uint64_t(readInt(g, "kv_cache_bytes_per_token"));
    if (hasLink(g, "perplexity")) {
        const H5::Group pg = g.openGroup("perplexity");
        PerplexityResult p;
        p.perplexity = readDouble(pg, "perplexity");
        p.meanNll = readDouble(pg, "mean_nll");
        p.tokensScored = readInt(pg, "tokens_scored");
        p.windows = readInt(pg, "windows");
        p.contextLength = readInt(pg, "context_length");
        p.stride = readInt(pg, "stride");
        m.perplexity = p;
    }
    if (hasLink(g, "tasks")) {
        const H5::Group tasks = g.openGroup("tasks");
        for (std::size_t t = 0, n = countEntries(tasks, "task"); t < n; ++t) {
            const H5::Group tg = tasks.openGroup(indexedName("task", t));
            MultipleChoiceResult r;
            r.task = readString(tg, "task");
            r.n = readInt(tg, "n");
            r.acc = readDouble(tg, "acc");
            r.accStderr = readDouble(tg, "acc_stderr");
            r.accNorm = readDouble(tg, "acc_norm");
            r.accNormStderr = readDouble(tg, "acc_norm_stderr");
            r.truncatedItems = readInt(tg, "truncated_items");
            m.tasks.push_back(std::move(r));
        }
    }
    if (hasLink(g, "decode")) {
        const H5::Group dg = g.openGroup("decode");
        DecodeSpeedResult d;
        d.kvHeads = readInt(dg, "kv_heads");
        d.elementBytes = std::size_t(readInt(dg, "element_bytes"));
        d.kvCacheBytesPerToken = std::uint64_t(readInt(dg, "kv_cache_bytes_per_token"));
        const Doubles points = readDoubles(dg, "points", 2, where + "/decode");
        if (points.dims[1] != kDecodeColumns.size())
            throw InputError(where + "/decode/points: expected " +
                             std::to_string(kDecodeColumns.size()) + " columns");
        for (std::size_t i = 0; i < points.dims[0]; ++i) {
            const double* r = points.values.data() + i * kDecodeColumns.size();
            d.points.push_back({std::int64_t(r[0]), r[1], r[2], r[3], r[4],
                                std::uint64_t(std::llround(r[5])), r[6] != 0.0});
        }
        m.decode = std::move(d);
    }
    return m;
}
}  // namespace

std::int64_t RunFile::appendEvaluation(const EvaluationRecord& record) {
    std::int64_t index = 0;
    writeStage(
        m_path, kEvaluationGroup,
        [&](H5::Group& evaluation) {
            index = std::int64_t(countEntries(evaluation, "eval"));
            H5::Group entry = evaluation.createGroup(indexedName("eval", std::size_t(index)));
            writeString(entry, "time", record.time.empty() ? utcNow() : record.time);
            writeString(entry, "writer", std::string("GQA Studio ") + GQA_VERSION);
            writeString(entry, "settings_json", record.settingsJson);
            writeStrings(entry, "warnings", record.warnings);
            for (std::size_t m = 0; m < record.models.size(); ++m)
                writeModel(entry, m, record.models[m]);
        },
        true);
    return index;
}

std::string RunFile::evaluationEntryName(std::int64_t index) {
    return std::string("/") + kEvaluationGroup + "/" + indexedName("eval", std::size_t(index));
}

std::int64_t RunFile::evaluationCount() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        if (!hasLink(file, kEvaluationGroup)) return std::int64_t(0);
        return std::int64_t(countEntries(file.openGroup(kEvaluationGroup), "eval"));
    });
}

std::vector<EvaluationRecord> RunFile::readEvaluations() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        std::vector<EvaluationRecord> out;
        if (!hasLink(file, kEvaluationGroup)) return out;
        const H5::Group evaluation = file.openGroup(kEvaluationGroup);
        for (std::size_t e = 0, n = countEntries(evaluation, "eval"); e < n; ++e) {
            const std::string name = indexedName("eval", e);
            const std::string where = m_path + ": /evaluation/" + name;
            const H5::Group entry = evaluation.openGroup(name);
            EvaluationRecord r;
            r.time = readString(entry, "time");
            r.settingsJson = readString(entry, "settings_json");
            r.warnings = readStrings(entry, "warnings");
            for (std::size_t m = 0, k = countEntries(entry, "model"); m < k; ++m) {
                const std::string model = indexedName("model", m);
                r.models.push_back(readModel(entry.openGroup(model), where + "/" + model));
            }
            out.push_back(std::move(r));
        }
        return out;
    });
}

}  // namespace gqa
