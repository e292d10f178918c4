// SPDX-License-Identifier: GPL-3.0-or-later
#include "evaluationtask.h"

#include <algorithm>
#include <exception>

#include <QElapsedTimer>
#include <QFile>
#include <QMetaObject>

#include "checkpoint.h"
#include "error.h"
#include "llamamodel.h"
#include "perplexity.h"
#include "runtime.h"
#include "tokenizer.h"

namespace gqa {
namespace {
std::string local(const QString& s) { return QFile::encodeName(s).toStdString(); }

/// Maps one model's progress into [offset, offset + 0.5] of the whole and throttles the signals.
class EvaluationSink final : public ProgressSink {
public:
    EvaluationSink(EvaluationTask* task, std::shared_ptr<std::atomic_bool> stop)
        : m_task(task), m_stop(std::move(stop)) {
        m_clock.start();
    }
    void setPart(double offset, const QString& name) {
        m_offset = offset;
        m_name = name;
    }
    bool report(const ProgressUpdate& u) override {
        if (m_clock.elapsed() - m_lastMs >= 100) {
            m_lastMs = m_clock.elapsed();
            const double fraction = m_offset + 0.5 * std::clamp(u.fraction, 0.0, 1.0);
            const QString stage = m_name + QStringLiteral(": ") + QString::fromStdString(u.stage);
            QMetaObject::invokeMethod(m_task, "progress", Qt::QueuedConnection,
                                      Q_ARG(double, fraction), Q_ARG(QString, stage));
        }
        return !m_stop->load();
    }

private:
    EvaluationTask* m_task;
    std::shared_ptr<std::atomic_bool> m_stop;
    QElapsedTimer m_clock;
    qint64 m_lastMs = -1000;
    double m_offset = 0.0;
    QString m_name;
};

ModelEvaluation evaluateOne(const QString& folder, const std::vector<std::int64_t>& tokens,
                            torch::Device device, EvaluationSink& sink) {
    const LlamaModel model(Checkpoint::load(local(folder), sink), torch::kFloat32, device);
    const ModelConfig& c = model.config();
    PerplexityConfig p;
    p.contextLength = std::min<std::int64_t>(256, c.maxPositionEmbeddings);
    p.stride = std::max<std::int64_t>(1, p.contextLength / 2);
    const PerplexityResult r = perplexity(model, tokens, p, sink);
    ModelEvaluation e;
    e.perplexity = r.perplexity;
    e.tokensScored = r.tokensScored;
    e.kvHeads = int(c.numKvHeads);
    e.kvBytesPerToken = qint64(c.kvCacheBytesPerToken(c.numKvHeads, dtypeSize(c.dtype)));
    return e;
}

EvaluationResult evaluate(const EvaluationRequest& request, EvaluationSink& sink) {
    const ModelConfig config =
        ModelConfig::fromFile(local(request.originalFolder) + "/config.json");
    auto tokens = Tokenizer::forModelFolder(local(request.originalFolder), config)
                      .encode(readTextFile(local(request.textFile)));
    if (request.maxTokens > 0 && std::int64_t(tokens.size()) > request.maxTokens)
        tokens.resize(std::size_t(request.maxTokens));
    const torch::Device device = parseDevice(local(request.device));
    EvaluationResult result;
    sink.setPart(0.0, QObject::tr("original model"));
    result.original = evaluateOne(request.originalFolder, tokens, device, sink);
    sink.setPart(0.5, QObject::tr("GQA model"));
    result.exported = evaluateOne(request.exportFolder, tokens, device, sink);
    return result;
}
}  // namespace

EvaluationTask::EvaluationTask(QObject* parent) : QObject(parent) {
    qRegisterMetaType<EvaluationResult>();
    connect(&m_worker, &WorkerThread::finished, this, &EvaluationTask::finished);
}

EvaluationTask::~EvaluationTask() {
    if (m_stop) m_stop->store(true);  // m_worker's destructor then waits
}

bool EvaluationTask::isRunning() const { return m_worker.isRunning(); }

bool EvaluationTask::wait(int ms) { return m_worker.wait(ms); }

void EvaluationTask::cancel() {
    if (m_stop) m_stop->store(true);
}

void EvaluationTask::start(const EvaluationRequest& request) {
    if (isRunning()) return;
    m_stop = std::make_shared<std::atomic_bool>(false);
    auto stop = m_stop;
    m_worker.start([this, request, stop] {
        EvaluationSink sink(this, stop);
        try {
            const EvaluationResult result = evaluate(request, sink);
            QMetaObject::invokeMethod(
                this, [this, result] { Q_EMIT resultReady(result); }, Qt::QueuedConnection);
        } catch (const std::exception& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            QMetaObject::invokeMethod(
                this, [this, message] { Q_EMIT failed(message); }, Qt::QueuedConnection);
        }
    });
    Q_EMIT started();
}

}  // namespace gqa
