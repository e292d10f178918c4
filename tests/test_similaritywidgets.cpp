// SPDX-License-Identifier: GPL-3.0-or-later
// The similarity side of the studio, offscreen: the head heatmap's pixel -> head-pair mapping
// (also with heads reordered by group) and its hover signal, one colour range shared by the
// before/after maps, and the analysis facade on a tiny real model: a result, a reused calibration
// on the second run, and cancel. The grouping side is in test_groupingwidgets.cpp.
#include <filesystem>

#include <QApplication>
#include <QFileInfo>
#include <QFontMetrics>
#include <QComboBox>
#include <QPushButton>
#include <QTabWidget>
#include <QMouseEvent>
#include <QSignalSpy>
#include <gtest/gtest.h>

#include "groupeditor.h"
#include "groupingpane.h"
#include "groupingtask.h"
#include "headanalysistask.h"
#include "headheatmap.h"
#include "headstatisticsstore.h"
#include "heatmapgrid.h"
#include "latestjob.h"
#include "layercomparisonplot.h"
#include "mainwindow.h"
#include "similaritypanel.h"
#include "titlewrap.h"
#include "trainingpanel.h"
#include "testsupport.h"
#include "similarityfixtures.h"
#include "text/tokenizer.h"

namespace gqa {
namespace {

using test::consecutiveGroups;
using test::syntheticAnalysis;
using test::waitForSearch;

constexpr int kWaitMs = 120000;  // a tiny calibration takes well under a second; CI can be slow

QVector<double> distinctMatrix(int n) {  // value of (i, j) = 10 i + j
    QVector<double> v(n * n);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) v[i * n + j] = 10.0 * i + j;
    return v;
}

QPointF pixelOf(const HeadHeatmap& map, int displayRow, int displayCol) {
    return {map.xAxis->coordToPixel(displayCol), map.yAxis->coordToPixel(displayRow)};
}

void hoverAt(HeadHeatmap& map, const QPointF& pixel) {
    QMouseEvent move(QEvent::MouseMove, pixel, map.mapToGlobal(pixel), Qt::NoButton, Qt::NoButton,
                     Qt::NoModifier);
    QApplication::sendEvent(&map, &move);
}

TEST(LatestJob, OnlyTheLatestJobsFirstAnswerIsAccepted) {
    LatestJob jobs;
    EXPECT_EQ(jobs.latest(), 0u);
    const auto first = jobs.begin(), second = jobs.begin(), third = jobs.begin();
    EXPECT_TRUE(jobs.isLatest(third));
    EXPECT_FALSE(jobs.isLatest(first));
    // Answers in the order 2, 3, 1: only 3 is used, once.
    EXPECT_FALSE(jobs.accept(second));
    EXPECT_TRUE(jobs.accept(third));
    EXPECT_FALSE(jobs.accept(first));
    EXPECT_FALSE(jobs.accept(third));
    const auto fourth = jobs.begin();
    jobs.invalidate();
    EXPECT_FALSE(jobs.accept(fourth));
    EXPECT_FALSE(jobs.isLatest(0));
}

TEST(HeadHeatmap, MapsPixelsToHeadPairsAndValues) {
    HeadHeatmap map;
    map.resize(420, 400);
    map.setMatrix(distinctMatrix(4), 4);
    map.replot();
    ASSERT_EQ(map.headCount(), 4);
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
            const auto cell = map.cellAt(pixelOf(map, r, c));
            ASSERT_TRUE(cell) << r << "," << c;
            EXPECT_EQ(*cell, std::make_pair(r, c));
        }
    // Row 0 is at the top: the same column, lower on screen, is a later row.
    EXPECT_LT(pixelOf(map, 0, 0).y(), pixelOf(map, 3, 0).y());
    // Off the matrix: a quarter cell beyond the last one, and the far corner of the widget.
    const QPointF beyond = pixelOf(map, 3, 3) + (pixelOf(map, 3, 3) - pixelOf(map, 2, 2)) * 0.75;
    EXPECT_FALSE(map.cellAt(beyond));
    EXPECT_FALSE(map.cellAt(QPointF(1, 1)));
    // Cells are square.
    const QPointF step = pixelOf(map, 1, 1) - pixelOf(map, 0, 0);
    EXPECT_NEAR(step.x(), step.y(), 1.0);
    EXPECT_DOUBLE_EQ(map.valueAt(2, 1), 21.0);
    EXPECT_EQ(map.cellText(2, 1), QStringLiteral("head 2 × head 1: 21"));
    // The data export: original head order, full precision.
    const QStringList csv = map.toCsv().split(QLatin1Char('\n'));
    EXPECT_EQ(csv[0], QStringLiteral("head,0,1,2,3"));
    EXPECT_EQ(csv[3], QStringLiteral("2,20,21,22,23"));
}

