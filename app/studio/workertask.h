// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one shape of the studio's background tasks (conventions: facade + worker + value types):
// a request goes in, progress comes out as throttled signals, a value comes back, and cancel()
// means one thing everywhere. The evaluation, report and training facades derive from it.
//
// Signals, always on the GUI thread and in this order: started; progress (a few per second, with
// elapsed and remaining seconds from core's ProgressPacer); then exactly one of the derived
// class's result signal, failed(message) or cancelled(message); then finished. cancel() sets a
// flag that the job's ProgressSink answers at its next report: core operations then stop at a
// safe point (after saving what they can) and throw Cancelled, which arrives as cancelled(), never
// as failed(). isRunning() is true while the job's thread is alive (or a replacing job waits for
// it): wait() then start() runs the next job. A task that replaces its job (the similarity
// analysis: a new request makes the running one pointless) cancels the running job, drops its
// late answers and starts the new one when it has stopped, with no finished() in between. The
// destructor cancels and waits for the job.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include <QObject>
#include <QString>

#include "base/progress.h"
#include "workerthread.h"

namespace gqa {

class WorkerTask : public QObject {
    Q_OBJECT
public:
    /// What a start does while a job runs (startJob).
    enum class IfRunning { Refuse, Replace };

    explicit WorkerTask(QObject* parent = nullptr);
    ~WorkerTask() override;

    bool isRunning() const { return m_worker.isRunning() || bool(m_pending); }
    /// Blocks until the job's thread has ended (true) or `ms` passed (false). For shutdown and
    /// tests; the outcome signals still arrive through the event loop.
    bool wait(int ms);

public Q_SLOTS:
    void cancel();

Q_SIGNALS:
    void started();
    void progress(double fraction, const QString& stage, double elapsedSeconds,
                  double remainingSeconds);
    void failed(const QString& message);
    void cancelled(const QString& message);
    void finished();

protected:
    /// Runs on the GUI thread after the job: emits the derived class's result signal (what it
    /// throws becomes failed()).
    using Deliver = std::function<void()>;
    /// Runs on the worker thread; returns how to deliver its result.
    using Job = std::function<Deliver(ProgressSink&)>;
    /// Sees every report on the worker thread, unthrottled (for per-update buffers).
    using EveryReport = std::function<void(const ProgressUpdate&)>;

    /// Refuse: ignored (false) while a job runs. Replace: the running job is cancelled, its
    /// answers dropped, and this one starts when it has stopped.
    bool startJob(Job job, EveryReport everyReport = {}, IfRunning ifRunning = IfRunning::Refuse);

private:
    void launch(Job job, EveryReport everyReport);
    /// Emits a job's outcome on the GUI thread; what that throws becomes failed().
    void conclude(const std::function<void()>& emitOutcome);

    std::uint64_t m_generation = 0;   ///< answers of older generations are dropped
    std::function<void()> m_pending;  ///< a replacing job waiting for the running one to stop

    std::shared_ptr<std::atomic_bool> m_stop;
    WorkerThread m_worker;  ///< last: destroyed (waited for) first
};

}  // namespace gqa
