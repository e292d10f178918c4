// SPDX-License-Identifier: GPL-3.0-or-later
#include "trainingpanel.h"

#include <cmath>
#include <exception>
#include <initializer_list>

#include <QComboBox>
#include <QDir>
#include <QDesktopServices>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGuiApplication>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTimer>
#include <QUrl>
#include <QVBoxLayout>

#include "base/metrics.h"
#include "gateheatmap.h"
#include "liveplot.h"
#include "pathrow.h"
#include "reporttask.h"
#include "runfile/runfile.h"
#include "runfile/runfolder.h"
#include "training/trainingcheckpoint.h"
#include "studiopaths.h"
#include "trainingsettingsform.h"
#include "trainingstartchoice.h"
#include "existingrundialog.h"
#include "evaluationtask.h"

namespace gqa {
namespace {
/// The LivePlot series of a metric is named by its stored key (base/metrics.h).
QString seriesKey(Metric metric) { return QString::fromLatin1(metricKey(metric)); }
/// A metric's curve, keyed by its stored name and labelled with its readable one.
void addMetric(LivePlot* plot, Metric metric, const QColor& color) {
    plot->addSeries(seriesKey(metric), color, false, QString::fromUtf8(metricLabel(metric)));
}
const QColor kBlue(31, 119, 180), kOrange(255, 127, 14), kGreen(44, 160, 44), kRed(214, 39, 40),
    kPurple(148, 103, 189);

/// Text files of a folder (sorted) or the file itself; `exclude` (validation text) left out.
QStringList textFiles(const QString& item, const QString& exclude) {
    const QFileInfo info(item);
    if (!info.isDir()) return info.exists() ? QStringList{item} : QStringList{};
    QStringList out;
    const QString excluded = QFileInfo(exclude).canonicalFilePath();
    for (const QFileInfo& f :
         QDir(item).entryInfoList({QStringLiteral("*.txt")}, QDir::Files, QDir::Name))
        if (f.canonicalFilePath() != excluded) out << f.filePath();
    return out;
}

}  // namespace

TrainingPanel::TrainingPanel(QWidget* parent) : QWidget(parent) {
    m_runner = new TrainingRunner(this);
    connectReportTask();
    m_redraw = new QTimer(this);
    m_redraw->setInterval(kRedrawIntervalMs);
    connect(m_redraw, &QTimer::timeout, this, &TrainingPanel::drainMetrics);

    auto* splitter = new QSplitter(Qt::Horizontal, this);
    auto* scroll = new QScrollArea(splitter);
    scroll->setObjectName(QStringLiteral("trainingSettingsScroll"));
    QWidget* form = buildForm();
    scroll->setWidget(form);
    scroll->setWidgetResizable(true);
    // The settings keep the width they need (fields and buttons whole, no sideways scrolling);
    // on a short screen they scroll vertically, and the plots take what is left. Combos show
    // kComboMinimumCharacters when narrow (their lists show whole items) and fields move below
    // their labels rather than widen the column.
    for (auto* combo : form->findChildren<QComboBox*>()) {
        combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        combo->setMinimumContentsLength(kComboMinimumCharacters);
    }
    m_settingsForm->layout()->setRowWrapPolicy(QFormLayout::WrapLongRows);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setMinimumWidth(form->minimumSizeHint().width() +
                            scroll->verticalScrollBar()->sizeHint().width() +
                            2 * scroll->frameWidth());
    splitter->addWidget(scroll);
    splitter->setChildrenCollapsible(false);
    splitter->addWidget(buildPlots());
    splitter->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(splitter);

    connect(m_runner, &TrainingRunner::progress, this,
            [this](double fraction, const QString& stage, double elapsed, double remaining) {
                m_progress->setValue(int(std::lround(fraction * 1000)));
                m_status->setText(
                    tr("%1 — elapsed %2, remaining %3")
                        .arg(stage, duration(elapsed),
                             std::isfinite(remaining) ? duration(remaining) : tr("estimating…")));
            });
    connect(m_runner, &TrainingRunner::resultReady, this, [this](const TrainingOutcome& o) {
        drainMetrics();
        m_finishedText = tr("Finished %1 updates. Exported GQA model: %2 (%3)")
                             .arg(o.steps)
                             .arg(QDir::toNativeSeparators(o.exportFolder),
                                  o.exportVerified ? tr("verified") : tr("NOT verified"));
        // The validation loss is on training-length windows: a training signal, not the
        // held-out perplexity, which is measured next under the one comparison protocol.
        if (std::isfinite(o.finalValidationLoss))
            m_finishedText +=
                tr("; final validation loss %1").arg(o.finalValidationLoss, 0, 'f', 3);
        setState(RunState::Finished);
        m_status->setText(m_finishedText);
        m_progress->setValue(1000);
        m_lastRunFolder = QFileInfo(o.runFile).absolutePath();
        measureHeldOut(o);
        Q_EMIT runFinished(o);
    });
    connect(m_runner, &TrainingRunner::cancelled, this, [this](const QString&) {
        drainMetrics();
        const QString folder = QDir::cleanPath(m_output->text().trimmed());
        const RunFolder run(QFile::encodeName(folder).toStdString());
        if (findTrainingCheckpoint(run.checkpoint()).empty()) {
            // Stopped while calibrating or aligning: there is nothing to resume, so say so.
            setState(RunState::Idle);
            m_status->setText(
                tr("Stopped before the first training checkpoint: nothing to resume. Start "
                   "begins again in %1 (stored calibration statistics are reused).")
                    .arg(QDir::toNativeSeparators(folder)));
            return;
        }
        setState(RunState::Paused);
        m_status->setText(
            tr("Paused with a checkpoint in %1. Resume continues from there; End Run keeps it "
               "and unlocks the settings.")
                .arg(QDir::toNativeSeparators(folder)));
    });
    connect(m_runner, &TrainingRunner::failed, this, [this](const QString& message) {
        drainMetrics();
        setState(RunState::Failed);
        m_status->setText(tr("Failed: %1").arg(message));
    });
    connect(m_runner, &TrainingRunner::finished, this, [this] {
        // A start refused before any work (no signal but finished) leaves the form usable.
        if (m_state == RunState::Running || m_state == RunState::Pausing)
            setState(RunState::Failed);
    });
    m_chooser = [this](const QString& folder) { return askAboutExistingRun(this, folder); };
    connectEvaluation();
    setState(RunState::Idle);
}

QWidget* TrainingPanel::buildForm() {
    // One form layout, the shared settings form's own (so the labels line up): this tab's rows
    // go above and below the shared ones.
    m_settingsForm = new TrainingSettingsForm;
    QFormLayout* form = m_settingsForm->layout();
    m_groups = new QComboBox;
    m_groups->setObjectName(QStringLiteral("kvHeadsCombo"));
    m_start = new QComboBox;
    m_start->setObjectName(QStringLiteral("trainingStartCombo"));
    fillTrainingStarts(m_start);
    m_trainText = new QLineEdit;
    m_validation = new QLineEdit;
    m_calibration = new QLineEdit;
    m_output = new QLineEdit;
    m_output->setObjectName(QStringLiteral("outputFolderEdit"));
    m_output->setToolTip(
        tr("The run's folder, used as typed: aligned model, checkpoint, export "
           "and run file go here"));
    connect(m_output, &QLineEdit::textEdited, this, [this] { m_outputEdited = true; });
    connect(m_groups, &QComboBox::currentIndexChanged, this, &TrainingPanel::updateDefaultOutput);
    connect(m_start, &QComboBox::currentIndexChanged, this, &TrainingPanel::updateDefaultOutput);
    m_groupsSource = new QLabel;
    m_groupsSource->setObjectName(QStringLiteral("groupsSourceLabel"));
    m_groupsSource->setWordWrap(true);
    // Two lines always: the form row is as high as the Search button beside it otherwise, which
    // cut the first line of a wrapped source in half.
    m_groupsSource->setMinimumHeight(2 * m_groupsSource->fontMetrics().lineSpacing());
    m_searchInstead = new QPushButton(tr("Search"));
    m_searchInstead->setObjectName(QStringLiteral("searchGroupsInsteadButton"));
    m_searchInstead->setToolTip(
        tr("Search instead: forget the Similarity tab's groups and search when the run starts"));
    connect(m_searchInstead, &QPushButton::clicked, this, &TrainingPanel::clearGivenGroups);
    connect(m_groups, &QComboBox::currentIndexChanged, this, [this] {
        // Groups for another G cannot be used: back to searching.
        if (hasGivenGroups() && m_groups->currentData().toInt() != m_givenG) clearGivenGroups();
        updateGroupsSource();
    });
    connect(m_start, &QComboBox::currentIndexChanged, this, &TrainingPanel::updateGroupsSource);
    auto* groupsRow = new QHBoxLayout;
    groupsRow->addWidget(m_groupsSource, 1);
    groupsRow->addWidget(m_searchInstead);
    form->insertRow(0, tr("KV heads (G)"), m_groups);
    form->insertRow(1, tr("Start from"), m_start);
    form->insertRow(2, tr("Groups"), groupsRow);
    const QString texts = tr("Text (*.txt *.jsonl);;All files (*)");
    form->addRow(tr("Training text (folder or file)"),
                 pathRow(m_trainText, BrowseFor::File, texts));
    form->addRow(tr("Held-out text"), pathRow(m_validation, BrowseFor::File, texts));
    form->addRow(tr("Calibration text"), pathRow(m_calibration, BrowseFor::File, texts));
    form->addRow(tr("Output folder"), pathRow(m_output, BrowseFor::Folder));

    m_startButton = new QPushButton(tr("Start"));
    m_startButton->setObjectName(QStringLiteral("startTrainingButton"));
    m_pauseButton = new QPushButton(tr("Pause"));
    m_pauseButton->setObjectName(QStringLiteral("pauseTrainingButton"));
    auto* openButton = new QPushButton(tr("Open run…"));
    auto* compareButton = new QPushButton(tr("Compare run…"));
    connect(m_startButton, &QPushButton::clicked, this, &TrainingPanel::startRun);
    connect(m_pauseButton, &QPushButton::clicked, this, [this] {
        if (m_evaluation->isRunning())
            m_evaluation->cancel();
        else if (m_state == RunState::Paused)
            endPausedRun();
        else
            pauseRun();
    });
    auto pick = [this](bool compare) {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open run file"), QString(),
                                                          tr("Run files (*.h5)"));
        if (path.isEmpty()) return;
        const QString error = openRun(path, compare);
        if (!error.isEmpty()) m_status->setText(error);
    };
    connect(openButton, &QPushButton::clicked, this, [pick] { pick(false); });
    connect(compareButton, &QPushButton::clicked, this, [pick] { pick(true); });
    m_reportButton = new QPushButton(tr("Report…"));
    m_reportButton->setObjectName(QStringLiteral("reportButton"));
    connect(m_reportButton, &QPushButton::clicked, this, [this] {
        if (m_reportTask->isRunning())
            m_reportTask->cancel();
        else
            writeReport();
    });
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_startButton);
    buttons->addWidget(m_pauseButton);
    form->addRow(buttons);
    auto* runButtons = new QHBoxLayout;
    runButtons->addWidget(openButton);
    runButtons->addWidget(compareButton);
    runButtons->addWidget(m_reportButton);
    form->addRow(runButtons);

    m_progress = new QProgressBar;
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(false);
    m_status = new QLabel(tr("Open a model, choose the settings and press Start."));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);  // paths to copy
    m_status->setObjectName(QStringLiteral("trainingStatus"));
    form->addRow(m_progress);
    form->addRow(m_status);
    return m_settingsForm;
}