TEST(HeadHeatmap, ReorderedHeadsMapToTheirOriginalIndices) {
    HeadHeatmap map;
    map.resize(400, 400);
    map.setMatrix(distinctMatrix(4), 4);
    map.setHeadOrder({2, 0, 3, 1});
    map.replot();
    EXPECT_EQ(*map.cellAt(pixelOf(map, 0, 0)), std::make_pair(2, 2));
    EXPECT_EQ(*map.cellAt(pixelOf(map, 0, 3)), std::make_pair(2, 1));
    EXPECT_EQ(*map.cellAt(pixelOf(map, 2, 1)), std::make_pair(3, 0));

    QSignalSpy hovered(&map, &HeadHeatmap::hovered);
    hoverAt(map, pixelOf(map, 2, 1));
    ASSERT_EQ(hovered.count(), 1);
    EXPECT_EQ(hovered[0][0].toInt(), 3);
    EXPECT_EQ(hovered[0][1].toInt(), 0);
    EXPECT_DOUBLE_EQ(hovered[0][2].toDouble(), 30.0);
    EXPECT_EQ(map.hoverText(), QStringLiteral("head 3 × head 0: 30"));
    QSignalSpy cleared(&map, &HeadHeatmap::hoverCleared);
    hoverAt(map, QPointF(1, 1));
    EXPECT_EQ(cleared.count(), 1);
    EXPECT_TRUE(map.hoverText().isEmpty());

    // Groups reorder the heads group by group and outline each group.
    map.setGroups({{1, 3}, {0, 2}});
    map.replot();
    EXPECT_EQ(map.headOrder(), (QVector<int>{1, 3, 0, 2}));
    EXPECT_EQ(map.itemCount(), 2);
    EXPECT_EQ(*map.cellAt(pixelOf(map, 1, 2)), std::make_pair(3, 0));
    map.setGroups({{0, 0}, {1, 2}});  // not a partition: ignored, outlines cleared
    EXPECT_EQ(map.itemCount(), 0);
}

// On a 1024 x 640 screen the heatmap titles were clipped at both ends ("fore alignment"): a
// narrow plot shows its title wrapped at spaces, and keeps the full title.
TEST(HeadHeatmap, ANarrowMapWrapsItsTitleInsteadOfClippingIt) {
    const QString title = QStringLiteral("Layer 0 · values · dist\nbefore alignment (mean -3.152)");
    HeadHeatmap map;
    map.setTitle(title);
    map.resize(600, 400);
    map.show();
    QApplication::processEvents();
    EXPECT_EQ(map.xAxis2->label(), title);  // wide enough: as given
    map.resize(150, 300);
    QApplication::processEvents();
    const QStringList lines = map.xAxis2->label().split(QLatin1Char('\n'));
    EXPECT_GT(lines.size(), 2);
    const QFontMetrics metrics(map.xAxis2->labelFont());
    for (const QString& line : lines)
        EXPECT_LE(metrics.horizontalAdvance(line), 150) << line.toStdString();
    EXPECT_EQ(map.title(), title);
    EXPECT_EQ(wrapToWidth(QStringLiteral("alpha beta"), map.font(), 1),
              QStringLiteral("alpha\nbeta"));
}

