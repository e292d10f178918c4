// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The wizard's evaluation as a GUI facade: start() scores the original model and the exported
// GQA model on the same held-out text by core's one model comparison (core/eval/modelcomparison.h:
// the report uses the same protocol, and `gqa-cli eval` by default) on a worker thread. Signals:
// as every WorkerTask (workertask.h): started, progress, then resultReady, failed or cancelled,
// then finished. Only the value types below cross threads.

#include <QMetaType>
#include <QObject>
#include <QString>

#include "workertask.h"

namespace gqa {

struct EvaluationRequest {
    QString originalFolder;
    QString exportFolder;
    QString textFile;      ///< held-out text, tokenized with the original model's tokenizer
    int maxTokens = 8192;  ///< kComparisonMaxTokens
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
    QString protocol;  ///< how the perplexities were measured, to show next to them
};

class EvaluationTask : public WorkerTask {
    Q_OBJECT
public:
    explicit EvaluationTask(QObject* parent = nullptr);

    /// Ignored while an evaluation runs.
    void start(const EvaluationRequest& request);

Q_SIGNALS:
    void resultReady(const gqa::EvaluationResult& result);
};

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::EvaluationResult)