QWidget* TrainingPanel::buildPlots() {
    auto* box = new QWidget;
    auto* grid = new QGridLayout(box);
    m_loss = new LivePlot(tr("Loss terms"));
    addMetric(m_loss, Metric::Loss, kBlue);
    addMetric(m_loss, Metric::Kl, kOrange);
    addMetric(m_loss, Metric::Bild, kGreen);
    addMetric(m_loss, Metric::Regularizer, kRed);
    m_sparsity = new LivePlot(tr("Expected sparsity and its target"));
    addMetric(m_sparsity, Metric::Sparsity, kBlue);
    addMetric(m_sparsity, Metric::TargetSparsity, kRed);
    m_lrPlot = new LivePlot(tr("Learning rates"));
    addMetric(m_lrPlot, Metric::LearningRate, kBlue);
    addMetric(m_lrPlot, Metric::GateLearningRate, kPurple);
    m_speed = new LivePlot(tr("Tokens per second"));
    addMetric(m_speed, Metric::TokensPerSecond, kGreen);
    m_gates = new GateHeatmap;
    auto* explanation = new QLabel(
        tr("Loss terms: how far the converted model is from the original (KL and BiLD "
           "distillation) plus the gate regulariser. Sparsity: the expected share of heads "
           "already moved onto their group's merged head, against the schedule's target. Gates: "
           "1 = a head's own aligned keys and values, 0 = the merged head; all reach 0 by the end. "
           "Hover a plot for its values."));
    explanation->setObjectName(QStringLiteral("trainingPlotsExplanation"));
    explanation->setWordWrap(true);
    explanation->setForegroundRole(QPalette::PlaceholderText);
    grid->addWidget(explanation, 3, 0, 1, 3);
    grid->addWidget(m_loss, 0, 0);
    grid->addWidget(m_sparsity, 0, 1);
    grid->addWidget(m_lrPlot, 1, 0);
    grid->addWidget(m_speed, 1, 1);
    grid->addWidget(m_gates, 0, 2, 2, 1);
    grid->setRowStretch(0, 1);  // the plots take the height, not the space below them
    grid->setRowStretch(1, 1);
    grid->setColumnStretch(0, 2);
    grid->setColumnStretch(1, 2);
    grid->setColumnStretch(2, 2);

    // Only measured, noisy curves are smoothed: the learning rates, the target sparsity and the
    // expected sparsity are exact values, and a moving average would only draw them late.
    for (LivePlot* p : {m_sparsity, m_lrPlot}) p->setSmoothing(0.0);
    m_smoothing = new QSlider(Qt::Horizontal);
    m_smoothing->setObjectName(QStringLiteral("smoothingSlider"));
    m_smoothing->setRange(0, 99);
    m_smoothing->setValue(90);
    auto* label = new QLabel(tr("Smoothing (EMA) of losses and tokens/s: 0.90"));
    connect(m_smoothing, &QSlider::valueChanged, this, [this, label](int v) {
        label->setText(tr("Smoothing (EMA) of losses and tokens/s: %1").arg(v / 100.0, 0, 'f', 2));
        for (LivePlot* p : {m_loss, m_speed}) p->setSmoothing(v / 100.0);
    });
    auto* row = new QHBoxLayout;
    row->addWidget(label);
    row->addWidget(m_smoothing, 1);
    grid->addLayout(row, 2, 0, 1, 3);
    return box;
}

