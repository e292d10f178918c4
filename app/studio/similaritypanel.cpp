// SPDX-License-Identifier: GPL-3.0-or-later
#include "similaritypanel.h"

#include <algorithm>
#include <optional>

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QTabWidget>
#include <QVBoxLayout>

#include "analysisdialog.h"
#include "groupingpane.h"
#include "headanalysistask.h"
#include "headheatmap.h"
#include "heatmapgrid.h"
#include "layercomparisonplot.h"

namespace gqa {
namespace {
constexpr int kProgressSteps = 1000;
constexpr int kPlotHeight = 210;
constexpr int kGroupingWidth = 380;

QString valueLabel(Criterion c) {
    return c == Criterion::Cos ? QObject::tr("mean cosine similarity")
                               : QObject::tr("− mean squared distance");
}

QCPRange unite(const QCPRange& a, const QCPRange& b) {
    return QCPRange(std::min(a.lower, b.lower), std::max(a.upper, b.upper));
}
}  // namespace

SimilarityPanel::SimilarityPanel(QWidget* parent) : QWidget(parent) {
    m_task = new HeadAnalysisTask(this);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(buildToolbar());
    layout->addWidget(buildViewBar());

    m_stack = new QStackedWidget(this);
    m_placeholder = new QLabel(this);
    m_placeholder->setObjectName(QStringLiteral("similarityPlaceholder"));
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setWordWrap(true);
    m_placeholder->setMargin(40);
    m_stack->addWidget(m_placeholder);

    auto* splitter = new QSplitter(Qt::Horizontal, this);
    m_views = new QTabWidget(splitter);
    m_views->setObjectName(QStringLiteral("similarityViews"));
    m_views->addTab(buildLayerPage(), tr("Layer"));
    m_views->addTab(buildGridPage(), tr("All layers"));
    splitter->addWidget(m_views);
    // The grouping column scrolls vertically on short screens (1024 x 640) rather than squashing
    // its group editor.
    auto* groupingScroll = new QScrollArea(splitter);
    groupingScroll->setObjectName(QStringLiteral("groupingScroll"));
    groupingScroll->setWidgetResizable(true);
    groupingScroll->setFrameShape(QFrame::NoFrame);
    groupingScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_grouping = new GroupingPane(groupingScroll);
    m_grouping->setMinimumWidth(kGroupingWidth - 60);
    groupingScroll->setWidget(m_grouping);
    groupingScroll->setMinimumWidth(kGroupingWidth - 60 +
                                    groupingScroll->verticalScrollBar()->sizeHint().width());
    splitter->addWidget(groupingScroll);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 0);
    splitter->setSizes({1280 - kGroupingWidth, kGroupingWidth});
    splitter->setChildrenCollapsible(false);
    m_stack->addWidget(splitter);
    layout->addWidget(m_stack, 1);

    connect(m_task, &HeadAnalysisTask::started, this, [this] {
        m_analyseButton->setEnabled(false);
        m_cancelButton->setEnabled(true);
        m_progress->setValue(0);
        m_progress->show();
        setStatus(tr("Starting the analysis…"));
    });
    connect(m_task, &HeadAnalysisTask::progress, this, [this](double f, const QString& stage) {
        m_progress->setValue(int(f * kProgressSteps));
        setStatus(stage.isEmpty() ? QString() : stage.at(0).toUpper() + stage.mid(1) + u'…');
    });
    connect(m_task, &HeadAnalysisTask::resultReady, this, [this](const HeadAnalysisData& data) {
        if (data.modelFolder == m_folder)
            showAnalysis(data);
        else  // another model was opened while this one was being analysed
            setStatus(
                tr("The analysis of %1 was discarded: another model is open.").arg(data.modelName));
    });
    connect(m_task, &HeadAnalysisTask::failed, this, [this](const QString& message) {
        setStatus(tr("Analysis failed: %1").arg(message), true);
    });
    connect(m_task, &HeadAnalysisTask::cancelled, this,
            [this] { setStatus(tr("Analysis cancelled.")); });
    connect(m_task, &HeadAnalysisTask::finished, this, [this] {
        m_analyseButton->setEnabled(!m_folder.isEmpty());
        m_cancelButton->setEnabled(false);
        m_progress->hide();
        Q_EMIT analysisFinished(hasAnalysis());
    });
    connect(m_grouping, &GroupingPane::groupingChanged, this, &SimilarityPanel::refreshGroups);
    setModelFolder({});
}