TEST(HeadHeatmap, ColourRangeLeavesOutTheDiagonal) {
    HeadHeatmap map;
    map.setMatrix({0, -2, -2, 0}, 2);
    EXPECT_DOUBLE_EQ(map.autoColorRange().upper,
                     map.autoColorRange().center() + map.autoColorRange().size() / 2);
    EXPECT_LT(map.autoColorRange().upper, 0.0);  // the zero diagonal is not in the range
    map.setColorRange(QCPRange(-5, 1));
    EXPECT_DOUBLE_EQ(map.colorRange().lower, -5.0);
    EXPECT_DOUBLE_EQ(map.colorRange().upper, 1.0);
}

TEST(SimilarityPanel, BeforeAndAfterShareOneColourRange) {
    SimilarityPanel panel;
    panel.resize(1200, 760);
    panel.showAnalysis(syntheticAnalysis(3, 4));
    ASSERT_TRUE(panel.hasAnalysis());
    const QCPRange before = panel.beforeMap()->autoColorRange();
    const QCPRange after = panel.afterMap()->autoColorRange();
    ASSERT_NE(before.lower, after.lower);  // the data differ, so one range must cover both
    for (HeadHeatmap* map : {panel.beforeMap(), panel.afterMap()}) {
        EXPECT_DOUBLE_EQ(map->colorRange().lower, std::min(before.lower, after.lower));
        EXPECT_DOUBLE_EQ(map->colorRange().upper, std::max(before.upper, after.upper));
    }
    EXPECT_FALSE(panel.beforeMap()->colorBarVisible());
    EXPECT_TRUE(panel.afterMap()->colorBarVisible());

    // Another layer, kind and criterion: still one range for both.
    panel.setLayer(2);
    panel.setKind(HeadKind::Keys);
    panel.setCriterion(Criterion::Cos);
    EXPECT_EQ(panel.beforeMap()->colorRange(), panel.afterMap()->colorRange());
    EXPECT_TRUE(panel.beforeMap()->title().contains(QStringLiteral("Layer 2")));

    // Small multiples: one map per layer, all on the grid's range; a click opens a layer.
    ASSERT_EQ(panel.grid()->count(), 3);
    for (int l = 0; l < 3; ++l)
        EXPECT_EQ(panel.grid()->map(l)->colorRange(), panel.grid()->colorRange());
    // Before and after alignment share the grid's scale too, so toggling shows the change (each
    // side on its own range made them look alike).
    const QCPRange gridRange = panel.grid()->colorRange();
    auto* side = panel.findChild<QComboBox*>(QStringLiteral("gridSideCombo"));
    ASSERT_NE(side, nullptr);
    side->setCurrentIndex(1);  // before alignment
    EXPECT_EQ(panel.grid()->colorRange(), gridRange);
    EXPECT_EQ(panel.grid()->map(0)->colorRange(), gridRange);
    EXPECT_TRUE(panel.grid()->map(0)->title().contains(QStringLiteral("mean")));
    Q_EMIT panel.grid()->map(1)->clicked();
    EXPECT_EQ(panel.layer(), 1);
    // The summary plot: mean similarity before/after per layer.
    EXPECT_EQ(panel.summaryPlot()->series(0), (QVector<double>{-3, -4, -5}));
    EXPECT_EQ(panel.summaryPlot()->series(1), (QVector<double>{-1, -2, -3}));
    EXPECT_TRUE(panel.summaryPlot()->toCsv().startsWith(
        QStringLiteral("layer,\"before alignment\",\"after alignment\"\n0,-3,-1\n")));
}

/// A tiny MHA model with a tokenizer of the same vocabulary, and its training text.
struct TinyModel {
    std::string folder;
    QString text;
    TinyModel() {
        const std::string tokenizerDir = test::scratchFolder("similarity-tokenizer");
        std::string corpus;
        const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"};
        for (int i = 0; i < 3000; ++i)
            corpus += std::string(words[(i * 7) % 10]) + (i % 11 == 10 ? ".\n" : " ");
        test::trainTinyTokenizer(tokenizerDir, corpus);
        const Tokenizer tokenizer = Tokenizer::load(tokenizerDir + "/tokenizer.model");
        ModelConfig config = test::tinyConfig();
        config.vocabSize = tokenizer.vocabSize();
        folder = test::writeRandomModel(config, 21);
        std::filesystem::copy_file(tokenizerDir + "/tokenizer.model", folder + "/tokenizer.model");
        text = QString::fromStdString(tokenizerDir + "/train.txt");
    }
};