void TrainingPanel::setModel(const QString& folder, int heads, int layers) {
    m_modelFolder = folder;
    m_heads = heads;
    m_layers = layers;
    m_groups->clear();
    for (int g = heads / 2; g >= 1; --g)
        if (heads % g == 0) m_groups->addItem(QString::number(g), g);
    const QString corpus = demoTextFolder();
    if (!corpus.isEmpty()) {
        m_trainText->setText(corpus);
        m_validation->setText(QDir(corpus).filePath(QStringLiteral("persuasion.txt")));
        m_calibration->setText(QDir(corpus).filePath(QStringLiteral("emma.txt")));
    }
    m_outputEdited = false;
    updateDefaultOutput();
    clearGivenGroups();                 // they belong to the previous model
    if (m_runner->isRunning()) return;  // the running run keeps its plots until it ends
    // Another model: the previous model's curves, gates and message go with it.
    for (LivePlot* p : {m_loss, m_sparsity, m_lrPlot, m_speed}) p->clearData();
    m_gates->setShape(layers, heads);
    m_progress->setValue(0);
    m_lastRunFolder.clear();
    setState(RunState::Idle);
}

void TrainingPanel::updateDefaultOutput() {
    if (m_outputEdited || m_modelFolder.isEmpty() || !m_groups->currentData().isValid()) return;
    const QString name =
        QStringLiteral("%1-gqa%2-%3")
            .arg(QFileInfo(m_modelFolder).fileName())
            .arg(m_groups->currentData().toInt())
            .arg(QString::fromLatin1(trainingStartName(selectedTrainingStart(m_start))));
    m_output->setText(QDir(studioRunsFolder()).filePath(name));
}

