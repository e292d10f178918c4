// SPDX-License-Identifier: GPL-3.0-or-later
#include "trainingrunner.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include <QDir>
#include <QFile>
#include <QMetaObject>

#include "alignedmodel.h"
#include "conversiontraining.h"
#include "error.h"
#include "runtime.h"

namespace gqa {
namespace {
std::string local(const QString& s) { return QFile::encodeName(s).toStdString(); }
std::vector<std::string> locals(const QStringList& list) {
    std::vector<std::string> out;
    for (const QString& s : list) out.push_back(local(s));
    return out;
}

/// The worker's sink: every update into the buffer, coarse progress as queued signals.
class RunnerSink final : public ProgressSink {
public:
    RunnerSink(TrainingRunner* runner, MetricBuffer& buffer, std::shared_ptr<std::atomic_bool> stop)
        : m_runner(runner), m_buffer(buffer), m_stop(std::move(stop)) {
        m_clock.start();
    }
    bool report(const ProgressUpdate& u) override {
        if (u.stage == "conversion training") {
            TrainingSample sample;
            for (const auto& [name, value] : u.metrics)
                if (name == "step") sample.step = value;
            sample.metrics = u.metrics;
            for (const auto& [name, values] : u.arrays)
                if (name == "gates") sample.gates = values;
            m_buffer.append(std::move(sample));
            if (m_trainStartMs < 0) m_trainStartMs = m_clock.elapsed();
        }
        if (m_clock.elapsed() - m_lastEmitMs >= TrainingRunner::kProgressIntervalMs ||
            u.fraction >= 1.0) {
            m_lastEmitMs = m_clock.elapsed();
            const double elapsed = m_clock.elapsed() / 1000.0;
            double remaining = std::nan("");
            if (m_trainStartMs >= 0 && u.fraction > 0.0) {
                const double trainElapsed = (m_clock.elapsed() - m_trainStartMs) / 1000.0;
                remaining = trainElapsed * (1.0 - u.fraction) / u.fraction;
            }
            QMetaObject::invokeMethod(m_runner, "progress", Qt::QueuedConnection,
                                      Q_ARG(double, u.fraction),
                                      Q_ARG(QString, QString::fromStdString(u.stage)),
                                      Q_ARG(double, elapsed), Q_ARG(double, remaining));
        }
        return !m_stop->load();
    }

private:
    TrainingRunner* m_runner;
    MetricBuffer& m_buffer;
    std::shared_ptr<std::atomic_bool> m_stop;
    QElapsedTimer m_clock;
    qint64 m_lastEmitMs = -1000000;
    qint64 m_trainStartMs = -1;
};

TrainingOutcome runConversion(const TrainingSettings& s, ProgressSink& sink) {
    const QDir out(s.outputFolder);
    AlignedModelConfig prepare;
    prepare.modelFolder = local(s.modelFolder);
    prepare.groups = s.groups;
    prepare.meanPool = s.meanPool;
    prepare.calibrationFiles = locals(s.calibrationFiles);
    prepare.calibrationSequences = s.calibrationSequences;
    prepare.runFile = local(out.filePath(QStringLiteral("run.h5")));
    prepare.outputFolder = local(out.filePath(QStringLiteral("aligned-mha")));
    QDir().mkpath(s.outputFolder);
    const AlignedModelResult aligned = prepareAlignedModel(prepare, sink);

    ConversionTrainingConfig c;
    c.studentFolder = aligned.folder;
    c.exportDtype = aligned.originalDtype;
    c.teacherFolder = local(s.teacherFolder.isEmpty() ? s.modelFolder : s.teacherFolder);
    c.groups = s.groups;
    c.trainFiles = locals(s.trainFiles);
    c.validationFile = local(s.validationFile);
    c.outputDir = local(s.outputFolder);
    c.runFile = prepare.runFile;
    c.steps = s.steps;
    c.batchSize = s.batchSize;
    c.seqLen = s.seqLen;
    c.learningRate = s.learningRate;
    c.gates.scheme = parseGateScheme(local(s.gateScheme));
    c.device = parseDevice(local(s.device));
    c.compute = parseComputeDtype(local(s.dtype));
    c.checkpointEvery = s.checkpointEvery;
    // The reference's 32 warmup updates assume ~10^4 updates; short studio runs warm up for 10%.
    c.warmupSteps = std::min<std::int64_t>(ConversionTrainingConfig::kReferenceWarmupSteps,
                                           std::max(1, s.steps / 10));
    c.evalEvery = s.evalEvery;
    // The student of the mean-pool baseline is the original folder; its stored dtype may be
    // bfloat16: keep the export in the original's dtype either way.
    const ConversionTrainingResult r = trainConversion(c, sink);

    TrainingOutcome o;
    o.steps = int(r.steps);
    o.resumed = r.resumed;
    o.exportFolder = QString::fromStdString(r.exportFolder);
    o.exportVerified = r.exportVerified;
    o.finalValidationLoss = r.finalValidationLoss;
    o.tokensPerSecond = r.tokensPerSecond;
    o.runFile = QString::fromStdString(prepare.runFile);
    for (const auto& w : aligned.warnings) o.warnings << QString::fromStdString(w);
    for (const auto& w : r.warnings) o.warnings << QString::fromStdString(w);
    return o;
}
}  // namespace

TrainingRunner::TrainingRunner(QObject* parent) : QObject(parent) {
    qRegisterMetaType<TrainingSettings>();
    qRegisterMetaType<TrainingOutcome>();
    connect(&m_worker, &WorkerThread::finished, this, &TrainingRunner::finished);
}

TrainingRunner::~TrainingRunner() {
    if (m_stop) m_stop->store(true);  // m_worker's destructor then waits for the checkpoint
}

bool TrainingRunner::isRunning() const { return m_worker.isRunning(); }

bool TrainingRunner::wait(int ms) { return m_worker.wait(ms); }

void TrainingRunner::start(const TrainingSettings& settings) {
    if (isRunning()) return;
    m_buffer.clear();
    m_stop = std::make_shared<std::atomic_bool>(false);
    auto stop = m_stop;
    m_worker.start([this, settings, stop] {
        RunnerSink sink(this, m_buffer, stop);
        try {
            const TrainingOutcome outcome = runConversion(settings, sink);
            QMetaObject::invokeMethod(
                this, [this, outcome] { Q_EMIT resultReady(outcome); }, Qt::QueuedConnection);
        } catch (const Cancelled& e) {
            const QString message = QString::fromStdString(e.what());
            QMetaObject::invokeMethod(
                this, [this, message] { Q_EMIT paused(message); }, Qt::QueuedConnection);
        } catch (const std::exception& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            QMetaObject::invokeMethod(
                this, [this, message] { Q_EMIT failed(message); }, Qt::QueuedConnection);
        }
    });
    Q_EMIT started();
}

void TrainingRunner::pause() {
    if (m_stop) m_stop->store(true);
}

}  // namespace gqa