QWidget* SimilarityPanel::buildToolbar() {
    auto* bar = new QWidget(this);
    auto* row = new QHBoxLayout(bar);
    row->setContentsMargins(0, 0, 0, 0);
    m_analyseButton = new QPushButton(tr("Analyse…"), bar);
    m_analyseButton->setObjectName(QStringLiteral("analyseButton"));
    m_analyseButton->setToolTip(tr("Calibrate the model on text and compare its heads"));
    connect(m_analyseButton, &QPushButton::clicked, this, &SimilarityPanel::analyse);
    row->addWidget(m_analyseButton);
    m_cancelButton = new QPushButton(tr("Cancel"), bar);
    m_cancelButton->setObjectName(QStringLiteral("cancelAnalysisButton"));
    m_cancelButton->setEnabled(false);
    connect(m_cancelButton, &QPushButton::clicked, m_task, &HeadAnalysisTask::cancel);
    row->addWidget(m_cancelButton);
    m_progress = new QProgressBar(bar);
    m_progress->setRange(0, kProgressSteps);
    m_progress->setMaximumWidth(220);
    m_progress->hide();
    row->addWidget(m_progress);
    m_status = new QLabel(bar);
    m_status->setObjectName(QStringLiteral("similarityStatus"));
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setWordWrap(true);  // long warnings wrap instead of running off a narrow window
    row->addWidget(m_status, 1);
    return bar;
}

QWidget* SimilarityPanel::buildViewBar() {
    auto* bar = new QWidget(this);
    auto* row = new QHBoxLayout(bar);
    row->setContentsMargins(0, 0, 0, 0);
    row->addWidget(new QLabel(tr("Similarity of"), bar));
    m_kindCombo = new QComboBox(bar);
    m_kindCombo->setObjectName(QStringLiteral("kindCombo"));
    m_kindCombo->addItem(tr("values"), int(HeadKind::Values));
    m_kindCombo->addItem(tr("keys (pre-RoPE)"), int(HeadKind::Keys));
    row->addWidget(m_kindCombo);
    row->addWidget(new QLabel(tr("by"), bar));
    m_criterionCombo = new QComboBox(bar);
    m_criterionCombo->setObjectName(QStringLiteral("criterionCombo"));
    m_criterionCombo->addItem(tr("dist (− mean squared distance)"), int(Criterion::Dist));
    m_criterionCombo->addItem(tr("cos (mean cosine)"), int(Criterion::Cos));
    row->addWidget(m_criterionCombo);
    row->addSpacing(12);
    row->addWidget(new QLabel(tr("Layer"), bar));
    m_layerSpin = new QSpinBox(bar);
    m_layerSpin->setObjectName(QStringLiteral("layerSpin"));
    row->addWidget(m_layerSpin);
    row->addSpacing(12);
    m_orderByGroup = new QCheckBox(tr("Order heads by group"), bar);
    m_orderByGroup->setObjectName(QStringLiteral("orderByGroupCheck"));
    m_orderByGroup->setChecked(true);
    row->addWidget(m_orderByGroup);
    m_hover = new QLabel(bar);
    m_hover->setObjectName(QStringLiteral("hoverLabel"));
    m_hover->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_hover->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    row->addWidget(m_hover, 1);
    connect(m_kindCombo, &QComboBox::currentIndexChanged, this, &SimilarityPanel::refreshViews);
    connect(m_criterionCombo, &QComboBox::currentIndexChanged, this,
            &SimilarityPanel::refreshViews);
    connect(m_layerSpin, &QSpinBox::valueChanged, this, &SimilarityPanel::setLayer);
    connect(m_orderByGroup, &QCheckBox::toggled, this, &SimilarityPanel::refreshGroups);
    return bar;
}