void TrainingPanel::setGivenGroups(
    int groups, const std::vector<std::vector<std::vector<std::int64_t>>>& groupings,
    const QString& description) {
    const int index = m_groups->findData(groups);
    if (index < 0 || groupings.empty()) return;
    m_givenGroups.clear();  // selecting G below must not clear the new groups
    m_givenG = 0;
    m_groups->setCurrentIndex(index);
    if (!alignsHeads(selectedTrainingStart(m_start)))
        selectTrainingStart(m_start, kDefaultTrainingStart);
    m_givenGroups = groupings;
    m_givenG = groups;
    m_givenDescription = description;
    updateGroupsSource();
}

void TrainingPanel::clearGivenGroups() {
    m_givenGroups.clear();
    m_givenG = 0;
    m_givenDescription.clear();
    updateGroupsSource();
}

QString TrainingPanel::groupsSourceText() const {
    const QString detail = m_groupsSource->toolTip();
    return detail.isEmpty() ? m_groupsSource->text()
                            : m_groupsSource->text() + QStringLiteral(" (") + detail + u')';
}

void TrainingPanel::updateGroupsSource() {
    const bool given = hasGivenGroups();
    if (!alignsHeads(selectedTrainingStart(m_start)))
        m_groupsSource->setText(tr("consecutive heads (the mean-pool baseline)"));
    else if (given)
        m_groupsSource->setText(tr("from the Similarity tab, G = %1").arg(m_givenG));
    else
        m_groupsSource->setText(tr("searched when the run starts"));
    m_groupsSource->setToolTip(given ? m_givenDescription : QString());
    m_searchInstead->setVisible(given);
    m_searchInstead->setEnabled(given && m_groups->isEnabled());
}

