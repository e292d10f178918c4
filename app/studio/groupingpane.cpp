// SPDX-License-Identifier: GPL-3.0-or-later
#include "groupingpane.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QVBoxLayout>

#include "groupeditor.h"
#include "groupingcontrol.h"
#include "groupingtask.h"
#include "headstatisticsstore.h"

namespace gqa {
namespace {
QString percent(double fraction) { return QStringLiteral("%1%").arg(fraction * 100.0, 0, 'f', 1); }
QString number(double v) { return QString::number(v, 'g', 5); }

int driverIndex(const GroupingDriver& d) { return int(d.kind) * 2 + int(d.criterion); }

QString costTip(const LayerGrouping& l) {
    return QObject::tr(
               "Relative residual after merging (residual / energy):\n"
               "keys: aligned %1, least-squares %2, mean-pool %3\n"
               "values: aligned %4, least-squares %5, mean-pool %6\n"
               "Absolute residual per token: keys %7 vs %8, values %9 vs %10")
        .arg(percent(l.aligned.keyRelative), percent(l.leastSquares.keyRelative),
             percent(l.baseline.keyRelative), percent(l.aligned.valueRelative),
             percent(l.leastSquares.valueRelative), percent(l.baseline.valueRelative),
             number(l.aligned.keyResidual), number(l.baseline.keyResidual),
             number(l.aligned.valueResidual))
        .arg(number(l.baseline.valueResidual));
}
}  // namespace

GroupingPane::GroupingPane(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);

    auto* groupingBox = new QGroupBox(tr("Grouping"), this);
    auto* form = new QVBoxLayout(groupingBox);
    m_control = new GroupingControl(groupingBox);
    form->addWidget(m_control);
    auto* driverRow = new QFormLayout;
    m_driverCombo = new QComboBox(groupingBox);
    m_driverCombo->setObjectName(QStringLiteral("groupingDriverCombo"));
    for (HeadKind kind : {HeadKind::Keys, HeadKind::Values})
        for (Criterion c : {Criterion::Dist, Criterion::Cos})
            m_driverCombo->addItem(
                tr("%1 similarity, %2 (after alignment)").arg(kindLabel(kind), criterionLabel(c)),
                driverIndex({kind, c}));
    m_driverCombo->setToolTip(
        tr("Which similarity matrix the group search maximises within "
           "groups (default: values, dist)."));
    driverRow->addRow(tr("Group by"), m_driverCombo);
    form->addLayout(driverRow);
    m_status = new QLabel(groupingBox);
    m_status->setObjectName(QStringLiteral("groupingStatus"));
    m_status->setForegroundRole(QPalette::PlaceholderText);
    form->addWidget(m_status);
    layout->addWidget(groupingBox);

    auto* costBox = new QGroupBox(tr("Search objective and predicted merge cost"), this);
    auto* costLayout = new QVBoxLayout(costBox);
    m_totalLabel = new QLabel(costBox);
    m_totalLabel->setObjectName(QStringLiteral("groupingTotal"));
    m_totalLabel->setWordWrap(true);
    m_layerLabel = new QLabel(costBox);
    m_layerLabel->setObjectName(QStringLiteral("groupingLayer"));
    m_layerLabel->setWordWrap(true);
    costLayout->addWidget(m_totalLabel);
    costLayout->addWidget(m_layerLabel);
    costBox->setToolTip(
        tr("Objective: the summed similarity of heads within their groups, what the group search "
           "maximises (higher is better).\nMerge cost (signal lost): the share of the heads' key "
           "and value signal lost when each group is replaced by one head without training; 0% "
           "is free.\nmean-pool: consecutive heads averaged, the usual baseline; aligned: these "
           "groups aligned, then averaged (the paper's merge); least-squares: aligned, then "
           "fitted (docs/method.md §7.2)."));
    layout->addWidget(costBox);

