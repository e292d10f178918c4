// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The similarity analysis as a GUI facade, a WorkerTask (workertask.h): start() runs
// runHeadAnalysis (headanalysisworker.h) on a worker thread and answers with signals on the GUI
// thread: started, progress (a few per second), then exactly one of resultReady / failed /
// cancelled, then finished. Only value types cross threads (HeadAnalysisData). Starting again
// while a run is going replaces that run: it is cancelled, its late answers are dropped, and the
// new one starts when it has stopped. Destroying the facade cancels and waits for the worker.

#include "headanalysisdata.h"
#include "headanalysisworker.h"
#include "workertask.h"

namespace gqa {

class HeadAnalysisTask : public WorkerTask {
    Q_OBJECT
public:
    explicit HeadAnalysisTask(QObject* parent = nullptr);

    void start(const HeadAnalysisRequest& request);
    /// Blocks until the worker thread is idle (tests, shutdown); signals still arrive through the
    /// event loop afterwards.
    void waitForWorker() { wait(-1); }

Q_SIGNALS:
    void resultReady(const gqa::HeadAnalysisData& data);
};

}  // namespace gqa
