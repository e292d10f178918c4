// SPDX-License-Identifier: GPL-3.0-or-later
#include "trainingrunner.h"

#include <QFile>

#include "pipeline/conversionpipeline.h"
#include "base/metrics.h"
#include "base/runtime.h"
#include "io/tensorconvert.h"

namespace gqa {
namespace {
std::string local(const QString& s) { return QFile::encodeName(s).toStdString(); }
std::vector<std::string> locals(const QStringList& list) {
    std::vector<std::string> out;
    for (const QString& s : list) out.push_back(local(s));
    return out;
}

/// The settings as core's one conversion pipeline takes them (pipeline/conversionpipeline.h).
ConversionRunConfig runConfig(const TrainingSettings& s) {
    ConversionRunConfig config;
    config.modelFolder = local(s.modelFolder);
    config.groups = s.groups;
    config.start = s.start;
    config.calibrationFiles = locals(s.calibrationFiles);
    config.calibrationSequences = s.calibrationSequences;
    config.givenGroupings = s.groupings;
    config.outputFolder = local(s.outputFolder);
    config.trainingFiles = locals(s.trainFiles);
    config.validationFile = local(s.validationFile);
    config.teacherFolder = local(s.teacherFolder);
    ConversionTrainingConfig& c = config.training;
    c.steps = s.steps;
    c.batchSize = s.batchSize;
    c.seqLen = s.seqLen;
    c.learningRate = s.learningRate;
    c.gates.scheme = s.gateScheme;
    c.device = parseDevice(local(s.device));
    c.compute = toTorch(s.compute);
    c.checkpointEvery = s.checkpointEvery;
    c.evalEvery = s.evalEvery;
    return config;
}

TrainingOutcome runConversion(const TrainingSettings& s, ProgressSink& sink) {
    const ConversionRunResult result = runConversionPipeline(runConfig(s), sink);
    const ConversionTrainingResult& r = result.trained;
    TrainingOutcome o;
    o.steps = int(r.steps);
    o.resumed = r.resumed;
    o.exportFolder = QString::fromStdString(r.exportFolder);
    o.exportVerified = r.exportVerified;
    o.finalValidationLoss = r.finalValidationLoss;
    o.tokensPerSecond = r.tokensPerSecond;
    o.runFile = QString::fromStdString(result.runFile);
    for (const auto& w : result.warnings) o.warnings << QString::fromStdString(w);
    return o;
}
}  // namespace

TrainingRunner::TrainingRunner(QObject* parent) : WorkerTask(parent) {
    qRegisterMetaType<TrainingSettings>();
    qRegisterMetaType<TrainingOutcome>();
}

TrainingRunner::~TrainingRunner() { pause(); }  // the base then waits for the checkpoint

void TrainingRunner::start(const TrainingSettings& settings) {
    if (isRunning()) return;
    m_buffer.clear();
    startJob(
        [this, settings](ProgressSink& sink) -> Deliver {
            const TrainingOutcome outcome = runConversion(settings, sink);
            return [this, outcome] { Q_EMIT resultReady(outcome); };
        },
        [this](const ProgressUpdate& u) {  // every training update, for the live plots
            if (u.stage != stageText(Stage::ConversionTraining)) return;
            TrainingSample sample;
            for (const auto& [name, value] : u.metrics)
                if (name == metricKey(Metric::Step)) sample.step = value;
            sample.metrics = u.metrics;
            for (const auto& [name, values] : u.arrays)
                if (name == kGatesArray) sample.gates = values;
            m_buffer.append(std::move(sample));
        });
}

}  // namespace gqa