    auto* editorBox = new QGroupBox(tr("Edit the current layer's groups"), this);
    auto* editorLayout = new QVBoxLayout(editorBox);
    m_editor = new GroupEditor(editorBox);
    editorLayout->addWidget(m_editor);
    auto* editButtons = new QHBoxLayout;
    m_undoButton = new QPushButton(tr("Undo"), editorBox);
    m_undoButton->setObjectName(QStringLiteral("undoGroupEditButton"));
    m_undoButton->setToolTip(tr("Step back one edit of the groups"));
    m_resetButton = new QPushButton(tr("Reset to Searched Groups"), editorBox);
    m_resetButton->setObjectName(QStringLiteral("resetGroupsButton"));
    m_resetButton->setToolTip(tr("Drop every hand edit: the search's groups for this G"));
    editButtons->addWidget(m_undoButton);
    editButtons->addWidget(m_resetButton);
    editButtons->addStretch(1);
    editorLayout->addLayout(editButtons);
    m_useButton = new QPushButton(tr("Use These Groups for Training"), editorBox);
    m_useButton->setObjectName(QStringLiteral("useGroupsButton"));
    m_useButton->setToolTip(
        tr("Convert with exactly these groups (edits included) instead of searching again when "
           "the run starts: the Training tab takes them, and the run file and the report record "
           "them"));
    editorLayout->addWidget(m_useButton);
    layout->addWidget(editorBox, 1);
    connect(m_undoButton, &QPushButton::clicked, this, &GroupingPane::undo);
    connect(m_resetButton, &QPushButton::clicked, this, &GroupingPane::resetToSearched);
    connect(m_useButton, &QPushButton::clicked, this,
            [this] { Q_EMIT useGroupsRequested(m_grouping); });
    m_confirmDiscard = [this](int edited) {
        return QMessageBox::question(
                   this, tr("Discard the edited groups?"),
                   tr("Groups edited by hand in %1 of %2 layers. Searching again for another G "
                      "or similarity replaces them. Discard the edits?")
                       .arg(edited)
                       .arg(m_grouping.layers.size())) == QMessageBox::Yes;
    };

    m_task = new GroupingTask(this);
    m_editor->setScorer([this](const QVector<QVector<int>>& groups) {
        if (!m_statistics) return 0.0;
        try {
            return groupingObjectiveOf(*m_statistics, m_layer, m_grouping.driver, groups);
        } catch (const std::exception&) {
            return -std::numeric_limits<double>::infinity();
        }
    });
    connect(m_control, &GroupingControl::groupCountChanged, this,
            &GroupingPane::searchAgainUnlessEditsKept);
    connect(m_driverCombo, &QComboBox::currentIndexChanged, this,
            &GroupingPane::searchAgainUnlessEditsKept);
    connect(m_editor, &GroupEditor::groupingEdited, this, &GroupingPane::applyEdit);
    connect(m_task, &GroupingTask::resultReady, this,
            [this](quint64, const GroupingData& data) { showGrouping(data); });
    connect(m_task, &GroupingTask::layerEvaluated, this,
            [this](quint64, int layer, const LayerGrouping& g) { applyEvaluation(layer, g); });
    connect(m_task, &GroupingTask::failed, this, [this](const QString& message) {
        m_pending = false;
        updateButtons();
        m_status->setText(tr("Grouping failed: %1").arg(message));
        Q_EMIT idle();
    });
    clear();
}

void GroupingPane::clear() {
    m_task->invalidate();
    m_statistics.reset();
    m_grouping = {};
    m_searched = {};
    m_undo.clear();
    m_heads = 0;
    m_pending = false;
    m_control->setCounts({}, 0);
    m_editor->clear();
    m_status->clear();
    updateLabels();
    setEnabled(false);
}

void GroupingPane::setAnalysis(const HeadAnalysisData& data) {
    m_task->invalidate();
    m_statistics = data.statistics;
    m_heads = data.heads;
    m_grouping = {};
    m_searched = {};
    m_undo.clear();
    {
        const QSignalBlocker block(m_driverCombo);
        m_driverCombo->setCurrentIndex(m_driverCombo->findData(driverIndex(data.driver)));
    }
    m_control->setCounts(data.groupCounts, data.heads);
    setEnabled(true);
    requestGrouping();
}

int GroupingPane::requestedGroups() const { return m_control->groupCount(); }

GroupingDriver GroupingPane::driver() const {
    const int index = m_driverCombo->currentData().toInt();
    return {HeadKind(index / 2), Criterion(index % 2)};
}

void GroupingPane::setCurrentLayer(int layer) {
    m_layer = layer;
    m_editor->setGrouping(m_grouping.layers.value(layer).groups);
    updateLabels();
}

void GroupingPane::searchAgainUnlessEditsKept() {
    const int edited = editedLayerCount();
    if (edited > 0 && m_confirmDiscard && !m_confirmDiscard(edited)) {
        // Keep the edits: put G and the driver back to those of the groups on screen.
        const QSignalBlocker blockControl(m_control);
        const QSignalBlocker blockDriver(m_driverCombo);
        m_control->setGroupCount(m_grouping.groups);
        m_driverCombo->setCurrentIndex(m_driverCombo->findData(driverIndex(m_grouping.driver)));
        return;
    }
    requestGrouping();
}

int GroupingPane::editedLayerCount() const {
    return int(std::count_if(m_grouping.layers.begin(), m_grouping.layers.end(),
                             [](const LayerGrouping& l) { return l.edited; }));
}

void GroupingPane::undo() {
    if (m_undo.isEmpty()) return;
    m_grouping = m_undo.takeLast();
    m_editor->setGrouping(m_grouping.layers.value(m_layer).groups);
    m_status->setText(tr("Edit undone."));
    updateLabels();
    Q_EMIT groupingChanged();
}