QWidget* SimilarityPanel::buildLayerPage() {
    auto* page = new QWidget(this);
    auto* layout = new QVBoxLayout(page);
    auto* explanation = new QLabel(
        tr("Each cell: how alike two heads of this layer are on the calibration text (brighter = "
           "more alike). Left as trained; right after <i>alignment</i>: each head rotated "
           "towards the others, which leaves the model's output unchanged but makes heads that "
           "carry the same information look alike. Boxes: heads that would share one KV head."),
        page);
    explanation->setObjectName(QStringLiteral("layerPageExplanation"));
    explanation->setWordWrap(true);
    explanation->setForegroundRole(QPalette::PlaceholderText);
    layout->addWidget(explanation);
    auto* maps = new QHBoxLayout;
    m_before = new HeadHeatmap(page);
    m_before->setObjectName(QStringLiteral("beforeHeatmap"));
    m_before->setColorBarVisible(false, true);  // the after map shows the shared bar
    m_after = new HeadHeatmap(page);
    m_after->setObjectName(QStringLiteral("afterHeatmap"));
    maps->addWidget(m_before, 1);
    maps->addWidget(m_after, 1);
    layout->addLayout(maps, 1);
    for (HeadHeatmap* map : {m_before, m_after}) {
        const QString side = map == m_before ? tr("before alignment") : tr("after alignment");
        connect(map, &HeadHeatmap::hovered, this, [this, map, side] {
            m_hover->setText(side + QStringLiteral(" · ") + map->hoverText());
        });
        connect(map, &HeadHeatmap::hoverCleared, m_hover, &QLabel::clear);
    }
    auto* plots = new QHBoxLayout;
    m_summary = new LayerComparisonPlot(LayerComparisonPlot::Style::Lines, page);
    m_summary->setObjectName(QStringLiteral("similaritySummaryPlot"));
    m_cost = new LayerComparisonPlot(LayerComparisonPlot::Style::Bars, page);
    m_cost->setObjectName(QStringLiteral("mergeCostPlot"));
    m_cost->setValueLabel(tr("signal lost (%)"));
    m_cost->setToolTip(
        tr("Share of the heads' key/value signal lost when each group is merged without "
           "training.\nmean-pool: consecutive heads averaged (the baseline)\naligned: these "
           "groups aligned, then averaged (the paper's merge)\nleast squares: aligned, averaged, "
           "and each query head's projections refitted (docs/method.md §7.2)"));
    for (LayerComparisonPlot* plot : {m_summary, m_cost}) {
        plot->setFixedHeight(kPlotHeight);
        connect(plot, &LayerComparisonPlot::layerClicked, this, &SimilarityPanel::setLayer);
        plots->addWidget(plot, 1);
    }
    layout->addLayout(plots);
    return page;
}

QWidget* SimilarityPanel::buildGridPage() {
    auto* page = new QWidget(this);
    auto* layout = new QVBoxLayout(page);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Show"), page));
    m_gridSide = new QComboBox(page);
    m_gridSide->setObjectName(QStringLiteral("gridSideCombo"));
    m_gridSide->addItem(tr("after alignment"));
    m_gridSide->addItem(tr("before alignment"));
    row->addWidget(m_gridSide);
    auto* hint =
        new QLabel(tr("One colour scale for every layer. Click a layer to open it."), page);
    hint->setForegroundRole(QPalette::PlaceholderText);
    row->addWidget(hint, 1);
    layout->addLayout(row);
    auto* scroll = new QScrollArea(page);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    m_grid = new HeatmapGrid(scroll);
    m_grid->setObjectName(QStringLiteral("layerGrid"));
    scroll->setWidget(m_grid);
    layout->addWidget(scroll, 1);
    connect(m_gridSide, &QComboBox::currentIndexChanged, this, &SimilarityPanel::refreshViews);
    connect(m_grid, &HeatmapGrid::layerActivated, this, [this](int layer) {
        setLayer(layer);
        setView(0);
    });
    return page;
}

HeadAnalysisRequest SimilarityPanel::defaultRequest() const {
    HeadAnalysisRequest r;
    r.modelFolder = m_folder;
    const QString text = defaultCalibrationText();
    if (!text.isEmpty()) r.inputFiles << text;
    return r;
}

void SimilarityPanel::setModelFolder(const QString& folder) {
    m_task->cancel();
    m_folder = folder;
    m_data = {};
    m_layer = 0;
    m_grouping->clear();
    m_analyseButton->setEnabled(!folder.isEmpty() && !m_task->isRunning());
    m_stack->setCurrentIndex(0);
    m_hover->clear();
    if (folder.isEmpty()) {
        m_placeholder->setText(tr("Open a model folder first (File › Open Model Folder…)."));
        setStatus({});
        return;
    }
    const HeadAnalysisRequest r = defaultRequest();
    const QString text = r.inputFiles.isEmpty() ? tr("calibration text you choose")
                                                : QFileInfo(r.inputFiles.front()).fileName();
    m_placeholder->setText(
        tr("<p><b>Analyse…</b> runs <b>%1</b> over %2 (%3 sequences × %4 tokens), compares "
           "its heads before and after alignment and finds the best groups for every number of "
           "KV heads.</p><p>The statistics are kept in %5 and reused when this model is "
           "analysed again with the same settings.</p>")
            .arg(QFileInfo(folder).fileName().toHtmlEscaped(), text.toHtmlEscaped())
            .arg(r.sequences)
            .arg(r.sequenceLength)
            .arg(QDir::toNativeSeparators(defaultRunFilePath(folder)).toHtmlEscaped()));
    setStatus(tr("Not analysed yet."));
}

