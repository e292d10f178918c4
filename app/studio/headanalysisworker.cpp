// SPDX-License-Identifier: GPL-3.0-or-later
#include "headanalysisworker.h"

#include <algorithm>
#include <filesystem>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include "calibration.h"
#include "checkpoint.h"
#include "error.h"
#include "headanalysis.h"
#include "headstatisticsstore.h"
#include "llamamodel.h"
#include "runfile.h"

namespace gqa {
namespace {
const QString kCorpusText = QStringLiteral("data/corpus/text/emma.txt");

std::string toStd(const QString& path) { return QFile::encodeName(path).toStdString(); }

/// Maps an operation's 0..1 onto [from, to] of the whole run.
class ScaledProgress final : public ProgressSink {
public:
    ScaledProgress(ProgressSink& parent, double from, double to)
        : m_parent(parent), m_from(from), m_to(to) {}
    bool report(const ProgressUpdate& update) override {
        ProgressUpdate scaled = update;
        scaled.fraction = m_from + (m_to - m_from) * std::clamp(update.fraction, 0.0, 1.0);
        return m_parent.report(scaled);
    }

private:
    ProgressSink& m_parent;
    double m_from, m_to;
};

void stage(ProgressSink& progress, double fraction, const std::string& text) {
    reportOrCancel(progress, {fraction, text, {}});
}

/// The statistics for `request`: from the run file when it holds them for this model and these
/// settings, else calibrated now and recorded there (a run file that cannot be written is a
/// warning, not a failure).
StoredCalibration statistics(const HeadAnalysisRequest& request, HeadAnalysisData& data,
                             ProgressSink& progress) {
    const std::string folder = toStd(request.modelFolder);
    stage(progress, 0.0, "reading the model configuration");
    const ModelConfig config =
        ModelConfig::fromFile((std::filesystem::path(folder) / "config.json").string());
    CalibrationConfig calibration;
    for (const QString& f : request.inputFiles) calibration.inputFiles.push_back(toStd(f));
    if (calibration.inputFiles.empty())
        throw InputError("no calibration text: choose one or more .txt or .jsonl files");
    calibration.modelFolder = folder;
    calibration.numSequences = request.sequences;
    calibration.sequenceLength =
        std::min<std::int64_t>(request.sequenceLength, config.maxPositionEmbeddings);
    calibration.batchSize = request.batchSize;

    const QString runPath =
        request.runFile.isEmpty() ? defaultRunFilePath(request.modelFolder) : request.runFile;
    stage(progress, 0.02, "checking the run file");
    ModelIdentity identity = modelIdentity(folder);
    identity.modelFolder = std::filesystem::absolute(folder).string();
    CalibrationSettings wanted;
    wanted.inputFiles = absoluteInputPaths(calibration.inputFiles);
    wanted.inputChecksum = filesChecksum(calibration.inputFiles);
    wanted.numSequences = calibration.numSequences;
    wanted.sequenceLength = calibration.sequenceLength;
    bool runFileUsable = false;
    if (QFileInfo::exists(runPath)) {
        try {
            const RunFile run = RunFile::open(toStd(runPath));
            runFileUsable = true;
            if (request.reuseCalibration && run.calibrationMatches(identity, wanted)) {
                data.reusedCalibration = true;
                data.runFile = runPath;
                stage(progress, 0.8, "reading stored statistics");
                return run.readCalibration();
            }
            if (run.hasModelIdentity() && run.readModelIdentity().checksum != identity.checksum)
                runFileUsable = false;  // another model's file: start a new one
        } catch (const Error& e) {
            data.warnings << QString::fromStdString(e.what()) + QStringLiteral(" (replaced)");
        }
    }

    stage(progress, 0.05, "loading the model");
    ScaledProgress loading(progress, 0.05, 0.15);
    const LlamaModel model(Checkpoint::load(folder, loading), torch::kFloat32);
    ScaledProgress calibrating(progress, 0.15, 0.8);
    CalibrationResult result = calibrate(model, calibration, calibrating);
    for (const auto& w : result.warnings) data.warnings << QString::fromStdString(w);
    try {
        QDir().mkpath(QFileInfo(runPath).absolutePath());
        RunFile run =
            runFileUsable ? RunFile::open(toStd(runPath)) : RunFile::create(toStd(runPath));
        run.writeModelIdentity(identity);
        run.writeCalibration(result.settings, result.layers);
        data.runFile = runPath;
    } catch (const Error& e) {
        data.warnings << QStringLiteral("calibration not saved: %1").arg(e.what());
    }
    return {std::move(result.settings), std::move(result.layers)};
}

SimilarityPair toPair(const SimilarityMatrices& m) {
    return {toValues(m.before), toValues(m.after), meanOffDiagonal(m.before),
            meanOffDiagonal(m.after)};
}
}  // namespace

QString defaultRunFilePath(const QString& modelFolder) {
    const QFileInfo info(QDir::cleanPath(modelFolder));
    QString name = info.fileName();
    if (name.isEmpty()) name = QStringLiteral("model");
    // The folder's own path tells same-named models apart; canonical when it exists, so that
    // "a/../b" and a symbolic link find the same file.
    const QString path =
        info.canonicalFilePath().isEmpty() ? info.absoluteFilePath() : info.canonicalFilePath();
    const QString key = QString::fromLatin1(
        QCryptographicHash::hash(path.toUtf8(), QCryptographicHash::Sha1).toHex().left(8));
    const QString base = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    return QDir(base).filePath(QStringLiteral("runs/%1-%2.h5").arg(name, key));
}

QString defaultCalibrationText() {
    QStringList roots{QDir::currentPath()};
    if (QCoreApplication::instance()) {
        const QString exe = QCoreApplication::applicationDirPath();
        roots << exe + QStringLiteral("/..") << exe + QStringLiteral("/../..");
    }
#ifdef GQA_SOURCE_DIR
    roots << QStringLiteral(GQA_SOURCE_DIR);
#endif
    for (const QString& root : roots) {
        const QFileInfo file(QDir(root).filePath(kCorpusText));
        if (file.isFile()) return file.canonicalFilePath();
    }
    return {};
}

HeadAnalysisData runHeadAnalysis(const HeadAnalysisRequest& request, ProgressSink& progress) {
    HeadAnalysisData data;
    data.modelFolder = request.modelFolder;
    data.modelName = QFileInfo(QDir::cleanPath(request.modelFolder)).fileName();
    StoredCalibration stats = statistics(request, data, progress);
    if (stats.layers.empty()) throw InputError("the calibration holds no layers");
    data.tokens = stats.settings.tokens;

    AnalysisConfig config;  // spec 13 defaults: group by values, dist criterion, strong search
    ScaledProgress analysing(progress, 0.8, 0.95);
    const AnalysisResult analysis = analyzeHeads(stats.layers, config, analysing);

    auto store = std::make_shared<HeadStatisticsStore>();
    store->driver.kind =
        config.groupBy == HeadKind::Keys ? SimilarityKind::Keys : SimilarityKind::Values;
    store->driver.criterion =
        config.criterion == Criterion::Cos ? SimilarityCriterion::Cos : SimilarityCriterion::Dist;
    data.driver = store->driver;
    const std::int64_t heads = stats.layers.front().values.heads;
    data.heads = int(heads);
    for (std::int64_t g = heads; g >= 1; --g)
        if (heads % g == 0) data.groupCounts << int(g);

    const int criterion = int(store->driver.criterion), other = 1 - criterion;
    const std::size_t layers = stats.layers.size();
    for (std::size_t l = 0; l < layers; ++l) {
        stage(progress, 0.95 + 0.05 * double(l) / double(layers), "similarity under both criteria");
        const LayerAnalysis& la = analysis.layers[l];
        const SimilarityMatrices otherKeys = headSimilarity(stats.layers[l].keys, HeadKind::Keys,
                                                            toCore(SimilarityCriterion(other)));
        const SimilarityMatrices otherValues = headSimilarity(
            stats.layers[l].values, HeadKind::Values, toCore(SimilarityCriterion(other)));
        LayerSimilarity sim;
        const int keys = int(SimilarityKind::Keys), values = int(SimilarityKind::Values);
        sim.pairs[keys][criterion] = toPair(la.keys);
        sim.pairs[values][criterion] = toPair(la.values);
        sim.pairs[keys][other] = toPair(otherKeys);
        sim.pairs[values][other] = toPair(otherValues);
        data.layers << sim;
        std::array<std::array<torch::Tensor, 2>, 2> after;
        after[keys][criterion] = la.keys.after;
        after[values][criterion] = la.values.after;
        after[keys][other] = otherKeys.after;
        after[values][other] = otherValues.after;
        store->after.push_back(after);
    }
    for (std::size_t c = 0; c < analysis.layers.front().choices.size(); ++c) {
        GroupingData g;
        g.groups = int(analysis.layers.front().choices[c].groups);
        g.driver = store->driver;
        for (const LayerAnalysis& la : analysis.layers) g.layers << toValues(la.choices[c]);
        data.groupings << g;
    }
    store->precomputed = data.groupings;
    store->layers = std::move(stats.layers);
    data.statistics = std::move(store);
    stage(progress, 1.0, "done");
    return data;
}

}  // namespace gqa