void GroupingPane::resetToSearched() {
    if (m_searched.groups <= 0 || editedLayerCount() == 0) return;
    m_undo << m_grouping;
    m_grouping = m_searched;
    m_editor->setGrouping(m_grouping.layers.value(m_layer).groups);
    m_status->setText(tr("Back to the searched groups (Undo brings the edits back)."));
    updateLabels();
    Q_EMIT groupingChanged();
}

void GroupingPane::updateButtons() {
    const bool ready = m_grouping.groups > 0 && !m_grouping.layers.isEmpty();
    m_undoButton->setEnabled(!m_undo.isEmpty());
    m_resetButton->setEnabled(editedLayerCount() > 0);
    m_useButton->setEnabled(ready && !m_pending);
}

void GroupingPane::requestGrouping() {
    const int groups = requestedGroups();
    if (groups <= 0) return;
    m_pending = true;
    m_status->setText(tr("Searching the best groups for G = %1…").arg(groups));
    m_task->request({m_statistics, groups, driver()});
    updateButtons();
}

void GroupingPane::showGrouping(const GroupingData& data) {
    m_pending = false;
    m_grouping = data;
    m_searched = data;
    m_undo.clear();
    const bool exact = std::all_of(data.layers.begin(), data.layers.end(),
                                   [](const LayerGrouping& l) { return l.exact; });
    m_status->setText(exact ? tr("Best groups found by exhaustive search.")
                            : tr("Groups found by local search (not proven optimal)."));
    m_editor->setGrouping(m_grouping.layers.value(m_layer).groups);
    updateLabels();
    Q_EMIT groupingChanged();
    Q_EMIT idle();
}

void GroupingPane::applyEdit(const QVector<QVector<int>>& groups) {
    if (m_layer < 0 || m_layer >= m_grouping.layers.size()) return;
    m_undo << m_grouping;
    LayerGrouping& layer = m_grouping.layers[m_layer];
    layer.groups = groups;
    layer.edited = true;
    layer.exact = false;
    if (m_statistics) {
        layer.objective = groupingObjectiveOf(*m_statistics, m_layer, m_grouping.driver, groups);
        m_task->evaluate(m_statistics, m_layer, m_grouping.driver, groups);
        m_status->setText(tr("Predicting the merge cost of the edited groups…"));
    }
    updateLabels();
    Q_EMIT groupingChanged();
}

void GroupingPane::applyEvaluation(int layer, const LayerGrouping& grouping) {
    if (layer < 0 || layer >= m_grouping.layers.size()) return;
    if (m_grouping.layers[layer].groups != grouping.groups) return;  // edited again since
    m_grouping.layers[layer] = grouping;
    m_status->setText(tr("Edited groups evaluated."));
    updateLabels();
    Q_EMIT groupingChanged();
}

QString GroupingPane::summaryText() const { return m_totalLabel->text(); }

void GroupingPane::updateLabels() {
    updateButtons();
    if (m_grouping.groups <= 0 || m_grouping.layers.isEmpty()) {
        m_totalLabel->setText(tr("Analyse the model to see how well its heads group."));
        m_layerLabel->clear();
        return;
    }
    const double aligned = m_grouping.meanAlignedCost(), baseline = m_grouping.meanBaselineCost();
    const QString saving =
        baseline > 0 ? tr(" (%1 less)").arg(percent(1.0 - aligned / baseline)) : QString();
    m_totalLabel->setText(
        tr("<b>All %1 layers, G = %2:</b> objective %3<br>merge cost (signal lost, mean of K "
           "and V): <b>aligned %4</b> vs mean-pool %5%6; least-squares merge %7")
            .arg(m_grouping.layers.size())
            .arg(m_grouping.groups)
            .arg(number(m_grouping.totalObjective()), percent(aligned), percent(baseline), saving,
                 percent(m_grouping.meanLeastSquaresCost())));
    if (m_layer < 0 || m_layer >= m_grouping.layers.size()) {
        m_layerLabel->clear();
        return;
    }
    const LayerGrouping& l = m_grouping.layers[m_layer];
    QStringList notes;
    if (l.exact) notes << tr("optimal");
    if (l.edited) notes << tr("edited by hand");
    m_layerLabel->setText(
        tr("<b>Layer %1:</b> objective %2 (consecutive heads %3)%4<br>merge cost: aligned %5 vs "
           "mean-pool %6; least-squares merge %7")
            .arg(m_layer)
            .arg(number(l.objective), number(l.consecutiveObjective),
                 notes.isEmpty() ? QString()
                                 : QStringLiteral(" — ") + notes.join(QStringLiteral(", ")),
                 percent(l.aligned.relative()), percent(l.baseline.relative()),
                 percent(l.leastSquares.relative())));
    m_layerLabel->setToolTip(costTip(l));
}

}  // namespace gqa
