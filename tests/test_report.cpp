// SPDX-License-Identifier: GPL-3.0-or-later
// The run report on a tiny real run: the Training tab's report task writes report.html with the
// model name, the G, the export's verification and the evaluation table, and a multi-page A4 PDF.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <QPushButton>
#include <QSignalSpy>
#include <gtest/gtest.h>

#include "base/error.h"
#include "reporttask.h"
#include "testsupport.h"
#include "trainingpanel.h"
#include "trainingrunner.h"

namespace gqa {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(RunReport, WritesHtmlAndAMultiPagePdfForAFinishedRun) {
    ModelConfig c = test::tinyConfig(4);
    c.vocabSize = 300;
    const std::string model = test::writeRandomModel(c, 17);
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += "the cat sat on the mat and the dog ran to the garden " + std::to_string(i) + "\n";
    test::trainTinyTokenizer(model, text);
    const std::string out = test::scratchFolder("report-run");

    TrainingSettings s;
    s.modelFolder = QString::fromStdString(model);
    s.groups = 2;
    s.calibrationFiles = {QString::fromStdString(model + "/train.txt")};
    s.calibrationSequences = 4;
    s.trainFiles = s.calibrationFiles;
    s.validationFile = s.calibrationFiles.front();
    s.outputFolder = QString::fromStdString(out);
    s.steps = 4;
    s.batchSize = 2;
    s.seqLen = 16;
    s.checkpointEvery = 0;
    s.evalEvery = 0;
    // Groups chosen by hand (the Similarity tab's "Use these groups"): the report shows these,
    // not a search of its own.
    s.groupings = {{{0, 3}, {1, 2}}, {{0, 2}, {1, 3}}};
    TrainingPanel panel;
    QSignalSpy done(panel.runner(), &TrainingRunner::resultReady);
    panel.runner()->start(s);
    ASSERT_TRUE(done.wait(120000));

    QSignalSpy written(panel.reportTask(), &ReportTask::resultReady);
    QSignalSpy failed(panel.reportTask(), &ReportTask::failed);
    QSignalSpy cancelled(panel.reportTask(), &ReportTask::cancelled);
    QSignalSpy finished(panel.reportTask(), &ReportTask::finished);
    // Cancelled at once: the report button reads "Cancel Report" meanwhile, nothing is written.
    panel.writeReport();
    auto* button = panel.findChild<QPushButton*>(QStringLiteral("reportButton"));
    ASSERT_NE(button, nullptr);
    EXPECT_EQ(button->text(), QStringLiteral("Cancel Report"));
    button->click();
    ASSERT_TRUE(finished.wait(120000));
    // One cancel semantics for every task (workertask.h): cancelled, not failed.
    EXPECT_EQ(cancelled.size(), 1);
    EXPECT_TRUE(failed.isEmpty());
    EXPECT_TRUE(written.isEmpty());
    EXPECT_FALSE(std::filesystem::exists(out + "/report.html"));
    EXPECT_EQ(button->text(), QStringLiteral("Report…"));
    failed.clear();

    panel.writeReport();  // the last finished run
    ASSERT_TRUE(written.wait(120000))
        << (failed.isEmpty() ? "" : failed.front().front().toString().toStdString());
    const auto result = written.front().front().value<ReportResult>();
    const std::string html = slurp(result.htmlPath.toStdString());
    const std::string name = std::filesystem::path(model).filename().string();
    EXPECT_NE(html.find("GQA conversion report: " + name), std::string::npos);
    EXPECT_NE(html.find("G = 2"), std::string::npos);
    // The family is named next to the model (issue "Model families": every view names it).
    EXPECT_NE(html.find("<th align=\"left\">family</th><td>LlamaForCausalLM: "), std::string::npos);
    EXPECT_EQ(html.find("LlamaForCausalLM (LlamaForCausalLM"), std::string::npos) << "named once";
    EXPECT_NE(html.find("verified (max relative logit difference"), std::string::npos);
    EXPECT_NE(html.find("<h2>Evaluation</h2>"), std::string::npos);
    EXPECT_NE(html.find("Groups: given by the user"), std::string::npos);
    EXPECT_NE(html.find("{0, 3} {1, 2}"), std::string::npos);
    EXPECT_NE(html.find("{0, 2} {1, 3}"), std::string::npos);
    EXPECT_NE(html.find("exported GQA"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(out + "/report_files/losses.png"));
    EXPECT_FALSE(std::filesystem::exists(out + "/report.html.tmp"));

    const std::string pdf = slurp(out + "/report.pdf");
    ASSERT_EQ(pdf.rfind("%PDF", 0), 0u);
    const std::regex page("/Type /Page[^s]");
    const auto pages =
        std::distance(std::sregex_iterator(pdf.begin(), pdf.end(), page), std::sregex_iterator());
    EXPECT_GT(pages, 1);
}

TEST(RunReport, RefusesAFolderWithoutARunFile) {
    ReportConfig c;
    c.runFolder = QString::fromStdString(test::scratchFolder("report-empty"));
    EXPECT_THROW(gatherReportData(c, {}), InputError);
}

}  // namespace
}  // namespace gqa
