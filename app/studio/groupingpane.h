// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The grouping side of the similarity panel: the G slider (GroupingControl), which similarity
// drives the search, the search objective and the predicted merge cost of the current layer and
// of the whole model (aligned vs the mean-pool baseline), and a hand editor for the current
// layer's groups. Moving the slider or changing the driver asks GroupingTask for a background
// recomputation (stale answers dropped); an edit updates the objective at once (core's grouping
// objective) and the merge cost in the background. groupingChanged() tells the panel to redraw
// the outlines and the cost plot.

#include <memory>

#include <QWidget>

#include "headanalysisdata.h"

class QComboBox;
class QLabel;

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

Q_SIGNALS:
    void groupingChanged();
    /// The pending recomputation was answered (or failed); isComputing() is false again.
    void idle();

private:
    void requestGrouping();
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
    GroupingTask* m_task = nullptr;
    std::shared_ptr<const HeadStatisticsStore> m_statistics;
    GroupingData m_grouping;
    int m_heads = 0;
    int m_layer = 0;
    bool m_pending = false;
};

}  // namespace gqa
