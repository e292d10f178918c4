// SPDX-License-Identifier: GPL-3.0-or-later
#include "reporttask.h"

#include <memory>

#include "base/error.h"

namespace gqa {

ReportTask::ReportTask(QObject* parent) : WorkerTask(parent) { qRegisterMetaType<ReportResult>(); }

bool ReportTask::start(const ReportConfig& config) {
    return startJob([this, config](ProgressSink& sink) -> Deliver {
        auto data = std::make_shared<ReportData>(
            gatherReportData(config, [&sink](double fraction, const QString& stage) {
                return sink.report({fraction, stage.toStdString(), {}, {}});
            }));
        if (!sink.report({1.0, "writing the report", {}, {}})) throw Cancelled("report");
        // Figures are widgets: the report is drawn and written on the GUI thread.
        return [this, data, config] { Q_EMIT resultReady(writeReport(*data, config)); };
    });
}

}  // namespace gqa