void SimilarityPanel::analyse() {
    if (m_folder.isEmpty()) return;
    AnalysisDialog dialog(defaultRequest(), this);
    if (dialog.exec() == QDialog::Accepted) startAnalysis(dialog.request());
}

void SimilarityPanel::startAnalysis(const HeadAnalysisRequest& request) { m_task->start(request); }

void SimilarityPanel::showAnalysis(const HeadAnalysisData& data) {
    m_data = data;
    m_layer = std::clamp(m_layer, 0, std::max(0, data.layerCount() - 1));
    {
        const QSignalBlocker block(m_layerSpin);
        m_layerSpin->setRange(0, std::max(0, data.layerCount() - 1));
        m_layerSpin->setValue(m_layer);
    }
    m_stack->setCurrentIndex(1);
    QString status = tr("%1: %2 layers × %3 heads, %4 calibration tokens, %5")
                         .arg(data.modelName)
                         .arg(data.layerCount())
                         .arg(data.heads)
                         .arg(data.tokens)
                         .arg(data.reusedCalibration ? tr("statistics reused from the run file")
                                                     : tr("calibrated now"));
    if (!data.warnings.isEmpty())
        status += QStringLiteral(" — ") + tr("warning: %1").arg(data.warnings.front());
    setStatus(status);
    m_status->setToolTip(
        data.warnings.join(QLatin1Char('\n')) +
        (data.runFile.isEmpty() ? QString() : tr("\nRun file: %1").arg(data.runFile)));
    refreshViews();
    m_grouping->setAnalysis(data);
    m_grouping->setCurrentLayer(m_layer);
}

HeadKind SimilarityPanel::kind() const { return HeadKind(m_kindCombo->currentData().toInt()); }

Criterion SimilarityPanel::criterion() const {
    return Criterion(m_criterionCombo->currentData().toInt());
}

void SimilarityPanel::setKind(HeadKind kind) {
    m_kindCombo->setCurrentIndex(m_kindCombo->findData(int(kind)));
}

void SimilarityPanel::setCriterion(Criterion criterion) {
    m_criterionCombo->setCurrentIndex(m_criterionCombo->findData(int(criterion)));
}

void SimilarityPanel::setView(int view) { m_views->setCurrentIndex(view); }

void SimilarityPanel::setLayer(int layer) {
    if (!hasAnalysis() || layer < 0 || layer >= m_data.layerCount()) return;
    m_layer = layer;
    {
        const QSignalBlocker block(m_layerSpin);
        m_layerSpin->setValue(layer);
    }
    m_grouping->setCurrentLayer(layer);
    refreshViews();
}

QString SimilarityPanel::statusText() const { return m_status->text(); }

void SimilarityPanel::setStatus(const QString& text, bool error) {
    m_status->setText(text);
    m_status->setStyleSheet(error ? QStringLiteral("QLabel { color: #b00020; }") : QString());
}

