// SPDX-License-Identifier: GPL-3.0-or-later
// Run files cross between the two front ends: a run file that the built gqa-cli writes
// (make-test-model, calibrate, train) opens in the studio's loaders (the Training tab's openRun,
// the Similarity tab's head analysis, which reuses the CLI's statistics), and statistics that the
// studio records are reused by `gqa-cli calibrate`. The CLI's path comes from CMake (GQA_CLI_PATH).
#include <QFile>
#include <QProcess>
#include <QStringList>
#include <gtest/gtest.h>

#include "gateheatmap.h"
#include "headanalysisworker.h"
#include "liveplot.h"
#include "base/progress.h"
#include "testsupport.h"
#include "tinyrunfolder.h"
#include "trainingpanel.h"

namespace gqa {
namespace {

constexpr int kCliTimeoutMs = 180000;
constexpr int kSequences = 4, kLength = 16, kSteps = 4;

struct CliResult {
    int exitCode = -1;
    QString out, err;
};

CliResult runCli(const QStringList& args) {
    QProcess cli;
    cli.start(QStringLiteral(GQA_CLI_PATH), args);
    CliResult r;
    if (!cli.waitForFinished(kCliTimeoutMs)) {
        cli.kill();
        r.err = QStringLiteral("gqa-cli did not finish: ") + args.join(QLatin1Char(' '));
        return r;
    }
    r.exitCode = cli.exitStatus() == QProcess::NormalExit ? cli.exitCode() : -1;
    r.out = QString::fromLocal8Bit(cli.readAllStandardOutput());
    r.err = QString::fromLocal8Bit(cli.readAllStandardError());
    return r;
}

QString q(const std::string& s) { return QString::fromStdString(s); }

HeadAnalysisRequest analysisRequest(const QString& model, const QString& text,
                                    const QString& runFile) {
    HeadAnalysisRequest r;
    r.modelFolder = model;
    r.inputFiles = {text};
    r.sequences = kSequences;
    r.sequenceLength = kLength;
    r.batchSize = 2;
    r.runFile = runFile;
    return r;
}

TEST(CliRunFiles, ARunFileWrittenByTheCliOpensInTheStudio) {
    const test::TinyRunFolder tiny;  // its tokenizer and training text
    const std::string work = test::scratchFolder("cli-run-file");
    const QString model = q(work + "/model"), run = q(work + "/run.h5"), text = q(tiny.textFile());
    CliResult r = runCli({"make-test-model", model, "--layers", "2", "--heads", "4", "--kv-heads",
                          "4", "--head-dim", "8", "--vocab", "300"});
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    QFile::copy(q(tiny.model + "/tokenizer.model"), model + "/tokenizer.model");
    r = runCli({"calibrate", model, "--inputs", text, "--sequences", QString::number(kSequences),
                "--length", QString::number(kLength), "--run", run, "--quiet"});
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    r = runCli({"train",       q(work + "/out"),
                "--model",     model,
                "--kv-heads",  "2",
                "--train",     text,
                "--steps",     QString::number(kSteps),
                "--batch",     "2",
                "--seq-len",   "16",
                "--warmup",    "1",
                "--bild-topk", "4",
                "--run",       run,
                "--quiet"});
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();

    TrainingPanel panel;
    const QString error = panel.openRun(run);
    EXPECT_TRUE(error.isEmpty()) << error.toStdString();
    EXPECT_EQ(panel.lossPlot()->pointCount(QStringLiteral("loss")), kSteps);
    ASSERT_EQ(panel.gateHeatmap()->entryCount(), kSteps);
    for (int layer = 0; layer < 2; ++layer)  // the run ends with every gate closed
        for (int head = 0; head < 4; ++head)
            EXPECT_EQ(panel.gateHeatmap()->shownValue(layer, head), 0.0);

    NullProgress quiet;
    const HeadAnalysisData data = runHeadAnalysis(analysisRequest(model, text, run), quiet);
    EXPECT_TRUE(data.reusedCalibration) << data.warnings.join(QLatin1Char('\n')).toStdString();
    EXPECT_EQ(data.runFile, run);
}

TEST(CliRunFiles, StatisticsTheStudioRecordedAreReusedByTheCli) {
    const test::TinyRunFolder tiny;
    const QString model = q(tiny.model), text = q(tiny.textFile());
    const QString run = q(test::scratchFolder("studio-run-file") + "/studio.h5");
    NullProgress quiet;
    const HeadAnalysisData data = runHeadAnalysis(analysisRequest(model, text, run), quiet);
    ASSERT_EQ(data.runFile, run) << data.warnings.join(QLatin1Char('\n')).toStdString();
    EXPECT_FALSE(data.reusedCalibration);
    const CliResult r =
        runCli({"calibrate", model, "--inputs", text, "--sequences", QString::number(kSequences),
                "--length", QString::number(kLength), "--run", run});
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(r.out.contains(QStringLiteral("reused"))) << r.out.toStdString();
    EXPECT_EQ(runCli({"analyze", model, "--run", run, "--json", "--quiet"}).exitCode, 0);
}

}  // namespace
}  // namespace gqa