TrainingSettings TrainingPanel::settings() const {
    TrainingSettings s;
    s.modelFolder = m_modelFolder;
    s.groups = m_groups->currentData().toInt();
    s.start = selectedTrainingStart(m_start);
    s.calibrationFiles = textFiles(m_calibration->text(), QString());
    s.trainFiles = textFiles(m_trainText->text(), m_validation->text());
    s.validationFile = m_validation->text();
    s.outputFolder = QDir::cleanPath(m_output->text().trimmed());
    if (hasGivenGroups() && s.groups == m_givenG && alignsHeads(s.start))
        s.groupings = m_givenGroups;
    m_settingsForm->apply(s);
    return s;
}

void TrainingPanel::setSettings(const TrainingSettings& s) {
    m_groups->setCurrentIndex(m_groups->findData(s.groups));
    selectTrainingStart(m_start, s.start);
    m_settingsForm->setSettings(s);
    m_trainText->setText(s.trainFiles.join(QLatin1Char(',')).isEmpty() ? m_trainText->text()
                                                                       : s.trainFiles.first());
    m_validation->setText(s.validationFile);
    if (!s.calibrationFiles.isEmpty()) m_calibration->setText(s.calibrationFiles.first());
}

void TrainingPanel::setRunLength(int steps, int batchSize, int seqLen) {
    TrainingSettings s;
    m_settingsForm->apply(s);
    s.steps = steps;
    s.batchSize = batchSize;
    s.seqLen = seqLen;
    m_settingsForm->setSettings(s);
}

void TrainingPanel::setState(RunState state) {
    m_state = state;
    const bool running = state == RunState::Running || state == RunState::Pausing;
    const bool editable = !running && state != RunState::Paused;
    m_startButton->setText(state == RunState::Paused ? tr("Resume") : tr("Start"));
    m_startButton->setEnabled(!running && !m_modelFolder.isEmpty());
    const bool measuring = state == RunState::Finished && m_evaluation->isRunning();
    m_pauseButton->setText(measuring                   ? tr("Stop Measuring")
                           : state == RunState::Paused ? tr("End Run")
                                                       : tr("Pause"));
    m_pauseButton->setEnabled(measuring || state == RunState::Running || state == RunState::Paused);
    for (QWidget* w : std::initializer_list<QWidget*>{m_groups, m_start, m_trainText, m_validation,
                                                      m_calibration, m_output})
        w->setEnabled(editable);
    m_settingsForm->setFieldsEnabled(editable);
    updateGroupsSource();
    if (running)
        m_redraw->start();
    else
        m_redraw->stop();
    if (state == RunState::Idle && m_modelFolder.isEmpty())
        m_status->setText(tr("Open a model, choose the settings and press Start."));
    else if (state == RunState::Idle)
        m_status->setText(tr("Choose the settings and press Start."));
}

void TrainingPanel::drainMetrics() {
    std::vector<TrainingSample> samples = m_runner->buffer().take();
    if (!samples.empty() && m_clearOnFirstSample) {
        m_clearOnFirstSample = false;
        for (LivePlot* p : {m_loss, m_sparsity, m_lrPlot, m_speed}) p->clearData();
        m_gates->setShape(m_layers, m_heads);
    }
    appendSamples(samples, false);
}

void TrainingPanel::appendSamples(const std::vector<TrainingSample>& samples, bool compare) {
    if (samples.empty()) return;
    QHash<QString, QVector<double>> xs, ys;
    for (const TrainingSample& s : samples) {
        for (const auto& [name, value] : s.metrics) {
            const QString key = QString::fromStdString(name);
            xs[key] << s.step;
            ys[key] << value;
        }
        if (!compare) m_gates->appendGates(s.step, s.gates);
    }
    for (LivePlot* p : {m_loss, m_sparsity, m_lrPlot, m_speed}) {
        for (auto it = xs.constBegin(); it != xs.constEnd(); ++it) {
            if (!p->hasSeries(it.key())) continue;  // each plot shows its own metrics
            const QString name = compare ? it.key() + tr(" (compared)") : it.key();
            if (compare)
                p->addSeries(name, Qt::darkGray, true,
                             p->legendLabel(it.key()) + tr(" (compared)"));
            p->append(name, it.value(), ys[it.key()]);
        }
        p->refresh();
    }
}

