// SPDX-License-Identifier: GPL-3.0-or-later
// `gqa-cli report`: the run report (docs/report.md). QCustomPlot draws with widgets, so this
// command alone creates a QApplication, on the "offscreen" platform unless one is set: it runs
// without a display.
#include <cstdio>
#include <cstdlib>

#include <QApplication>

#include "arguments.h"
#include "clioptions.h"
#include "commands.h"
#include "eval/modelcomparison.h"
#include "runreport.h"
#include "terminalprogress.h"

namespace gqa::cli {

int runReport(const std::vector<std::string>& args) {
    Arguments a(
        "report",
        "Writes report.html (figures in report_files/) and report.pdf for a conversion "
        "training run: model, settings, versions, head similarity, chosen groups, "
        "training curves, gates, evaluation (perplexity and KV cache of the original vs "
        "the exported model) and the export's verification.",
        {"run-folder"},
        {{"out", "DIR", "write the report here (default: the run folder)", ""},
         {"run", "FILE", "the run file (default: RUN_FOLDER/run.h5)", ""},
         {"export", "DIR", "the exported GQA model (default: from the run file)", ""},
         {"text", "FILE", "held-out text for perplexity (default: the calibration text)", ""},
         {"max-tokens", "N", "perplexity on the first N tokens (0 = skip)",
          std::to_string(kComparisonMaxTokens)},
         {"no-pdf", "", "write only the HTML", ""},
         quietOption()});
    if (parseOrHelp(a, args)) return kExitOk;
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "gqa-cli";
    static char* argv[] = {name, nullptr};
    QApplication app(argc, argv);

    ReportConfig c;
    c.runFolder = QString::fromLocal8Bit(a.positional(0).c_str());
    c.outputFolder = QString::fromLocal8Bit(a.text("out").c_str());
    c.runFile = QString::fromLocal8Bit(a.text("run").c_str());
    c.exportFolder = QString::fromLocal8Bit(a.text("export").c_str());
    c.evaluationText = QString::fromLocal8Bit(a.text("text").c_str());
    c.maxTokens = a.integer("max-tokens");
    c.writePdf = !a.flag("no-pdf");
    TerminalProgress progress(a.flag("quiet"));
    const ReportResult r = writeRunReport(c, [&progress](double fraction, const QString& stage) {
        return progress.report({fraction, stage.toStdString(), {}, {}});
    });
    progress.finish();
    std::printf("wrote %s\n", r.htmlPath.toLocal8Bit().constData());
    if (!r.pdfPath.isEmpty()) std::printf("wrote %s\n", r.pdfPath.toLocal8Bit().constData());
    for (const QString& n : r.notes)
        std::fprintf(stderr, "note: %s\n", n.toLocal8Bit().constData());
    return kExitOk;
}

}  // namespace gqa::cli
