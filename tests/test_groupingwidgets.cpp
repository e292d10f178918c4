// SPDX-License-Identifier: GPL-3.0-or-later
// The grouping side of the studio's Similarity tab, offscreen: the G slider's stops, the
// background recomputations with stale answers dropped (completion order controlled by the test),
// Undo / Reset to searched groups / the question before discarding edits, "no merge" at G = H,
// and the hand group editor (swaps that keep group sizes, the wheel that scrolls instead of
// regrouping, drag and drop).

#include <map>
#include <memory>

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QPushButton>
#include <QScrollBar>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSlider>
#include <QTableWidget>
#include <QWheelEvent>
#include <gtest/gtest.h>

#include "groupeditor.h"
#include "groupingcontrol.h"
#include "groupingpane.h"
#include "groupingtask.h"
#include "headheatmap.h"
#include "layercomparisonplot.h"
#include "similarityfixtures.h"
#include "similaritypanel.h"

namespace gqa {
namespace {

using test::consecutiveGroups;
using test::syntheticAnalysis;
using test::waitForSearch;

constexpr int kWaitMs = 120000;  // searches of made-up answers take milliseconds; CI can be slow

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

/// Shows a made-up analysis of 2 layers of 8 heads whose searches answer at once with
/// consecutive groups, and waits for the first search (G = 4); returns the panel's grouping pane.
GroupingPane* showSearchedAnalysis(SimilarityPanel& panel) {
    GroupingPane* pane = panel.groupingPane();
    answerWithConsecutiveGroups(pane, 2);
    panel.showAnalysis(syntheticAnalysis(2, 8));
    waitForSearch(pane);
    return pane;
}

TEST(GroupingPane, UndoAndResetBringBackEarlierGroups) {
    SimilarityPanel panel;
    GroupingPane* pane = showSearchedAnalysis(panel);
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
    GroupingPane* pane = showSearchedAnalysis(panel);
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
    GroupingPane* pane = showSearchedAnalysis(panel);
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

}  // namespace
}  // namespace gqa
