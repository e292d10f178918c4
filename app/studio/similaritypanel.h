// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The "Similarity" tab: how alike the model's heads are, before and after alignment, and how they
// would group. Analyse… calibrates the open model and runs the head analysis in the background
// (HeadAnalysisTask); the panel then shows, for the chosen layer, kind (keys/values) and
// criterion (dist/cos), the before and after heatmaps side by side on one colour scale with one
// colour bar, the same for all layers at once as small multiples (a click opens a layer), the
// mean off-diagonal similarity per layer, and the predicted merge cost per layer for the G chosen
// in the GroupingPane, whose groups are outlined on the heatmaps (heads reordered by group).
// It only draws values; every computation is core's, on worker threads.

#include <QString>
#include <QWidget>

#include "headanalysisdata.h"
#include "headanalysisworker.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTabWidget;

namespace gqa {

class GroupingPane;
class HeadAnalysisTask;
class HeadHeatmap;
class HeatmapGrid;
class LayerComparisonPlot;

class SimilarityPanel : public QWidget {
    Q_OBJECT
public:
    explicit SimilarityPanel(QWidget* parent = nullptr);

    /// The request Analyse… starts from: this model, the default corpus text when found, 32
    /// sequences of 256 tokens, the default run file.
    HeadAnalysisRequest defaultRequest() const;
    /// Starts the analysis without asking (the dialog's OK, tests, --analyse).
    void startAnalysis(const HeadAnalysisRequest& request);
    /// Shows an analysis (what the task's resultReady does).
    void showAnalysis(const HeadAnalysisData& data);
    bool hasAnalysis() const { return m_data.layerCount() > 0; }
    const HeadAnalysisData& analysis() const { return m_data; }
    QString modelFolder() const { return m_folder; }

    void setLayer(int layer);
    int layer() const { return m_layer; }
    void setKind(HeadKind kind);
    void setCriterion(Criterion criterion);
    HeadKind kind() const;
    Criterion criterion() const;
    /// 0: the layer view, 1: all layers.
    void setView(int view);

    HeadAnalysisTask* task() const { return m_task; }
    GroupingPane* groupingPane() const { return m_grouping; }
    HeadHeatmap* beforeMap() const { return m_before; }
    HeadHeatmap* afterMap() const { return m_after; }
    HeatmapGrid* grid() const { return m_grid; }
    LayerComparisonPlot* summaryPlot() const { return m_summary; }
    LayerComparisonPlot* costPlot() const { return m_cost; }
    QString statusText() const;

public Q_SLOTS:
    /// A model was opened: forget the previous analysis and offer Analyse… for this one.
    void setModelFolder(const QString& folder);
    /// Asks for the calibration settings, then starts.
    void analyse();

Q_SIGNALS:
    /// The analysis finished (result shown, failed or cancelled).
    void analysisFinished(bool succeeded);

private:
    QWidget* buildToolbar();
    QWidget* buildViewBar();
    QWidget* buildLayerPage();
    QWidget* buildGridPage();
    void refreshViews();
    void refreshGroups();
    void setStatus(const QString& text, bool error = false);

    QString m_folder;
    HeadAnalysisData m_data;
    int m_layer = 0;
    HeadAnalysisTask* m_task = nullptr;
    QPushButton* m_analyseButton = nullptr;
    QPushButton* m_cancelButton = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QComboBox* m_kindCombo = nullptr;
    QComboBox* m_criterionCombo = nullptr;
    QSpinBox* m_layerSpin = nullptr;
    QCheckBox* m_orderByGroup = nullptr;
    QComboBox* m_gridSide = nullptr;
    QLabel* m_hover = nullptr;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_placeholder = nullptr;
    QTabWidget* m_views = nullptr;
    HeadHeatmap* m_before = nullptr;
    HeadHeatmap* m_after = nullptr;
    HeatmapGrid* m_grid = nullptr;
    LayerComparisonPlot* m_summary = nullptr;
    LayerComparisonPlot* m_cost = nullptr;
    GroupingPane* m_grouping = nullptr;
};

}  // namespace gqa
