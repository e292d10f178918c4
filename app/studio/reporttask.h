// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's facade over the run report (app/report/runreport.h): start() gathers the report's
// content on a worker thread (head analysis and two perplexity runs are the slow part), then
// draws the figures and writes report.html / report.pdf on the GUI thread (QCustomPlot is a
// widget) and emits resultReady with the written paths. Only value types cross threads.

#include <QObject>
#include <QString>

#include "runreport.h"

class QThread;

namespace gqa {

class ReportTask : public QObject {
    Q_OBJECT
public:
    explicit ReportTask(QObject* parent = nullptr);
    ~ReportTask() override;
    bool isRunning() const { return m_thread != nullptr; }

public Q_SLOTS:
    /// Ignored while a report is being written.
    void start(const gqa::ReportConfig& config);

Q_SIGNALS:
    void progress(double fraction, const QString& stage);
    void resultReady(const gqa::ReportResult& result);
    void failed(const QString& message);

private:
    QThread* m_thread = nullptr;
};

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::ReportResult)
