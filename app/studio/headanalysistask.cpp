// SPDX-License-Identifier: GPL-3.0-or-later
#include "headanalysistask.h"

#include <chrono>
#include <exception>

#include <QMetaObject>

#include "base/error.h"

namespace gqa {
namespace {
enum Outcome { Succeeded, Failed, WasCancelled };

/// Reads the cancel flag at every report and forwards the reports core's ProgressPacer lets
/// through (a few per second, every change of stage) to `forward`, on the worker thread.
class FlagProgress final : public ProgressSink {
public:
    using Forward = std::function<void(double, const QString&)>;
    FlagProgress(std::shared_ptr<std::atomic<bool>> cancel, Forward forward)
        : m_cancel(std::move(cancel)), m_forward(std::move(forward)) {}
    bool report(const ProgressUpdate& update) override {
        if (m_cancel->load()) return false;
        if (m_pacer.due(update)) m_forward(update.fraction, QString::fromStdString(update.stage));
        return true;
    }

private:
    std::shared_ptr<std::atomic<bool>> m_cancel;
    Forward m_forward;
    ProgressPacer m_pacer;
};
}  // namespace

HeadAnalysisTask::HeadAnalysisTask(QObject* parent) : QObject(parent) {
    qRegisterMetaType<HeadAnalysisData>();
    m_pool.setMaxThreadCount(1);
    m_pool.setExpiryTimeout(-1);
}

HeadAnalysisTask::~HeadAnalysisTask() {
    cancel();
    m_jobs.invalidate();
    m_pool.waitForDone();
}

void HeadAnalysisTask::waitForWorker() { m_pool.waitForDone(); }

void HeadAnalysisTask::cancel() {
    if (m_cancel) m_cancel->store(true);
}

void HeadAnalysisTask::start(const HeadAnalysisRequest& request) {
    cancel();  // a run still going gives up; its answers are stale from now on
    const LatestJob::Id id = m_jobs.begin();
    auto flag = std::make_shared<std::atomic<bool>>(false);
    m_cancel = flag;
    m_running = true;
    Q_EMIT started();
    m_pool.start([this, id, flag, request] {
        FlagProgress sink(flag, [this, id](double fraction, const QString& stage) {
            QMetaObject::invokeMethod(
                this,
                [this, id, fraction, stage] {
                    if (m_jobs.isLatest(id)) Q_EMIT progress(fraction, stage);
                },
                Qt::QueuedConnection);
        });
        HeadAnalysisData data;
        QString message;
        int outcome = Succeeded;
        try {
            if (flag->load()) throw Cancelled("analysis");
            data = runHeadAnalysis(request, sink);
        } catch (const Cancelled&) {
            outcome = WasCancelled;
        } catch (const std::exception& e) {
            outcome = Failed;
            message = QString::fromLocal8Bit(e.what());
        }
        QMetaObject::invokeMethod(
            this, [this, id, outcome, data, message] { conclude(id, outcome, data, message); },
            Qt::QueuedConnection);
    });
}

void HeadAnalysisTask::conclude(LatestJob::Id id, int outcome, const HeadAnalysisData& data,
                                const QString& message) {
    if (!m_jobs.accept(id)) return;
    m_running = false;
    if (outcome == Succeeded)
        Q_EMIT resultReady(data);
    else if (outcome == Failed)
        Q_EMIT failed(message);
    else
        Q_EMIT cancelled();
    Q_EMIT finished();
}

}  // namespace gqa