HeadAnalysisRequest tinyRequest(const TinyModel& model, const std::string& runFile) {
    HeadAnalysisRequest r;
    r.modelFolder = QString::fromStdString(model.folder);
    r.inputFiles = {model.text};
    r.sequences = 6;
    r.sequenceLength = 24;
    r.batchSize = 3;
    r.runFile = QString::fromStdString(runFile);
    return r;
}

TEST(HeadAnalysisTask, DeliversValuesOnATinyModelAndReusesTheCalibration) {
    const TinyModel model;
    const std::string runFile = test::scratchFolder("similarity-run") + "/tiny.h5";
    HeadAnalysisTask task;
    QSignalSpy started(&task, &HeadAnalysisTask::started);
    QSignalSpy progress(&task, &HeadAnalysisTask::progress);
    QSignalSpy ready(&task, &HeadAnalysisTask::resultReady);
    QSignalSpy failed(&task, &HeadAnalysisTask::failed);
    QSignalSpy finished(&task, &HeadAnalysisTask::finished);
    task.start(tinyRequest(model, runFile));
    EXPECT_EQ(started.count(), 1);
    ASSERT_TRUE(finished.wait(kWaitMs));
    ASSERT_EQ(failed.count(), 0) << failed[0][0].toString().toStdString();
    ASSERT_EQ(ready.count(), 1);
    EXPECT_GT(progress.count(), 0);
    const auto data = ready[0][0].value<HeadAnalysisData>();
    EXPECT_FALSE(data.reusedCalibration);
    EXPECT_EQ(data.runFile, QString::fromStdString(runFile));
    EXPECT_TRUE(std::filesystem::exists(runFile));
    EXPECT_EQ(data.tokens, 6 * 24);
    ASSERT_EQ(data.layerCount(), 2);
    EXPECT_EQ(data.heads, 4);
    EXPECT_EQ(data.groupCounts, (QVector<int>{4, 2, 1}));
    ASSERT_EQ(data.groupings.size(), 2);  // G = 1 and 2 from analyzeHeads
    ASSERT_TRUE(data.statistics);
    for (const LayerSimilarity& layer : data.layers) {
        const SimilarityPair& dist = layer.of(HeadKind::Values, Criterion::Dist);
        ASSERT_EQ(dist.before.size(), 16);
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
                EXPECT_NEAR(dist.before[i * 4 + j], dist.before[j * 4 + i], 1e-9);
                // Alignment only ever brings heads closer (identity is admissible).
                EXPECT_GE(dist.after[i * 4 + j], dist.before[i * 4 + j] - 1e-9);
            }
        EXPECT_GE(dist.meanAfter, dist.meanBefore - 1e-12);
        const SimilarityPair& cos = layer.of(HeadKind::Keys, Criterion::Cos);
        EXPECT_LE(cos.meanAfter, 1.0 + 1e-9);
        EXPECT_NE(cos.after, dist.after);
    }

    // A grouping the analysis did not precompute (keys, cos) is searched in the background.
    GroupingTask grouping;
    QSignalSpy groupingReady(&grouping, &GroupingTask::resultReady);
    grouping.request({data.statistics, 2, {HeadKind::Keys, Criterion::Cos}});
    ASSERT_TRUE(groupingReady.wait(kWaitMs));
    const auto g = groupingReady[0][1].value<GroupingData>();
    ASSERT_EQ(g.layers.size(), 2);
    EXPECT_EQ(g.layers[0].groups.size(), 2);
    EXPECT_GE(g.layers[0].objective, g.layers[0].consecutiveObjective - 1e-12);
    EXPECT_GE(g.layers[0].baseline.relative(), 0.0);

    // In the panel: the default G's groups are outlined; a hand edit updates the objective at
    // once (core's grouping objective) and the merge cost in the background.
    SimilarityPanel panel;
    GroupingPane* pane = panel.groupingPane();
    QSignalSpy idle(pane, &GroupingPane::idle);
    panel.showAnalysis(data);
    ASSERT_TRUE(idle.wait(kWaitMs));
    ASSERT_EQ(pane->grouping().groups, 2);
    EXPECT_EQ(panel.afterMap()->groups(), pane->grouping().layers[0].groups);
    const LayerGrouping searched = pane->grouping().layers[0];
    QSignalSpy evaluated(pane->task(), &GroupingTask::layerEvaluated);
    ASSERT_GE(pane->editor()->moveHead(searched.groups[0][0], 1), 0);
    const LayerGrouping edited = pane->grouping().layers[0];
    EXPECT_TRUE(edited.edited);
    EXPECT_NE(edited.groups, searched.groups);
    EXPECT_NEAR(edited.objective,
                groupingObjectiveOf(*data.statistics, 0, pane->grouping().driver, edited.groups),
                1e-12);
    EXPECT_LE(edited.objective, searched.objective + 1e-12);  // the search was exhaustive
    EXPECT_EQ(panel.afterMap()->groups(), edited.groups);
    ASSERT_TRUE(evaluated.wait(kWaitMs));
    EXPECT_EQ(pane->grouping().layers[0].groups, edited.groups);
    EXPECT_GT(pane->grouping().layers[0].aligned.relative(), 0.0);

    // Same model and settings again: the stored statistics are reused.
    task.start(tinyRequest(model, runFile));
    ASSERT_TRUE(finished.wait(kWaitMs));
    ASSERT_EQ(ready.count(), 2);
    const auto again = ready[1][0].value<HeadAnalysisData>();
    EXPECT_TRUE(again.reusedCalibration);
    EXPECT_EQ(again.layers[1].of(HeadKind::Values, Criterion::Dist).after,
              data.layers[1].of(HeadKind::Values, Criterion::Dist).after);
}

