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
// as failed(). isRunning() is true while the job's thread is alive: wait() then start() runs the
// next job (a late outcome of the previous one may still arrive first). The destructor cancels and
// waits for the job.

#include <atomic>
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
    explicit WorkerTask(QObject* parent = nullptr);
    ~WorkerTask() override;

    bool isRunning() const { return m_worker.isRunning(); }
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

    /// Ignored (false) while a job runs.
    bool startJob(Job job, EveryReport everyReport = {});

private:
    void conclude(const std::function<void()>& emitOutcome);

    std::shared_ptr<std::atomic_bool> m_stop;
    WorkerThread m_worker;  ///< last: destroyed (waited for) first
};

}  // namespace gqa
