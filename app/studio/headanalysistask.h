// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The similarity analysis as a GUI facade: start() runs runHeadAnalysis (headanalysisworker.h) on
// a worker thread and answers with signals on the GUI thread: started, progress (throttled to a
// few per second), then exactly one of resultReady / failed / cancelled, then finished. Only
// value types cross threads (HeadAnalysisData). cancel() sets an atomic flag that the worker's
// ProgressSink reads at every report. Starting again while a run is going cancels that run; its
// late answers are dropped (LatestJob). Destroying the facade cancels and waits for the worker.

#include <atomic>
#include <memory>

#include <QObject>
#include <QString>
#include <QThreadPool>

#include "headanalysisdata.h"
#include "headanalysisworker.h"
#include "latestjob.h"

namespace gqa {

class HeadAnalysisTask : public QObject {
    Q_OBJECT
public:
    explicit HeadAnalysisTask(QObject* parent = nullptr);
    ~HeadAnalysisTask() override;

    void start(const HeadAnalysisRequest& request);
    bool isRunning() const { return m_running; }
    /// Blocks until the worker thread is idle (tests, shutdown); signals still arrive through the
    /// event loop afterwards.
    void waitForWorker();

public Q_SLOTS:
    void cancel();

Q_SIGNALS:
    void started();
    void progress(double fraction, const QString& stage);
    void resultReady(const gqa::HeadAnalysisData& data);
    void failed(const QString& message);
    void cancelled();
    void finished();

private:
    void conclude(LatestJob::Id id, int outcome, const HeadAnalysisData& data,
                  const QString& message);

    QThreadPool m_pool;
    LatestJob m_jobs;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    bool m_running = false;
};

}  // namespace gqa
