// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one-click run report of a conversion run, shared by the studio ("Report…" in the Training
// tab) and the CLI (`gqa-cli report RUN_FOLDER`): report.html with its figures as PNG files in
// report_files/ next to it, and report.pdf (A4, the same content laid out by QTextDocument). See
// docs/report.md for the content. Writing is atomic: the HTML and PDF go to `*.tmp` first and are
// renamed over the old ones, the figures into report_files.tmp/ that replaces report_files/.
//
// gatherReportData (reportdata.h) is the slow part and may run on any thread; writeReport draws
// the figures with QCustomPlot (widgets) and must run on the GUI thread of a QApplication.

#include <QString>
#include <QStringList>

#include "reportdata.h"

namespace gqa {

struct ReportResult {
    QString htmlPath;
    QString pdfPath;  ///< empty when no PDF was asked for
    QStringList notes;
};

/// Draws the figures and writes report.html (and report.pdf) into config.outputFolder (or the
/// run folder). gqa::Error when a file cannot be written.
ReportResult writeReport(const ReportData& data, const ReportConfig& config);

/// gatherReportData + writeReport, on the calling (GUI) thread.
ReportResult writeRunReport(const ReportConfig& config, const ReportProgress& progress = {});

}  // namespace gqa
