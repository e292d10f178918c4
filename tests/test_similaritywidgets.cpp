// SPDX-License-Identifier: GPL-3.0-or-later
// The similarity side of the studio, offscreen: the head heatmap's pixel -> head-pair mapping
// (also with heads reordered by group) and its hover signal, one colour range shared by the
// before/after maps, the grouping slider's background recomputations with stale answers dropped
// (completion order controlled by the test), the hand group editor, and the analysis facade on a
// tiny real model: a result, a reused calibration on the second run, and cancel.
#include <filesystem>
#include <map>
#include <memory>

#include <QApplication>
#include <QFileInfo>
#include <QCheckBox>
#include <QComboBox>
#include <QPushButton>
#include <QTabWidget>
#include <QMouseEvent>
#include <QScrollBar>
#include <QWheelEvent>
#include <QTableWidget>
#include <QMimeData>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSlider>
#include <gtest/gtest.h>

#include "groupeditor.h"
#include "groupingcontrol.h"
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
#include "trainingpanel.h"
#include "testsupport.h"
#include "text/tokenizer.h"

namespace gqa {
namespace {

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

/// Layers of n heads whose similarities are made-up but distinct per layer, kind and criterion;
/// "after" is always closer to zero than "before" (more similar under dist).
HeadAnalysisData syntheticAnalysis(int layers, int heads) {
    HeadAnalysisData d;
    d.modelName = QStringLiteral("synthetic");
    d.heads = heads;
    for (int g = heads; g >= 1; --g)
        if (heads % g == 0) d.groupCounts << g;
    for (int l = 0; l < layers; ++l) {
        LayerSimilarity s;
        for (int k = 0; k < 2; ++k)
            for (int c = 0; c < 2; ++c) {
                SimilarityPair& p = s.pairs[k][c];
                p.before.resize(heads * heads);
                p.after.resize(heads * heads);
                for (int i = 0; i < heads; ++i)
                    for (int j = 0; j < heads; ++j) {
                        const double v = i == j ? 0.0 : -(1.0 + (i + j + l + k + c) % 5);
                        p.before[i * heads + j] = v;
                        p.after[i * heads + j] = 0.4 * v;
                    }
                p.meanBefore = -3.0 - l;
                p.meanAfter = -1.0 - l;
            }
        d.layers << s;
    }
    return d;
}

GroupingData consecutiveGroups(int groups, int heads, int layers) {
    GroupingData g;
    g.groups = groups;
    for (int l = 0; l < layers; ++l) {
        LayerGrouping lg;
        const int k = heads / groups;
        for (int i = 0; i < groups; ++i) {
            QVector<int> members;
            for (int h = i * k; h < (i + 1) * k; ++h) members << h;
            lg.groups << members;
        }
        lg.objective = groups;
        lg.aligned.keyRelative = lg.aligned.valueRelative = 0.1 * l;
        lg.baseline.keyRelative = lg.baseline.valueRelative = 0.2 * l;
        g.layers << lg;
    }
    return g;
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

TEST(GroupingControl, OffersTheDivisorsAndEmitsAtEveryStop) {
    GroupingControl control;
    control.setCounts({1, 2, 4, 8}, 8);
    EXPECT_EQ(control.counts(), (QVector<int>{8, 4, 2, 1}));
    EXPECT_EQ(control.groupCount(), 4);  // the largest real grouping
    QSignalSpy changed(&control, &GroupingControl::groupCountChanged);
    control.slider()->setValue(2);
    control.slider()->setValue(3);
    control.slider()->setValue(0);
    ASSERT_EQ(changed.count(), 3);
    EXPECT_EQ(changed[0][0].toInt(), 2);
    EXPECT_EQ(changed[1][0].toInt(), 1);
    EXPECT_EQ(changed[2][0].toInt(), 8);
    EXPECT_TRUE(control.caption().contains(QStringLiteral("MHA")));
}

TEST(GroupingPane, SliderRecomputesInTheBackgroundAndDropsStaleAnswers) {
    SimilarityPanel panel;
    GroupingPane* pane = panel.groupingPane();
    // Each job waits for its own gate, so the test decides the order in which they finish.
    auto gates = std::make_shared<std::map<int, QSemaphore>>();
    (*gates)[4];
    (*gates)[2];
    (*gates)[1];
    pane->task()->setCompute([gates](const GroupingRequest& r, const std::function<bool()>&) {
        gates->at(r.groups).acquire();
        return consecutiveGroups(r.groups, 8, 2);
    });
    QSignalSpy started(pane->task(), &GroupingTask::started);
    QSignalSpy ready(pane->task(), &GroupingTask::resultReady);
    QSignalSpy dropped(pane->task(), &GroupingTask::dropped);

    panel.showAnalysis(syntheticAnalysis(2, 8));  // requests G = 4
    pane->control()->setGroupCount(2);
    pane->control()->setGroupCount(1);
    ASSERT_EQ(started.count(), 3);
    EXPECT_EQ(started[0][1].toInt(), 4);
    EXPECT_EQ(started[1][1].toInt(), 2);
    EXPECT_EQ(started[2][1].toInt(), 1);
    EXPECT_TRUE(pane->isComputing());

    // Finish order: G = 2 (stale), G = 1 (the latest), then G = 4 (stale, arriving last).
    (*gates)[2].release();
    ASSERT_TRUE(dropped.wait(kWaitMs));
    (*gates)[1].release();
    ASSERT_TRUE(ready.wait(kWaitMs));
    (*gates)[4].release();
    pane->task()->waitForWorkers();
    QApplication::processEvents();
    EXPECT_EQ(dropped.count(), 2);
    ASSERT_EQ(ready.count(), 1);
    EXPECT_EQ(ready[0][1].value<GroupingData>().groups, 1);
    EXPECT_EQ(pane->grouping().groups, 1);
    EXPECT_FALSE(pane->isComputing());
    // The heatmaps show the groups: one outline per group, heads in group order.
    EXPECT_EQ(panel.afterMap()->groups().size(), 1);
    EXPECT_EQ(panel.beforeMap()->groups(), panel.afterMap()->groups());
    // mean-pool, aligned, least-squares merge: one bar each per layer.
    EXPECT_EQ(panel.costPlot()->seriesCount(), 3);
    EXPECT_TRUE(panel.costPlot()->toCsv().startsWith(
        QStringLiteral("layer,\"mean-pool\",\"aligned\",\"least squares\"\n")));
    const QVector<double> aligned = panel.costPlot()->series(1);  // aligned cost per layer, in %
    ASSERT_EQ(aligned.size(), 2);
    EXPECT_NEAR(aligned[0], 0.0, 1e-9);
    EXPECT_NEAR(aligned[1], 10.0, 1e-9);
}

/// A pane whose searches answer at once with consecutive groups (for `layers` layers of 8 heads).
void answerWithConsecutiveGroups(GroupingPane* pane, int layers) {
    pane->task()->setCompute([layers](const GroupingRequest& r, const std::function<bool()>&) {
        return consecutiveGroups(r.groups, 8, layers);
    });
}

void waitForSearch(GroupingPane* pane) {
    QSignalSpy idle(pane, &GroupingPane::idle);
    if (pane->isComputing()) ASSERT_TRUE(idle.wait(kWaitMs));
}

TEST(GroupingPane, UndoAndResetBringBackEarlierGroups) {
    SimilarityPanel panel;
    GroupingPane* pane = panel.groupingPane();
    answerWithConsecutiveGroups(pane, 2);
    panel.showAnalysis(syntheticAnalysis(2, 8));
    waitForSearch(pane);
    ASSERT_EQ(pane->grouping().groups, 4);
    const GroupingData searched = pane->grouping();
    auto* undo = pane->findChild<QPushButton*>(QStringLiteral("undoGroupEditButton"));
    auto* reset = pane->findChild<QPushButton*>(QStringLiteral("resetGroupsButton"));
    ASSERT_TRUE(undo && reset);
    EXPECT_FALSE(undo->isEnabled());
    EXPECT_FALSE(reset->isEnabled());

    const QVector<QVector<int>> first{{0, 2}, {1, 3}, {4, 5}, {6, 7}};
    const QVector<QVector<int>> second{{0, 7}, {1, 3}, {4, 5}, {6, 2}};
    Q_EMIT pane->editor()->groupingEdited(first);
    Q_EMIT pane->editor()->groupingEdited(second);
    EXPECT_EQ(pane->grouping().layers[0].groups, second);
    EXPECT_EQ(pane->editedLayerCount(), 1);
    EXPECT_TRUE(undo->isEnabled());
    EXPECT_TRUE(reset->isEnabled());
    // The outline switch names where the boxes come from, edits included.
    auto* order = panel.findChild<QCheckBox*>(QStringLiteral("orderByGroupCheck"));
    ASSERT_NE(order, nullptr);
    EXPECT_TRUE(order->text().contains(QStringLiteral("G = 4"))) << order->text().toStdString();
    EXPECT_TRUE(order->text().contains(QStringLiteral("1 edited"))) << order->text().toStdString();

    undo->click();
    EXPECT_EQ(pane->grouping().layers[0].groups, first);
    reset->click();
    EXPECT_EQ(pane->grouping().layers[0].groups, searched.layers[0].groups);
    EXPECT_EQ(pane->editedLayerCount(), 0);
    EXPECT_FALSE(reset->isEnabled());
    undo->click();  // the reset is undoable too
    EXPECT_EQ(pane->grouping().layers[0].groups, first);
}

TEST(GroupingPane, AnotherGAsksBeforeDiscardingEdits) {
    SimilarityPanel panel;
    GroupingPane* pane = panel.groupingPane();
    answerWithConsecutiveGroups(pane, 2);
    panel.showAnalysis(syntheticAnalysis(2, 8));
    waitForSearch(pane);
    const QVector<QVector<int>> edit{{0, 2}, {1, 3}, {4, 5}, {6, 7}};
    Q_EMIT pane->editor()->groupingEdited(edit);
    int asked = 0;
    bool discard = false;
    pane->setDiscardConfirmation([&](int edited) {
        ++asked;
        EXPECT_EQ(edited, 1);
        return discard;
    });
    QSignalSpy started(pane->task(), &GroupingTask::started);

    pane->control()->setGroupCount(2);  // declined: G and the edits stay
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(started.count(), 0);
    EXPECT_EQ(pane->requestedGroups(), 4);
    EXPECT_EQ(pane->grouping().layers[0].groups, edit);

    discard = true;
    pane->control()->setGroupCount(2);  // accepted: searched again, edits gone
    EXPECT_EQ(asked, 2);
    EXPECT_EQ(started.count(), 1);
    waitForSearch(pane);
    EXPECT_EQ(pane->grouping().groups, 2);
    EXPECT_EQ(pane->editedLayerCount(), 0);

    pane->control()->setGroupCount(1);  // nothing edited: no question
    EXPECT_EQ(asked, 2);
}

// G = H merges nothing: the cost chart says so instead of drawing an axis of zeros; hovering a
// layer of a chart lists its values.
TEST(SimilarityPanel, MergeCostChartSaysNoMergeAtGEqualsHAndHasTooltips) {
    SimilarityPanel panel;
    GroupingPane* pane = panel.groupingPane();
    answerWithConsecutiveGroups(pane, 2);
    panel.showAnalysis(syntheticAnalysis(2, 8));
    waitForSearch(pane);
    EXPECT_EQ(panel.costPlot()->seriesCount(), 3);
    EXPECT_TRUE(panel.costPlot()->layerText(1).startsWith(QStringLiteral("layer 1 — mean-pool: ")))
        << panel.costPlot()->layerText(1).toStdString();
    EXPECT_TRUE(panel.costPlot()->layerText(2).isEmpty());
    pane->control()->setGroupCount(8);
    waitForSearch(pane);
    EXPECT_EQ(pane->grouping().groups, 8);
    EXPECT_EQ(panel.costPlot()->seriesCount(), 0);
    EXPECT_TRUE(panel.costPlot()->title().contains(QStringLiteral("no merge")));
}

TEST(GroupEditor, MovingAHeadSwapsToKeepGroupSizes) {
    GroupEditor editor;
    editor.setGrouping({{0, 1}, {2, 3}, {4, 5}});
    QSignalSpy edited(&editor, &GroupEditor::groupingEdited);
    // Without a scorer the target group's first member comes back.
    EXPECT_EQ(editor.moveHead(0, 1), 2);
    EXPECT_EQ(editor.grouping(), (QVector<QVector<int>>{{1, 2}, {0, 3}, {4, 5}}));
    ASSERT_EQ(edited.count(), 1);
    EXPECT_EQ(editor.moveHead(0, 1), -1);  // already there: nothing happens
    EXPECT_EQ(edited.count(), 1);
    // With a scorer the best partner is chosen: here, the one that puts 5 with 1.
    editor.setScorer([](const QVector<QVector<int>>& g) { return g[0].contains(5) ? 1.0 : 0.0; });
    EXPECT_EQ(editor.moveHead(2, 2), 5);
    EXPECT_EQ(editor.grouping(), (QVector<QVector<int>>{{1, 5}, {0, 3}, {2, 4}}));
    for (const auto& g : editor.grouping()) EXPECT_EQ(g.size(), 2);
    EXPECT_EQ(editor.groupOf(5), 0);
}

// The wheel over a group combo used to regroup heads silently (QComboBox emits activated on
// wheel): it now scrolls the table, unless the user gave that combo focus.
TEST(GroupEditor, WheelOverAComboScrollsInsteadOfRegrouping) {
    GroupEditor editor;
    editor.resize(300, 160);  // a few rows visible: the table can scroll
    editor.show();
    editor.setGrouping({{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}});
    QSignalSpy edited(&editor, &GroupEditor::groupingEdited);
    QTableWidget* table = editor.table();
    auto* combo = qobject_cast<QComboBox*>(table->cellWidget(0, 1));
    ASSERT_NE(combo, nullptr);
    table->setFixedHeight(120);     // a few rows visible: the table can scroll
    QApplication::processEvents();  // lays the table out, which sizes its scroll bar
    ASSERT_GT(table->verticalScrollBar()->maximum(), 0);
    const auto wheelDown = [&] {
        const QPointF at(combo->width() / 2.0, combo->height() / 2.0);
        QWheelEvent wheel(at, combo->mapToGlobal(at), QPoint(), QPoint(0, -120), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(combo, &wheel);
    };
    wheelDown();
    EXPECT_EQ(edited.count(), 0);
    EXPECT_EQ(combo->currentIndex(), 0);
    EXPECT_EQ(editor.groupOf(0), 0);
    EXPECT_GT(table->verticalScrollBar()->value(), 0);
    // Focused (the user clicked or tabbed into it), the combo takes the wheel as Qt's combos do.
    QApplication::setActiveWindow(&editor);
    combo->setFocus();
    ASSERT_TRUE(combo->hasFocus());
    wheelDown();
    EXPECT_EQ(edited.count(), 1);
    EXPECT_EQ(editor.groupOf(0), 1);
}

// Dropping head 0's number onto head 4's row moves head 0 into head 4's group.
TEST(GroupEditor, DroppingAHeadOntoAnotherMovesItIntoThatGroup) {
    GroupEditor editor;
    editor.resize(300, 400);
    editor.show();
    editor.setGrouping({{0, 1}, {2, 3}, {4, 5}});
    QSignalSpy edited(&editor, &GroupEditor::groupingEdited);
    QTableWidget* table = editor.table();
    auto drop = [&](int from, int onto) {
        std::unique_ptr<QMimeData> mime(table->model()->mimeData({table->model()->index(from, 0)}));
        const QPoint at = table->visualItemRect(table->item(onto, 0)).center();
        // Qt delivers a drop to the widget that accepted the drag's enter event.
        QDragEnterEvent enter(at, Qt::CopyAction | Qt::MoveAction, mime.get(), Qt::LeftButton,
                              Qt::NoModifier);
        QApplication::sendEvent(table->viewport(), &enter);
        QDropEvent event(at, Qt::CopyAction | Qt::MoveAction, mime.get(), Qt::LeftButton,
                         Qt::NoModifier);
        QApplication::sendEvent(table->viewport(), &event);
        return event.isAccepted();
    };
    EXPECT_TRUE(drop(0, 4));
    ASSERT_EQ(edited.count(), 1);
    EXPECT_EQ(editor.groupOf(0), 2);
    EXPECT_EQ(editor.groupOf(4), 0);  // swapped back: every group keeps two heads
    EXPECT_EQ(table->item(0, 0)->text(), QStringLiteral("0"));  // the table itself is unchanged
    drop(0, 5);                                                 // same group: nothing happens
    EXPECT_EQ(edited.count(), 1);
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