TEST(HeadAnalysisTask, CancelStopsTheRun) {
    const TinyModel model;
    HeadAnalysisTask task;
    QSignalSpy ready(&task, &HeadAnalysisTask::resultReady);
    QSignalSpy cancelled(&task, &HeadAnalysisTask::cancelled);
    QSignalSpy finished(&task, &HeadAnalysisTask::finished);
    task.start(tinyRequest(model, test::scratchFolder("similarity-cancel") + "/run.h5"));
    EXPECT_TRUE(task.isRunning());
    task.cancel();
    ASSERT_TRUE(finished.wait(kWaitMs));
    EXPECT_EQ(cancelled.count(), 1);
    EXPECT_EQ(ready.count(), 0);
    EXPECT_FALSE(task.isRunning());
}

TEST(HeadAnalysisTask, AMissingTokenizerFailsWithAMessage) {
    const std::string folder = test::writeRandomModel(test::tinyConfig(), 5);
    const TinyModel model;
    HeadAnalysisRequest request = tinyRequest(model, test::scratchFolder("sim-fail") + "/r.h5");
    request.modelFolder = QString::fromStdString(folder);
    HeadAnalysisTask task;
    QSignalSpy failed(&task, &HeadAnalysisTask::failed);
    QSignalSpy finished(&task, &HeadAnalysisTask::finished);
    task.start(request);
    ASSERT_TRUE(finished.wait(kWaitMs));
    ASSERT_EQ(failed.count(), 1);
    EXPECT_TRUE(failed[0][0].toString().contains(QStringLiteral("tokenizer")))
        << failed[0][0].toString().toStdString();
}

