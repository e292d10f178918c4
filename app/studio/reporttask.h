// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's facade over the run report (app/report/runreport.h), used by the Training tab's
// "Report…" and the wizard's "Write Report": start() gathers the report's content on a
// WorkerThread (head analysis and two perplexity runs are the slow part), then draws the figures
// and writes report.html / report.pdf on the GUI thread (QCustomPlot is a widget). Signals:
// progress, then resultReady or failed, then finished. cancel() stops the gathering at its next
// progress report (failed follows with the cancellation message). Only value types cross threads.

#include <atomic>
#include <memory>

#include <QObject>
#include <QString>

#include "runreport.h"
#include "workerthread.h"

namespace gqa {

class ReportTask : public QObject {
    Q_OBJECT
public:
    explicit ReportTask(QObject* parent = nullptr);
    /// Cancels and waits for the worker.
    ~ReportTask() override;
    /// True from start() until finished is emitted (gathering or writing).
    bool isRunning() const { return m_running; }

public Q_SLOTS:
    /// Ignored (returns false) while a report is being gathered or written.
    bool start(const gqa::ReportConfig& config);
    void cancel();

Q_SIGNALS:
    void progress(double fraction, const QString& stage);
    void resultReady(const gqa::ReportResult& result);
    void failed(const QString& message);
    void finished();

private:
    void end();

    bool m_running = false;
    std::shared_ptr<std::atomic_bool> m_stop;
    WorkerThread m_worker;  ///< last: destroyed (waited for) first
};

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::ReportResult)
