// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The thread behind each of the studio's task facades (training, evaluation, report): runs one
// job at a time on a fresh QThread and emits `finished` on the owner's thread when it ends. Only
// the current job's end counts: after a quick stop and restart, the earlier thread's queued
// QThread::finished is ignored instead of ending the new job. The destructor waits for the job,
// so the facade must ask it to stop first (its cancel flag) and declare this member last.

#include <functional>

#include <QObject>

class QThread;

namespace gqa {

class WorkerThread : public QObject {
    Q_OBJECT
public:
    explicit WorkerThread(QObject* parent = nullptr);
    ~WorkerThread() override;

    /// True from start() until the job's thread has ended.
    bool isRunning() const;
    /// Blocks until the job has ended (true) or `ms` passed (false); -1 waits forever.
    bool wait(int ms);
    /// Runs `job` on a new thread; ignored (returns false) while a job runs.
    bool start(std::function<void()> job);

Q_SIGNALS:
    void finished();

private:
    void release();

    QThread* m_thread = nullptr;
};

}  // namespace gqa
