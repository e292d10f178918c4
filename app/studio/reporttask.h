// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's facade over the run report (app/report/runreport.h), used by the Training tab's
// "Report…" and the wizard's "Write Report": start() gathers the report's content on a
// WorkerThread (head analysis and two perplexity runs are the slow part), then draws the figures
// and writes report.html / report.pdf on the GUI thread (QCustomPlot is a widget). Signals as
// every WorkerTask (workertask.h): progress, then resultReady, failed or cancelled, then finished.
// Only value types cross threads.

#include <QObject>
#include <QString>

#include "runreport.h"
#include "workertask.h"

namespace gqa {

class ReportTask : public WorkerTask {
    Q_OBJECT
public:
    explicit ReportTask(QObject* parent = nullptr);

public Q_SLOTS:
    /// Ignored (returns false) while a report is being gathered or written.
    bool start(const gqa::ReportConfig& config);

Q_SIGNALS:
    void resultReady(const gqa::ReportResult& result);
};

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::ReportResult)