void SimilarityPanel::refreshViews() {
    if (!hasAnalysis()) return;
    const HeadKind k = kind();
    const Criterion c = criterion();
    const int n = m_data.heads;
    const SimilarityPair& pair = m_data.layers[m_layer].of(k, c);
    const QString what = QStringLiteral("%1 · %2").arg(kindLabel(k), criterionLabel(c));
    m_before->setMatrix(pair.before, n);
    m_after->setMatrix(pair.after, n);
    const QCPRange shared = unite(m_before->autoColorRange(), m_after->autoColorRange());
    m_before->setColorRange(shared);
    m_after->setColorRange(shared);
    m_before->setColorBarLabel(valueLabel(c));  // hidden, but it sizes the reserved space
    m_after->setColorBarLabel(valueLabel(c));
    // Two lines each, so that the titles fit over square maps and both maps start at one height.
    const QString heading = tr("Layer %1 · %2").arg(m_layer).arg(what);
    m_before->setTitle(heading + QLatin1Char('\n') +
                       tr("before alignment (mean %1)").arg(pair.meanBefore, 0, 'g', 4));
    m_after->setTitle(heading + QLatin1Char('\n') +
                      tr("after alignment (mean %1)").arg(pair.meanAfter, 0, 'g', 4));

    const bool after = m_gridSide->currentIndex() == 0;
    QVector<QVector<double>> matrices;
    QStringList titles;
    QVector<double> meanBefore, meanAfter;
    // One scale for both sides, as on the layer page: toggling before/after must show the change.
    std::optional<QCPRange> range;
    for (const LayerSimilarity& layer : m_data.layers) {
        const SimilarityPair& p = layer.of(k, c);
        matrices << (after ? p.after : p.before);
        titles << tr("layer %1 · mean %2")
                      .arg(titles.size())
                      .arg(after ? p.meanAfter : p.meanBefore, 0, 'g', 3);
        meanBefore << p.meanBefore;
        meanAfter << p.meanAfter;
        const QCPRange both = unite(HeadHeatmap::offDiagonalRange(p.before, n),
                                    HeadHeatmap::offDiagonalRange(p.after, n));
        range = range ? unite(*range, both) : both;
    }
    m_grid->setMatrices(matrices, n, titles, range);
    m_grid->setColorBarLabel(
        tr("%1 — %2, %3 (scale shared with the other side)")
            .arg(valueLabel(c), what, after ? tr("after alignment") : tr("before alignment")));
    m_grid->setCurrentLayer(m_layer);
    m_summary->setTitle(tr("Mean head similarity per layer (%1)").arg(what));
    m_summary->setValueLabel(valueLabel(c));
    m_summary->setSeries(tr("before alignment"), meanBefore, tr("after alignment"), meanAfter);
    m_summary->setCurrentLayer(m_layer);
    refreshGroups();
}

void SimilarityPanel::refreshGroups() {
    if (!hasAnalysis()) return;
    const GroupingData& g = m_grouping->grouping();
    const bool show = g.groups > 0 && g.layers.size() == m_data.layerCount();
    QVector<QVector<QVector<int>>> perLayer;
    QVector<double> aligned, baseline, leastSquares;
    for (const LayerGrouping& layer : g.layers) {
        perLayer << layer.groups;
        aligned << 100.0 * layer.aligned.relative();
        baseline << 100.0 * layer.baseline.relative();
        leastSquares << 100.0 * layer.leastSquares.relative();
    }
    const bool outline = show && m_orderByGroup->isChecked();
    // The boxes come from the grouping pane's search (its own similarity and G), which need not
    // be the similarity the maps show: say so on the switch that draws them.
    if (show) {
        const QString driver = QStringLiteral("%1 · %2").arg(kindLabel(g.driver.kind),
                                                             criterionLabel(g.driver.criterion));
        const int edited = m_grouping->editedLayerCount();
        m_orderByGroup->setText(edited > 0
                                    ? tr("Order by groups (G = %1, %2, %3 edited)")
                                          .arg(g.groups)
                                          .arg(driver)
                                          .arg(edited)
                                    : tr("Order by groups (G = %1, %2)").arg(g.groups).arg(driver));
        m_orderByGroup->setToolTip(
            tr("Boxes outline the groups of the Grouping pane: searched for G = %1 on %2 "
               "similarity, whatever similarity the maps show.")
                .arg(g.groups)
                .arg(driver));
    } else {
        m_orderByGroup->setText(tr("Order heads by group"));
        m_orderByGroup->setToolTip(QString());
    }
    for (HeadHeatmap* map : {m_before, m_after}) {
        if (outline)
            map->setGroups(perLayer[m_layer]);
        else
            map->setHeadOrder({});
    }
    m_grid->setGroups(outline ? perLayer : QVector<QVector<QVector<int>>>());
    if (show && g.groups == m_data.heads) {
        // G = H keeps every head: nothing is merged, and an axis of zeros would only mislead.
        m_cost->setTitle(tr("G = %1 keeps every head: no merge, no merge cost").arg(g.groups));
        m_cost->clear();
    } else if (show) {
        m_cost->setTitle(tr("Predicted merge cost per layer, G = %1").arg(g.groups));
        m_cost->setSeries({{tr("mean-pool"), baseline},
                           {tr("aligned"), aligned},
                           {tr("least squares"), leastSquares}});
    } else {
        m_cost->setTitle(tr("Predicted merge cost per layer"));
        m_cost->clear();
    }
    m_cost->setCurrentLayer(m_layer);
}

}  // namespace gqa