QString TrainingPanel::openRun(const QString& runFile, bool compare) {
    try {
        const RunFile file = RunFile::open(QFile::encodeName(runFile).toStdString());
        const RunFile::StoredTraining stored = file.readTrainingHistory();
        std::vector<TrainingSample> samples;
        const TrainingHistory& h = stored.history;
        for (std::size_t i = 0; i < h.rows.size(); ++i) {
            TrainingSample s;
            s.step = double(i + 1);
            for (std::size_t m = 0; m < h.metricNames.size(); ++m)
                s.metrics.emplace_back(h.metricNames[m], h.rows[i][m]);
            s.gates = h.gates[i];
            samples.push_back(std::move(s));
        }
        if (!compare) {
            for (LivePlot* p : {m_loss, m_sparsity, m_lrPlot, m_speed}) p->clearData();
            m_gates->setShape(int(h.layers), int(h.heads));
        }
        appendSamples(samples, compare);
        m_status->setText(tr("%1 %2: %3 updates")
                              .arg(compare ? tr("Comparing with") : tr("Opened"),
                                   QDir::toNativeSeparators(runFile))
                              .arg(h.size()));
        return {};
    } catch (const std::exception& e) {
        return tr("Could not open %1: %2").arg(runFile, QString::fromLocal8Bit(e.what()));
    }
}

QString TrainingPanel::duration(double seconds) {
    const qint64 s = qint64(std::llround(std::max(0.0, seconds)));
    return QStringLiteral("%1:%2:%3")
        .arg(s / 3600)
        .arg((s / 60) % 60, 2, 10, QLatin1Char('0'))
        .arg(s % 60, 2, 10, QLatin1Char('0'));
}

}  // namespace gqa

namespace gqa {
void TrainingPanel::writeReport(const QString& runFolder) {
    ReportConfig c;
    c.runFolder = !runFolder.isEmpty() ? runFolder : m_lastRunFolder;
    if (c.runFolder.isEmpty())
        c.runFolder = QFileDialog::getExistingDirectory(this, tr("Run folder (holds run.h5)"));
    if (c.runFolder.isEmpty() || m_reportTask->isRunning()) return;
    m_status->setText(tr("Writing the report of %1…").arg(QDir::toNativeSeparators(c.runFolder)));
    if (m_reportTask->start(c)) m_reportButton->setText(tr("Cancel Report"));
}

void TrainingPanel::connectReportTask() {
    m_reportTask = new ReportTask(this);
    connect(m_reportTask, &ReportTask::progress, this, [this](double, const QString& stage) {
        m_status->setText(tr("Report: %1").arg(stage));
    });
    connect(m_reportTask, &ReportTask::failed, this, [this](const QString& message) {
        m_status->setText(tr("Report failed: %1").arg(message));
    });
    connect(m_reportTask, &ReportTask::cancelled, this,
            [this] { m_status->setText(tr("Report cancelled; nothing was written.")); });
    connect(m_reportTask, &ReportTask::finished, this,
            [this] { m_reportButton->setText(tr("Report…")); });
    connect(m_reportTask, &ReportTask::resultReady, this, [this](const ReportResult& r) {
        m_status->setText(tr("Report written: %1").arg(QDir::toNativeSeparators(r.htmlPath)));
        if (QGuiApplication::platformName() == QLatin1String("offscreen")) return;
        if (QDesktopServices::openUrl(QUrl::fromLocalFile(r.htmlPath))) return;
        // No browser: the folder, then, and its path to copy when nothing can open that either.
        const QString folder = QFileInfo(r.htmlPath).absolutePath();
        const bool shown = QDesktopServices::openUrl(QUrl::fromLocalFile(folder));
        m_status->setText(
            (shown ? tr("No web browser opened the report; its folder is open: %1")
                   : tr("No web browser opened the report. Open report.html or report.pdf in "
                        "%1 (select the path to copy it)."))
                .arg(QDir::toNativeSeparators(folder)));
    });
}
}  // namespace gqa
