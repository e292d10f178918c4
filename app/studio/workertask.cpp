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
    TaskSink(std::shared_ptr<std::atomic_bool> stop,
             std::function<void(const ProgressUpdate&)> hook, Emit emit)
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
    // After the job's queued outcome (the thread ends after posting it), unless a replacing job
    // was waiting: it starts now, and the task's run goes on.
    connect(&m_worker, &WorkerThread::finished, this, [this] {
        if (m_pending) {
            const std::function<void()> next = std::move(m_pending);
            m_pending = nullptr;
            next();
            return;
        }
        Q_EMIT finished();
    });
}

WorkerTask::~WorkerTask() { cancel(); }  // m_worker's destructor then waits for the job

bool WorkerTask::wait(int ms) { return m_worker.wait(ms); }

void WorkerTask::cancel() {
    if (m_stop) m_stop->store(true);
    if (m_pending) {  // the replacing job never starts; the running one's answers are stale
        m_pending = nullptr;
        Q_EMIT cancelled(tr("cancelled before it started"));
    }
}

bool WorkerTask::startJob(Job job, EveryReport everyReport, IfRunning ifRunning) {
    if (isRunning()) {
        if (ifRunning == IfRunning::Refuse) return false;
        if (m_stop) m_stop->store(true);
        ++m_generation;  // whatever the running job still says is stale
        m_pending = [this, job = std::move(job), everyReport = std::move(everyReport)] {
            launch(job, everyReport);
        };
        Q_EMIT started();
        return true;
    }
    launch(std::move(job), std::move(everyReport));
    Q_EMIT started();
    return true;
}

void WorkerTask::launch(Job job, EveryReport everyReport) {
    const std::uint64_t generation = ++m_generation;
    m_stop = std::make_shared<std::atomic_bool>(false);
    auto stop = m_stop;
    m_worker.start([this, job = std::move(job), hook = std::move(everyReport), stop, generation] {
        auto post = [this, generation](std::function<void()> emitOnGuiThread) {
            QMetaObject::invokeMethod(
                this,
                [this, generation, emitOnGuiThread] {
                    if (generation == m_generation) emitOnGuiThread();
                },
                Qt::QueuedConnection);
        };
        TaskSink sink(stop, hook, [this, post](double f, const QString& stage, double e, double r) {
            post([this, f, stage, e, r] { Q_EMIT progress(f, stage, e, r); });
        });
        try {
            const Deliver deliver = job(sink);
            post([this, deliver] { conclude(deliver); });
        } catch (const Cancelled& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            post([this, message] { Q_EMIT cancelled(message); });
        } catch (const std::exception& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            post([this, message] { Q_EMIT failed(message); });
        }
    });
}

void WorkerTask::conclude(const std::function<void()>& emitOutcome) {
    try {
        emitOutcome();
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromLocal8Bit(e.what()));
    }
}

}  // namespace gqa
