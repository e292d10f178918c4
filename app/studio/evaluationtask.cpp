// SPDX-License-Identifier: GPL-3.0-or-later
#include "evaluationtask.h"

#include <QFile>

#include "eval/modelcomparison.h"

namespace gqa {
namespace {
std::string local(const QString& s) { return QFile::encodeName(s).toStdString(); }

ModelEvaluation evaluationOf(const ComparedModel& m) {
    ModelEvaluation e;
    e.perplexity = m.perplexity.perplexity;
    e.tokensScored = m.perplexity.tokensScored;
    e.kvHeads = int(m.kvHeads);
    e.kvBytesPerToken = qint64(m.kvCacheBytesPerToken);
    return e;
}

/// Core's one comparison (eval/modelcomparison.h): the same protocol as the report's.
EvaluationResult evaluate(const EvaluationRequest& request, ProgressSink& sink) {
    ComparisonConfig config;
    config.modelFolders = {local(request.originalFolder), local(request.exportFolder)};
    config.textFile = local(request.textFile);
    config.maxTokens = request.maxTokens;
    config.device = local(request.device);
    const ModelComparison comparison = compareModels(config, sink);
    EvaluationResult result;
    result.original = evaluationOf(comparison.models.at(0));
    result.exported = evaluationOf(comparison.models.at(1));
    result.protocol = QString::fromStdString(comparison.protocolText());
    return result;
}
}  // namespace

EvaluationTask::EvaluationTask(QObject* parent) : WorkerTask(parent) {
    qRegisterMetaType<EvaluationResult>();
}

void EvaluationTask::start(const EvaluationRequest& request) {
    startJob([this, request](ProgressSink& sink) -> Deliver {
        const EvaluationResult result = evaluate(request, sink);
        return [this, result] { Q_EMIT resultReady(result); };
    });
}

}  // namespace gqa
