// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The wizard's evaluation as a GUI facade: start() scores the original model and the exported
// GQA model on the same held-out text with core's sliding-window perplexity (core/perplexity.h;
// at most maxTokens tokens, context min(256, max positions), stride half of it) on a worker
// thread, and reads both models' KV-cache bytes per token from their config.json. Signals:
// started, progress, then resultReady or failed, then finished. cancel() stops the worker at its
// next progress report (failed("cancelled") follows). Only the value types below cross threads.

#include <atomic>
#include <memory>

#include <QMetaType>
#include <QObject>
#include <QString>

#include "workerthread.h"

namespace gqa {

struct EvaluationRequest {
    QString originalFolder;
    QString exportFolder;
    QString textFile;  ///< held-out text, tokenized with the original model's tokenizer
    int maxTokens = 8192;
    QString device = QStringLiteral("cpu");
};

struct ModelEvaluation {
    double perplexity = 0.0;
    qint64 tokensScored = 0;
    qint64 kvBytesPerToken = 0;  ///< in the model's stored dtype
    int kvHeads = 0;
};

struct EvaluationResult {
    ModelEvaluation original;
    ModelEvaluation exported;
};

class EvaluationTask : public QObject {
    Q_OBJECT
public:
    explicit EvaluationTask(QObject* parent = nullptr);
    /// Cancels and waits for the worker.
    ~EvaluationTask() override;

    void start(const EvaluationRequest& request);
    bool isRunning() const;
    bool wait(int ms);

public Q_SLOTS:
    void cancel();

Q_SIGNALS:
    void started();
    void progress(double fraction, const QString& stage);
    void resultReady(const gqa::EvaluationResult& result);
    void failed(const QString& message);
    void finished();

private:
    std::shared_ptr<std::atomic_bool> m_stop;
    WorkerThread m_worker;  ///< last: destroyed (waited for) first
};

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::EvaluationResult)
