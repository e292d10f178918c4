// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's facade over a conversion run, a WorkerTask (workertask.h). start() runs core's one
// conversion pipeline (core/pipeline/conversionpipeline.h: calibrate or reuse, group, align,
// train, export) on a worker thread. Every training update goes into a MetricBuffer that the GUI
// drains on a timer; paced progress (fraction, stage, elapsed and remaining time) arrives as
// queued signals. pause() is the task's cancel: the core writes a checkpoint first, cancelled()
// follows, and start() with the same output folder resumes. Only the value types below cross
// threads; no torch type appears in this header.

#include <cstdint>
#include <vector>

#include <QString>
#include <QStringList>

#include "base/dtype.h"
#include "metricbuffer.h"
#include "pipeline/trainingstart.h"
#include "training/gatescheme.h"
#include "workertask.h"

namespace gqa {

struct TrainingSettings {
    QString modelFolder;    ///< the original MHA model
    QString teacherFolder;  ///< the distillation teacher; empty: the original model
    int groups = 2;
    TrainingStart start = kDefaultTrainingStart;  ///< mean-pool: the baseline, no alignment
    QStringList calibrationFiles;
    int calibrationSequences = 32;
    /// Per-layer groups of original head indices chosen by hand (Similarity tab); empty: the
    /// pipeline searches them.
    std::vector<std::vector<std::vector<std::int64_t>>> groupings;
    QStringList trainFiles;  ///< .txt files, or one prompt/answer .jsonl
    QString validationFile;
    QString outputFolder;  ///< aligned model, checkpoint, export, run.h5 go here
    int steps = 200;
    int batchSize = 8;
    int seqLen = 256;
    double learningRate = 3e-4;
    GateScheme gateScheme = GateScheme::Reference;
    QString device = QStringLiteral("cpu");  ///< as typed; core's parseDevice reads it
    DType compute = DType::F32;              ///< F32 or BF16
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

class TrainingRunner : public WorkerTask {
    Q_OBJECT
public:
    explicit TrainingRunner(QObject* parent = nullptr);
    /// Pauses a running worker and waits for its checkpoint.
    ~TrainingRunner() override;

    MetricBuffer& buffer() { return m_buffer; }

public Q_SLOTS:
    /// Ignored while running.
    void start(const gqa::TrainingSettings& settings);
    /// Stops at the next update after writing a checkpoint; cancelled(message) follows.
    void pause() { cancel(); }

Q_SIGNALS:
    void resultReady(const gqa::TrainingOutcome& outcome);

private:
    MetricBuffer m_buffer;
};

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::TrainingSettings)
Q_DECLARE_METATYPE(gqa::TrainingOutcome)