// Two models in folders of the same name must not share (and overwrite) one run file; the same
// folder spelled differently must find its own file again.
TEST(HeadAnalysisTask, DefaultRunFilesAreDistinctForSameNamedModelFolders) {
    const std::string root = test::scratchFolder("same-named-models");
    std::filesystem::create_directories(root + "/a/model");
    std::filesystem::create_directories(root + "/b/model");
    const QString first = QString::fromStdString(root + "/a/model");
    const QString second = QString::fromStdString(root + "/b/model");
    EXPECT_NE(defaultRunFilePath(first), defaultRunFilePath(second));
    EXPECT_EQ(defaultRunFilePath(first), defaultRunFilePath(first + QStringLiteral("/")));
    EXPECT_EQ(defaultRunFilePath(first),
              defaultRunFilePath(QString::fromStdString(root + "/b/../a/model")));
    EXPECT_TRUE(
        QFileInfo(defaultRunFilePath(first)).fileName().startsWith(QStringLiteral("model-")));
}

// "Use these groups for training": the Training tab converts with the groups on screen, edits
// included, until the user searches instead or picks another G.
TEST(MainWindow, TheSimilarityTabsGroupsGoToTraining) {
    const std::string folder = test::writeRandomModel(test::tinyConfig(), 9);
    MainWindow window;
    window.setErrorReporter([](const QString&, const QString&) {});
    ASSERT_TRUE(window.openModelFolder(QString::fromStdString(folder)));
    SimilarityPanel* panel = window.similarityPanel();
    GroupingPane* pane = panel->groupingPane();
    pane->task()->setCompute([](const GroupingRequest& r, const std::function<bool()>&) {
        return consecutiveGroups(r.groups, 4, 2);
    });
    HeadAnalysisData analysis = syntheticAnalysis(2, 4);
    analysis.modelFolder = panel->modelFolder();
    panel->showAnalysis(analysis);
    waitForSearch(pane);
    ASSERT_EQ(pane->grouping().groups, 2);
    const QVector<QVector<int>> edit{{0, 3}, {1, 2}};
    Q_EMIT pane->editor()->groupingEdited(edit);

    TrainingPanel* training = window.trainingPanel();
    EXPECT_FALSE(training->hasGivenGroups());
    EXPECT_TRUE(training->settings().groupings.empty());
    auto* use = pane->findChild<QPushButton*>(QStringLiteral("useGroupsButton"));
    ASSERT_NE(use, nullptr);
    ASSERT_TRUE(use->isEnabled());
    use->click();
    EXPECT_EQ(window.findChild<QTabWidget*>(QStringLiteral("mainTabs"))->currentWidget(), training);
    const TrainingSettings s = training->settings();
    EXPECT_EQ(s.groups, 2);
    ASSERT_EQ(s.groupings.size(), 2u);
    EXPECT_EQ(s.groupings[0], (std::vector<std::vector<std::int64_t>>{{0, 3}, {1, 2}}));
    EXPECT_EQ(s.groupings[1], (std::vector<std::vector<std::int64_t>>{{0, 1}, {2, 3}}));
    EXPECT_TRUE(training->groupsSourceText().contains(QStringLiteral("1 layer edited by hand")))
        << training->groupsSourceText().toStdString();

    // Another G cannot use them: back to searching.
    auto* groups = training->findChild<QComboBox*>(QStringLiteral("kvHeadsCombo"));
    groups->setCurrentIndex(groups->findData(1));
    EXPECT_FALSE(training->hasGivenGroups());
    EXPECT_TRUE(training->settings().groupings.empty());
    EXPECT_TRUE(training->groupsSourceText().contains(QStringLiteral("searched")));
}

TEST(MainWindow, HasASimilarityTabThatFollowsTheOpenModel) {
    const std::string folder = test::writeRandomModel(test::tinyConfig(), 9);
    MainWindow window;
    window.setErrorReporter([](const QString&, const QString&) {});
    auto* panel = window.findChild<SimilarityPanel*>();
    ASSERT_NE(panel, nullptr);
    EXPECT_TRUE(panel->modelFolder().isEmpty());
    ASSERT_TRUE(window.openModelFolder(QString::fromStdString(folder)));
    EXPECT_EQ(panel->modelFolder(), QString::fromStdString(folder));
    EXPECT_FALSE(panel->hasAnalysis());
}

}  // namespace
}  // namespace gqa
