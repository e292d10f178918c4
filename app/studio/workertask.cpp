// SPDX-License-Identifier: GPL-3.0-or-later
#include "workertask.h"

#include <algorithm>
#include <exception>

#include <QMetaObject>

#include "base/error.h"

namespace gqa {
namespace {
/// The job's sink: answers the cancel flag, hands every report to the hook and paced ones to the
/// GUI thread as queued signals.
class TaskSink final : public ProgressSink {
public:
    using Emit = std::function<void(double, const QString&, double, double)>;
    TaskSink(std::shared_ptr<std::atomic_bool> stop, std::function<void(const ProgressUpdate&)> hook,
             Emit emit)
        : m_stop(std::move(stop)), m_hook(std::move(hook)), m_emit(std::move(emit)) {}
    bool report(const ProgressUpdate& u) override {
        if (m_hook) m_hook(u);
        if (m_pacer.due(u))
            m_emit(std::clamp(u.fraction, 0.0, 1.0), QString::fromStdString(u.stage),
                   m_pacer.elapsedSeconds(), m_pacer.remainingSeconds());
        return !m_stop->load();
    }

private:
    std::shared_ptr<std::atomic_bool> m_stop;
    std::function<void(const ProgressUpdate&)> m_hook;
    Emit m_emit;
    ProgressPacer m_pacer;
};
}  // namespace

WorkerTask::WorkerTask(QObject* parent) : QObject(parent) {
    // After the job's queued outcome: the thread ends after posting it.
    connect(&m_worker, &WorkerThread::finished, this, &WorkerTask::finished);
}

WorkerTask::~WorkerTask() { cancel(); }  // m_worker's destructor then waits for the job

bool WorkerTask::wait(int ms) { return m_worker.wait(ms); }

void WorkerTask::cancel() {
    if (m_stop) m_stop->store(true);
}

bool WorkerTask::startJob(Job job, EveryReport everyReport) {
    if (m_worker.isRunning()) return false;
    m_stop = std::make_shared<std::atomic_bool>(false);
    auto stop = m_stop;
    const bool began = m_worker.start([this, job = std::move(job), hook = std::move(everyReport),
                                       stop] {
        TaskSink sink(stop, hook, [this](double f, const QString& stage, double e, double r) {
            QMetaObject::invokeMethod(
                this, [this, f, stage, e, r] { Q_EMIT progress(f, stage, e, r); },
                Qt::QueuedConnection);
        });
        try {
            const Deliver deliver = job(sink);
            QMetaObject::invokeMethod(
                this, [this, deliver] { conclude(deliver); }, Qt::QueuedConnection);
        } catch (const Cancelled& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            QMetaObject::invokeMethod(
                this, [this, message] { conclude([this, message] { Q_EMIT cancelled(message); }); },
                Qt::QueuedConnection);
        } catch (const std::exception& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            QMetaObject::invokeMethod(
                this, [this, message] { conclude([this, message] { Q_EMIT failed(message); }); },
                Qt::QueuedConnection);
        }
    });
    if (!began) return false;
    Q_EMIT started();
    return true;
}

void WorkerTask::conclude(const std::function<void()>& emitOutcome) {
    try {
        emitOutcome();
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromLocal8Bit(e.what()));
    }
}

}  // namespace gqa
