// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The grouping side of the similarity panel: the G slider (GroupingControl), which similarity
// drives the search, the search objective and the predicted merge cost of the current layer and
// of the whole model (aligned vs the mean-pool baseline), and a hand editor for the current
// layer's groups. Moving the slider or changing the driver asks GroupingTask for a background
// recomputation (stale answers dropped); an edit updates the objective at once (core's grouping
// objective) and the merge cost in the background. groupingChanged() tells the panel to redraw
// the outlines and the cost plot.
//
// Hand edits are kept until the user lets them go: Undo steps back one edit, "Reset to searched
// groups" restores the search's answer, and changing G or the similarity that drives the search
// (which replaces every layer's groups) asks first. "Use these groups for training" hands the
// groups on screen, edits included, to the Training tab (useGroupsRequested).

#include <functional>
#include <memory>

#include <QWidget>

#include "headanalysisdata.h"

class QComboBox;
class QLabel;
class QPushButton;

namespace gqa {

class GroupEditor;
class GroupingControl;
class GroupingTask;

class GroupingPane : public QWidget {
    Q_OBJECT
public:
    explicit GroupingPane(QWidget* parent = nullptr);

    /// New analysis: sets the valid G values and requests the groupings for the default G.
    void setAnalysis(const HeadAnalysisData& data);
    void clear();
    void setCurrentLayer(int layer);
    /// The groupings on screen (groups == 0 until the first answer).
    const GroupingData& grouping() const { return m_grouping; }
    /// The requested G (the slider), which may be ahead of grouping().groups.
    int requestedGroups() const;
    GroupingDriver driver() const;
    bool isComputing() const { return m_pending; }

    GroupingControl* control() const { return m_control; }
    GroupEditor* editor() const { return m_editor; }
    GroupingTask* task() const { return m_task; }
    QString summaryText() const;

    /// Layers whose groups were edited by hand since the last search answer.
    int editedLayerCount() const;
    bool canUndo() const { return !m_undo.isEmpty(); }
    /// Steps back one edit (or one reset).
    void undo();
    /// The search's answer for the current G, edits dropped (undoable).
    void resetToSearched();
    /// Asked before a new search would replace hand edits (argument: edited layers); false keeps
    /// the edits and the G and driver they belong to. Default: a message box.
    void setDiscardConfirmation(std::function<bool(int)> confirm) {
        m_confirmDiscard = std::move(confirm);
    }

Q_SIGNALS:
    void groupingChanged();
    /// "Use these groups for training": the groups on screen (edits included) for every layer.
    void useGroupsRequested(const gqa::GroupingData& grouping);
    /// The pending recomputation was answered (or failed); isComputing() is false again.
    void idle();

private:
    void requestGrouping();
    /// A G or driver change: searches again, unless that would drop edits the user keeps.
    void searchAgainUnlessEditsKept();
    void updateButtons();
    void showGrouping(const GroupingData& data);
    void applyEdit(const QVector<QVector<int>>& groups);
    void applyEvaluation(int layer, const LayerGrouping& grouping);
    void updateLabels();

    GroupingControl* m_control = nullptr;
    QComboBox* m_driverCombo = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_layerLabel = nullptr;
    QLabel* m_totalLabel = nullptr;
    GroupEditor* m_editor = nullptr;
    QPushButton* m_undoButton = nullptr;
    QPushButton* m_resetButton = nullptr;
    QPushButton* m_useButton = nullptr;
    GroupingTask* m_task = nullptr;
    std::function<bool(int)> m_confirmDiscard;
    GroupingData m_searched;       ///< the last search answer, for Reset
    QVector<GroupingData> m_undo;  ///< states before each edit or reset, latest last
    std::shared_ptr<const HeadStatisticsStore> m_statistics;
    GroupingData m_grouping;
    int m_heads = 0;
    int m_layer = 0;
    bool m_pending = false;
};

}  // namespace gqa
