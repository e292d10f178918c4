// SPDX-License-Identifier: GPL-3.0-or-later
#include "reportdata.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QtGlobal>
#include <nlohmann/json.hpp>

#include "runfile/runfolder.h"
#include "io/checkpoint.h"
#include "base/dtype.h"
#include "base/error.h"
#include "alignment/alignment.h"
#include "alignment/leastsquaresmerge.h"
#include "alignment/mergedgqa.h"
#include "analysis/groupingfile.h"
#include "analysis/headanalysis.h"
#include "model/decodermodel.h"
#include "eval/modelcomparison.h"
#include "eval/perplexity.h"
#include "runfile/runfile.h"
#include "text/tokenizer.h"
#include "base/versions.h"

namespace gqa {
namespace {
using Json = nlohmann::json;

std::string local(const QString& s) { return QFile::encodeName(s).toStdString(); }
QString qs(const std::string& s) { return QString::fromStdString(s); }

/// Maps a core operation's progress into [from, to] of the report's and forwards cancellation.
class RangeSink final : public ProgressSink {
public:
    RangeSink(const ReportProgress& p, double from, double to) : m_p(p), m_from(from), m_to(to) {}
    bool report(const ProgressUpdate& u) override {
        return !m_p ||
               m_p(m_from + (m_to - m_from) * std::clamp(u.fraction, 0.0, 1.0), qs(u.stage));
    }

private:
    const ReportProgress& m_p;
    double m_from, m_to;
};

void step(const ReportProgress& p, double fraction, const QString& stage) {
    if (p && !p(fraction, stage)) throw Cancelled("report cancelled");
}

std::vector<double> flat(const torch::Tensor& t) {
    const torch::Tensor c = t.to(torch::kFloat64).contiguous().cpu();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

/// The groups the run trained, from its training settings (conversionsession.cpp writes them);
/// empty when it recorded none (older runs, a student aligned outside the pipeline) or they do
/// not fit the calibration, and then d.groupingSource says that the report searched them.
std::vector<Grouping> recordedGroupings(ReportData& d, const std::vector<LayerStatistics>& stats) {
    d.groupingSource = QStringLiteral("searched by the report (the run recorded no groups)");
    const Json settings = Json::parse(local(d.settingsJson), nullptr, false);
    if (settings.is_discarded() || !settings.contains("groupings") || stats.empty()) return {};
    try {
        std::vector<Grouping> groupings =
            groupingsFromJsonText(settings["groupings"].dump(), "the run's groups", stats.size(),
                                  stats.front().values.heads, d.groups);
        const std::string source = settings.value("grouping_source", "");
        d.groupingSource = source == groupingSourceName(GroupingSource::Given)
                               ? QStringLiteral("given by the user (edited or from a file)")
                           : source == groupingSourceName(GroupingSource::Consecutive)
                               ? QStringLiteral("consecutive heads (the mean-pool start)")
                               : QStringLiteral("searched by the run");
        return groupings;
    } catch (const InputError& e) {
        d.notes << QStringLiteral("The run's recorded groups were not used: %1").arg(qs(e.what()));
        return {};
    }
}

void gatherAnalysis(ReportData& d, const RunFile& run, const ReportConfig& config,
                    const ReportProgress& progress) {
    if (!run.hasCalibration()) {
        d.notes << QStringLiteral("The run file holds no calibration: no similarity figures.");
        return;
    }
    const StoredCalibration cal = run.readCalibration();
    const auto& s = cal.settings;
    QStringList files;
    for (const auto& f : s.inputFiles) files << qs(f);
    d.calibrationSummary << QStringLiteral("input files: %1").arg(files.join(QStringLiteral(", ")))
                         << QStringLiteral("sequences: %1 x %2 tokens (batch %3), %4 tokens")
                                .arg(s.numSequences)
                                .arg(s.sequenceLength)
                                .arg(s.batchSize)
                                .arg(s.tokens)
                         << QStringLiteral("input checksum: %1").arg(qs(s.inputChecksum));
    if (d.groups <= 0 || d.heads % d.groups != 0) {
        d.notes << QStringLiteral("No valid G in the training settings: no groupings.");
        return;
    }
    AnalysisConfig a;
    a.groupCounts = {d.groups};
    a.restarts =
        20;  // the similarity figures; groups and costs are the run's when it recorded them
    RangeSink sink(progress, 0.05, 0.35);
    const AnalysisResult r = analyzeHeads(cal.layers, a, sink);
    const int layers = int(r.layers.size());
    const std::vector<Grouping> trained = recordedGroupings(d, cal.layers);
    const int shown = std::clamp(config.similarityLayers, 1, std::max(1, layers));
    std::vector<int> picked;
    for (int i = 0; i < shown; ++i) {
        const int l = shown == 1 ? 0 : int(std::lround(double(i) * (layers - 1) / (shown - 1)));
        if (picked.empty() || picked.back() != l) picked.push_back(l);
    }
    for (int l = 0; l < layers; ++l) {
        const auto& m = a.groupBy == HeadKind::Keys ? r.layers[l].keys : r.layers[l].values;
        d.meanSimilarityBefore.push_back(meanOffDiagonal(m.before));
        d.meanSimilarityAfter.push_back(meanOffDiagonal(m.after));
        auto mean = [](const MergeCost& c) { return 0.5 * (c.keyRelative + c.valueRelative); };
        if (trained.empty()) {
            const GroupingChoice& choice = r.choice(l, d.groups);
            d.groupings.push_back(choice.grouping);
            d.mergeCosts.push_back({mean(choice.baselineCost), mean(choice.alignedCost),
                                    mean(choice.leastSquaresCost)});
        } else {
            const LayerStatistics& stats = cal.layers[std::size_t(l)];
            AlignmentConfig align;
            align.criterion = a.criterion;
            const LayerStatistics aligned =
                alignedStatistics(stats, alignLayer(stats, trained[std::size_t(l)], align));
            d.groupings.push_back(trained[std::size_t(l)]);
            d.mergeCosts.push_back({mean(predictMergeCost(stats, d.groups)),
                                    mean(predictMergeCost(aligned, d.groups)),
                                    mean(predictLeastSquaresMergeCost(aligned, d.groups))});
        }
        if (std::find(picked.begin(), picked.end(), l) == picked.end()) continue;
        ReportLayerSimilarity sim;
        sim.layer = l;
        sim.heads = int(m.before.size(0));
        sim.before = flat(m.before);
        sim.after = flat(m.after);
        sim.meanBefore = d.meanSimilarityBefore.back();
        sim.meanAfter = d.meanSimilarityAfter.back();
        d.similarity.push_back(std::move(sim));
    }
}

void gatherTraining(ReportData& d, const RunFile& run) {
    if (!run.hasTrainingHistory()) {
        d.notes << QStringLiteral("The run file holds no training history.");
        return;
    }
    const RunFile::StoredTraining t = run.readTrainingHistory();
    d.metricNames = t.history.metricNames;
    d.metrics = t.history.rows;
    d.gates = t.history.gates;
    for (const auto& [stepIndex, loss] : t.validation)
        d.validation.push_back({double(stepIndex), loss});
    if (t.settingsJson.empty()) return;
    const Json settings = Json::parse(t.settingsJson, nullptr, false);
    if (settings.is_discarded()) return;
    d.settingsJson = qs(settings.dump(2));
    d.groups = settings.value("groups", 0);
    d.heldOutText = qs(settings.value("validation_file", ""));
    if (settings.contains("result")) {
        const Json& res = settings["result"];
        if (d.exportFolder.isEmpty()) d.exportFolder = qs(res.value("export_folder", ""));
        d.exportVerified = res.value("export_verified", false);
        d.exportMaxRelativeLogitDiff =
            res.value("export_max_relative_logit_diff", std::numeric_limits<double>::quiet_NaN());
    }
}

QString fixed(double v, int decimals) {
    return std::isfinite(v) ? QString::number(v, 'f', decimals) : QStringLiteral("–");
}

/// The lines above a stored evaluation's table, from its settings JSON.
QStringList storedSetup(const EvaluationRecord& r) {
    QStringList lines;
    const Json s = Json::parse(r.settingsJson, nullptr, false);
    if (!s.is_object()) return lines;
    lines << QStringLiteral("device: %1").arg(qs(s.value("device", "")));
    if (s.contains("perplexity_settings")) {
        const Json& p = s["perplexity_settings"];
        lines << QStringLiteral("perplexity: %1, %2 tokens, context %3, stride %4")
                     .arg(qs(p.value("text_file", "")))
                     .arg(p.value("tokens", 0))
                     .arg(p.value("context_length", 0))
                     .arg(p.value("stride", 0));
    }
    if (s.contains("task_settings"))
        for (const Json& t : s["task_settings"])
            lines << QStringLiteral("task %1: %2 items (%3)")
                         .arg(qs(t.value("name", "")))
                         .arg(t.value("items", 0))
                         .arg(qs(t.value("path", "")));
    if (s.contains("decode_settings"))
        lines << QStringLiteral("decode: greedy, %1 timed steps per context length")
                     .arg(s["decode_settings"].value("steps", 0));
    for (const auto& w : r.warnings) lines << QStringLiteral("warning: %1").arg(qs(w));
    return lines;
}

void gatherStoredEvaluations(ReportData& d, const RunFile& run) {
    for (const EvaluationRecord& r : run.readEvaluations()) {
        if (r.models.empty()) continue;
        ReportStoredEvaluation e;
        e.time = qs(r.time);
        e.setup = storedSetup(r);
        const EvaluatedModel& first = r.models.front();
        e.header << QStringLiteral("model") << QStringLiteral("KV heads")
                 << QStringLiteral("KV bytes/token");
        if (first.perplexity) e.header << QStringLiteral("perplexity");
        for (const auto& t : first.tasks)
            e.header << qs(t.task) + QStringLiteral(" acc")
                     << qs(t.task) + QStringLiteral(" acc_norm");
        if (first.decode)
            for (const auto& p : first.decode->points)
                e.header << QStringLiteral("tok/s@%1").arg(p.contextLength);
        for (const EvaluatedModel& m : r.models) {
            QStringList row{qs(m.name), QString::number(m.kvHeads),
                            QString::number(m.kvCacheBytesPerToken)};
            if (m.perplexity) row << fixed(m.perplexity->perplexity, 2);
            for (const auto& t : m.tasks)
                row << fixed(t.acc, 3) + QStringLiteral(" ± ") + fixed(t.accStderr, 3)
                    << fixed(t.accNorm, 3) + QStringLiteral(" ± ") + fixed(t.accNormStderr, 3);
            if (m.decode)
                for (const auto& p : m.decode->points) row << fixed(p.tokensPerSecond, 1);
            e.rows.push_back(row);
        }
        d.storedEvaluations.push_back(std::move(e));
    }
}

void gatherEvaluation(ReportData& d, const ModelConfig& original, const ReportConfig& config,
                      const ReportProgress& progress) {
    ReportEvaluationRow mha{QStringLiteral("original MHA"),       d.modelFolder, original.numHeads,
                            storedKvCacheBytesPerToken(original), std::nan(""),  0};
    d.evaluation.push_back(mha);
    if (d.exportFound) {
        const ModelConfig g = ModelConfig::fromFile(local(d.exportFolder + "/config.json"));
        d.evaluation.push_back({QStringLiteral("exported GQA"), d.exportFolder, g.numKvHeads,
                                storedKvCacheBytesPerToken(g), std::nan(""), 0});
    }
    QString text = config.evaluationText;
    if (text.isEmpty() && !d.heldOutText.isEmpty() && QFileInfo::exists(d.heldOutText))
        text = d.heldOutText;  // the run's own held-out text
    if (text.isEmpty() && !d.calibrationSummary.isEmpty()) {
        const StoredCalibration cal = RunFile::open(local(d.runFile)).readCalibration();
        if (!cal.settings.inputFiles.empty()) {
            text = qs(cal.settings.inputFiles.front());
            d.evaluationNote = QStringLiteral(
                "No held-out text was given: perplexity is on the calibration text (not held "
                "out).");
        }
    }
    if (config.maxTokens <= 0) {
        d.evaluationNote = QStringLiteral("Perplexity skipped (--max-tokens 0).");
        return;
    }
    if (text.isEmpty() || !QFileInfo::exists(text)) {
        d.evaluationNote = QStringLiteral("Perplexity skipped: the evaluation text %1 is missing.")
                               .arg(text.isEmpty() ? QStringLiteral("(none)") : text);
        return;
    }
    if (!QFileInfo::exists(d.modelFolder + "/config.json")) {
        d.evaluationNote =
            QStringLiteral("Perplexity skipped: the original model folder %1 is missing.")
                .arg(d.modelFolder);
        return;
    }
    d.evaluationTextFile = text;
    // Core's one comparison (eval/modelcomparison.h): the wizard's protocol.
    ComparisonConfig comparison;
    for (const auto& row : d.evaluation) comparison.modelFolders.push_back(local(row.folder));
    comparison.textFile = local(text);
    comparison.maxTokens = config.maxTokens;
    step(progress, 0.4, QStringLiteral("perplexity of the models"));
    RangeSink sink(progress, 0.4, 0.9);
    const ModelComparison compared = compareModels(comparison, sink);
    for (std::size_t i = 0; i < d.evaluation.size(); ++i) {
        d.evaluation[i].perplexity = compared.models[i].perplexity.perplexity;
        d.evaluation[i].tokensScored = compared.models[i].perplexity.tokensScored;
    }
    d.evaluationProtocol = QString::fromStdString(compared.protocolText());
}
}  // namespace

std::vector<double> ReportData::column(const std::string& name) const {
    const auto it = std::find(metricNames.begin(), metricNames.end(), name);
    if (it == metricNames.end()) return {};
    const std::size_t c = std::size_t(it - metricNames.begin());
    std::vector<double> out;
    for (const auto& row : metrics) out.push_back(c < row.size() ? row[c] : std::nan(""));
    return out;
}

ReportData gatherReportData(const ReportConfig& config, const ReportProgress& progress) {
    ReportData d;
    d.runFolder = QDir(config.runFolder).absolutePath();
    d.runFile = config.runFile.isEmpty()
                    ? QString::fromStdString(RunFolder(local(d.runFolder)).runFile())
                    : config.runFile;
    if (!QFileInfo::exists(d.runFile))
        throw InputError("no run file " + local(d.runFile) +
                         " (give a conversion training output folder)");
    step(progress, 0.0, QStringLiteral("reading the run file"));
    const RunFile run = RunFile::open(local(d.runFile));
    if (!run.hasModelIdentity()) throw InputError(local(d.runFile) + " records no model identity");
    const ModelIdentity id = run.readModelIdentity();
    const ModelConfig c = ModelConfig::fromJson(id.configJson, local(d.runFile));
    d.modelFolder = qs(id.modelFolder);
    d.modelName = QFileInfo(d.modelFolder).fileName();
    d.configJson = qs(Json::parse(id.configJson).dump(2));
    d.parameterCount = c.parameterCount();
    d.family = qs(c.familySummary());
    d.layers = int(c.numLayers);
    d.heads = int(c.numHeads);
    d.headDim = int(c.headDim);
    d.configSummary
        << QStringLiteral("family: %1").arg(d.family)
        << QStringLiteral("layers: %1").arg(c.numLayers)
        << QStringLiteral("hidden size: %1 (MLP %2)").arg(c.hiddenSize).arg(c.intermediateSize)
        << QStringLiteral("attention heads: %1, KV heads %2, head dim %3")
               .arg(c.numHeads)
               .arg(c.numKvHeads)
               .arg(c.headDim)
        << QStringLiteral("vocabulary: %1").arg(c.vocabSize)
        << QStringLiteral("parameters: %1 (%2 M)")
               .arg(c.parameterCount())
               .arg(c.parameterCount() / 1e6, 0, 'f', 2)
        << QStringLiteral("stored dtype: %1").arg(qs(torchDtypeName(c.dtype)))
        << QStringLiteral("checksum: %1").arg(qs(id.checksum));
    d.versions << QStringLiteral("GQA Studio: %1").arg(QStringLiteral(GQA_VERSION))
               << QStringLiteral("Qt: %1").arg(QString::fromLatin1(qVersion()))
               << QStringLiteral("LibTorch: %1").arg(qs(torchVersion()))
               << QStringLiteral("HDF5: %1").arg(qs(hdf5Version()))
               << QStringLiteral("BLAS: %1")
                      .arg(blasLibrary().empty() ? QStringLiteral("none") : qs(blasLibrary()));

    d.exportFolder = config.exportFolder;
    gatherTraining(d, run);
    if (d.exportFolder.isEmpty() || !QFileInfo::exists(d.exportFolder + "/config.json"))
        if (const QString exported =
                QString::fromStdString(RunFolder(local(d.runFolder)).exportedModel());
            QFileInfo::exists(exported + "/config.json"))
            d.exportFolder = exported;
    d.exportFound = QFileInfo::exists(d.exportFolder + "/config.json");
    if (!d.exportFound) d.notes << QStringLiteral("No exported GQA model was found.");
    if (d.groups <= 0 && d.exportFound)
        d.groups = int(ModelConfig::fromFile(local(d.exportFolder + "/config.json")).numKvHeads);

    gatherStoredEvaluations(d, run);
    step(progress, 0.05, QStringLiteral("analysing heads"));
    gatherAnalysis(d, run, config, progress);
    step(progress, 0.4, QStringLiteral("evaluating"));
    try {
        gatherEvaluation(d, c, config, progress);
    } catch (const Cancelled&) {
        throw;
    } catch (const std::exception& e) {  // a report without perplexity is still a report
        d.evaluationNote =
            QStringLiteral("Perplexity skipped: %1").arg(QString::fromLocal8Bit(e.what()));
    }
    return d;
}

}  // namespace gqa
