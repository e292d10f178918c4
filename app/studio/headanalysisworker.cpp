// SPDX-License-Identifier: GPL-3.0-or-later
#include "headanalysisworker.h"

#include <algorithm>
#include <filesystem>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "analysis/calibration.h"
#include "io/checkpoint.h"
#include "base/error.h"
#include "analysis/headanalysis.h"
#include "headstatisticsstore.h"
#include "model/decodermodel.h"
#include "runfile/runfile.h"
#include "pipeline/calibrationstore.h"
#include "studiopaths.h"

namespace gqa {
namespace {
/// The demo corpus's calibration novel (docs/method.md: Emma calibrates, Persuasion is held out).
const QString kCalibrationNovel = QStringLiteral("emma.txt");

std::string toStd(const QString& path) { return QFile::encodeName(path).toStdString(); }

void stage(ProgressSink& progress, double fraction, const std::string& text) {
    reportOrCancel(progress, {fraction, text, {}});
}

/// The statistics for `request` by core's one policy (pipeline/calibrationstore.h): the
/// studio's own per-model run file is replaced when it belongs to another model; a run file the
/// user chose is not.
StoredCalibration statistics(const HeadAnalysisRequest& request, HeadAnalysisData& data,
                             ProgressSink& progress) {
    CalibrationRequest calibration;
    calibration.modelFolder = toStd(request.modelFolder);
    for (const QString& f : request.inputFiles) calibration.inputFiles.push_back(toStd(f));
    calibration.sequences = request.sequences;
    calibration.sequenceLength = request.sequenceLength;
    calibration.batchSize = request.batchSize;
    calibration.reuse = request.reuseCalibration;
    const bool ownFile = request.runFile.isEmpty();
    const QString runPath = ownFile ? defaultRunFilePath(request.modelFolder) : request.runFile;
    calibration.runFile = toStd(runPath);
    calibration.foreignRunFile = ownFile ? ForeignRunFile::Replace : ForeignRunFile::Refuse;
    ScaledProgress scaled(progress, 0.0, 0.8);
    CalibrationOutcome outcome = calibrateOrReuse(calibration, scaled);
    data.reusedCalibration = outcome.reused;
    data.runFile = runPath;
    for (const auto& w : outcome.warnings) data.warnings << QString::fromStdString(w);
    return std::move(outcome.statistics);
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
    return QDir(studioRunsFolder()).filePath(QStringLiteral("%1-%2.h5").arg(name, key));
}

QString defaultCalibrationText() {
    const QString folder = demoTextFolder();
    if (folder.isEmpty()) return {};
    const QFileInfo file(QDir(folder).filePath(kCalibrationNovel));
    return file.isFile() ? file.canonicalFilePath() : QString();
}

HeadAnalysisData runHeadAnalysis(const HeadAnalysisRequest& request, ProgressSink& progress) {
    HeadAnalysisData data;
    data.modelFolder = request.modelFolder;
    data.modelName = QFileInfo(QDir::cleanPath(request.modelFolder)).fileName();
    StoredCalibration stats = statistics(request, data, progress);
    if (stats.layers.empty()) throw InputError("the calibration holds no layers");
    data.tokens = stats.settings.tokens;

    AnalysisConfig config;  // method §11 defaults: group by values, dist criterion, strong search
    ScaledProgress analysing(progress, 0.8, 0.95);
    const AnalysisResult analysis = analyzeHeads(stats.layers, config, analysing);

    auto store = std::make_shared<HeadStatisticsStore>();
    store->driver.kind = config.groupBy;
    store->driver.criterion = config.criterion;
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
        const SimilarityMatrices otherKeys =
            headSimilarity(stats.layers[l].keys, HeadKind::Keys, Criterion(other));
        const SimilarityMatrices otherValues =
            headSimilarity(stats.layers[l].values, HeadKind::Values, Criterion(other));
        LayerSimilarity sim;
        const int keys = int(HeadKind::Keys), values = int(HeadKind::Values);
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
