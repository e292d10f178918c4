// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's facade over a conversion run (conventions: facade + worker + value types). It
// lives on the GUI thread; start() launches a worker thread that prepares the aligned model
// (calibrate, group, align: core/alignedmodel.h) and runs the conversion training
// (core/conversiontraining.h). Per-update metrics go into a MetricBuffer that the GUI drains on
// a timer; coarse progress (fraction, stage, elapsed and remaining time) arrives as queued
// signals at most every kProgressIntervalMs. pause() asks the worker to stop at its next update:
// the core writes a checkpoint first, and start() with the same output folder resumes. Only the
// value types below cross threads; no torch type appears in this header.

#include <atomic>
#include <memory>

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QStringList>

#include "metricbuffer.h"
#include "workerthread.h"

namespace gqa {

struct TrainingSettings {
    QString modelFolder;    ///< the original MHA model
    QString teacherFolder;  ///< the distillation teacher; empty: the original model
    int groups = 2;
    bool meanPool = false;  ///< the baseline: no alignment
    QStringList calibrationFiles;
    int calibrationSequences = 32;
    QStringList trainFiles;
    QString validationFile;
    QString outputFolder;  ///< aligned model, checkpoint, export, run.h5 go here
    int steps = 200;
    int batchSize = 8;
    int seqLen = 256;
    double learningRate = 1e-4;
    QString gateScheme = QStringLiteral("reference");
    QString device = QStringLiteral("cpu");
    QString dtype = QStringLiteral("float32");
    int checkpointEvery = 50;
    int evalEvery = 50;
};

struct TrainingOutcome {
    int steps = 0;
    bool resumed = false;
    QString exportFolder;
    bool exportVerified = false;
    double finalValidationLoss = 0.0;  ///< NaN without validation text
    double tokensPerSecond = 0.0;
    QString runFile;
    QStringList warnings;
};

class TrainingRunner : public QObject {
    Q_OBJECT
public:
    static constexpr int kProgressIntervalMs = 100;

    explicit TrainingRunner(QObject* parent = nullptr);
    /// Pauses a running worker and waits for its checkpoint.
    ~TrainingRunner() override;

    /// True from start() until the worker thread has ended.
    bool isRunning() const;
    MetricBuffer& buffer() { return m_buffer; }
    /// Blocks until the worker has finished (true) or `ms` passed (false). For shutdown and tests.
    bool wait(int ms);

public Q_SLOTS:
    /// Ignored while running.
    void start(const gqa::TrainingSettings& settings);
    /// Stops at the next update after writing a checkpoint; `paused` follows.
    void pause();

Q_SIGNALS:
    void started();
    void progress(double fraction, const QString& stage, double elapsedSeconds,
                  double remainingSeconds);
    void resultReady(const gqa::TrainingOutcome& outcome);
    void paused(const QString& message);
    void failed(const QString& message);
    void finished();

private:
    MetricBuffer m_buffer;
    std::shared_ptr<std::atomic_bool> m_stop;
    WorkerThread m_worker;  ///< last: destroyed (waited for) first
};

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::TrainingSettings)
Q_DECLARE_METATYPE(gqa::TrainingOutcome)
