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
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
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
#include "studiopaths.h"
#include "trainingsettingsform.h"
#include "trainingstartchoice.h"

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

/// data/corpus/text next to the sources (the demo model sits in resources/models/demo) or in
/// the working directory; empty when neither exists.
QString corpusFolderFor(const QString& modelFolder) {
    const QString resolved = QFileInfo(modelFolder).canonicalFilePath();  // demo: a symlink
    for (const QString& candidate :
         {QDir(resolved).absoluteFilePath(QStringLiteral("../../../data/corpus/text")),
          QDir::current().absoluteFilePath(QStringLiteral("data/corpus/text"))})
        if (QFileInfo(candidate).isDir()) return QDir::cleanPath(candidate);
    return {};
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
    scroll->setWidget(buildForm());
    scroll->setWidgetResizable(true);
    splitter->addWidget(scroll);
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
        QString text = tr("Finished %1 updates. Exported GQA model: %2 (%3)")
                           .arg(o.steps)
                           .arg(QDir::toNativeSeparators(o.exportFolder),
                                o.exportVerified ? tr("verified") : tr("NOT verified"));
        if (std::isfinite(o.finalValidationLoss))
            text += tr("; held-out perplexity %1").arg(std::exp(o.finalValidationLoss), 0, 'f', 2);
        setState(RunState::Finished);
        m_status->setText(text);
        m_progress->setValue(1000);
        m_lastRunFolder = QFileInfo(o.runFile).absolutePath();
        Q_EMIT runFinished(o);
    });
    connect(m_runner, &TrainingRunner::cancelled, this, [this](const QString&) {
        drainMetrics();
        setState(RunState::Paused);
        m_status->setText(
            tr("Paused with a checkpoint in %1. Resume continues from there; End Run keeps it "
               "and unlocks the settings.")
                .arg(QDir::toNativeSeparators(m_output->text())));
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
    m_chooser = [this](const QString& folder) {
        QMessageBox box(
            QMessageBox::Question, tr("A run is already there"),
            tr("%1 already holds a conversion run.").arg(QDir::toNativeSeparators(folder)),
            QMessageBox::NoButton, this);
        box.setInformativeText(
            tr("Resume continues it (its settings must match); Overwrite deletes its "
               "checkpoint, export and run file and starts again; Another Folder keeps it and "
               "proposes a new folder."));
        QPushButton* resume = box.addButton(tr("Resume"), QMessageBox::AcceptRole);
        QPushButton* overwrite = box.addButton(tr("Overwrite"), QMessageBox::DestructiveRole);
        QPushButton* another = box.addButton(tr("Another Folder"), QMessageBox::ActionRole);
        box.addButton(QMessageBox::Cancel);
        box.exec();
        if (box.clickedButton() == resume) return ExistingRunChoice::Resume;
        if (box.clickedButton() == overwrite) return ExistingRunChoice::Overwrite;
        if (box.clickedButton() == another) return ExistingRunChoice::ChooseAnother;
        return ExistingRunChoice::Cancel;
    };
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
    form->insertRow(0, tr("KV heads (G)"), m_groups);
    form->insertRow(1, tr("Start from"), m_start);
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
        if (m_state == RunState::Paused)
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
    grid->addWidget(m_loss, 0, 0);
    grid->addWidget(m_sparsity, 0, 1);
    grid->addWidget(m_lrPlot, 1, 0);
    grid->addWidget(m_speed, 1, 1);
    grid->addWidget(m_gates, 0, 2, 2, 1);
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
    const QString corpus = corpusFolderFor(folder);
    if (!corpus.isEmpty()) {
        m_trainText->setText(corpus);
        m_validation->setText(QDir(corpus).filePath(QStringLiteral("persuasion.txt")));
        m_calibration->setText(QDir(corpus).filePath(QStringLiteral("emma.txt")));
    }
    m_outputEdited = false;
    updateDefaultOutput();
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

TrainingSettings TrainingPanel::settings() const {
    TrainingSettings s;
    s.modelFolder = m_modelFolder;
    s.groups = m_groups->currentData().toInt();
    s.start = selectedTrainingStart(m_start);
    s.calibrationFiles = textFiles(m_calibration->text(), QString());
    s.trainFiles = textFiles(m_trainText->text(), m_validation->text());
    s.validationFile = m_validation->text();
    s.outputFolder = QDir::cleanPath(m_output->text().trimmed());
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

void TrainingPanel::startRun() {
    if (m_runner->isRunning() || m_modelFolder.isEmpty()) return;
    const TrainingSettings s = settings();
    if (s.trainFiles.isEmpty()) {
        m_status->setText(tr("No training text: choose a folder of .txt files or a file."));
        return;
    }
    if (alignsHeads(s.start) && s.calibrationFiles.isEmpty()) {
        m_status->setText(tr("No calibration text: choose a .txt or .jsonl file."));
        return;
    }
    if (s.outputFolder.isEmpty() || s.outputFolder == QStringLiteral(".")) {
        m_status->setText(tr("No output folder: type or choose the folder for this run."));
        return;
    }
    const bool resuming = m_state == RunState::Paused;
    if (!resuming && !settleExistingRun(s.outputFolder)) return;
    // The plots keep the previous run until this one's first update (a failed start loses
    // nothing); a resumed run continues its own curves.
    m_clearOnFirstSample = !resuming;
    setState(RunState::Running);
    m_status->setText(resuming ? tr("Resuming…") : tr("Starting…"));
    m_runner->start(s);
}

bool TrainingPanel::settleExistingRun(const QString& folder) {
    const RunFolder run(QFile::encodeName(folder).toStdString());
    if (!run.holdsRun()) return true;
    switch (m_chooser ? m_chooser(folder) : ExistingRunChoice::Cancel) {
        case ExistingRunChoice::Resume:
            return true;
        case ExistingRunChoice::Overwrite:
            try {
                run.removeRun();
            } catch (const std::exception& e) {
                m_status->setText(
                    tr("Could not overwrite: %1").arg(QString::fromLocal8Bit(e.what())));
                return false;
            }
            return true;
        case ExistingRunChoice::ChooseAnother: {
            QString next;
            for (int n = 2; next.isEmpty() || QFileInfo::exists(next); ++n)
                next = folder + QStringLiteral("-%1").arg(n);
            m_output->setText(next);
            m_outputEdited = true;
            m_status->setText(tr("The output folder is now %1: press Start to use it.")
                                  .arg(QDir::toNativeSeparators(next)));
            return false;
        }
        case ExistingRunChoice::Cancel:
            break;
    }
    m_status->setText(tr("Not started: %1 holds a run.").arg(QDir::toNativeSeparators(folder)));
    return false;
}

void TrainingPanel::pauseRun() {
    if (!m_runner->isRunning()) return;
    m_runner->pause();
    setState(RunState::Pausing);
    m_status->setText(tr("Pausing: writing a checkpoint…"));
}

void TrainingPanel::endPausedRun() {
    if (m_state != RunState::Paused) return;
    setState(RunState::Idle);
    m_status->setText(tr("The paused run stays in %1 (Start on that folder offers to resume it).")
                          .arg(QDir::toNativeSeparators(m_output->text())));
}

void TrainingPanel::setState(RunState state) {
    m_state = state;
    const bool running = state == RunState::Running || state == RunState::Pausing;
    const bool editable = !running && state != RunState::Paused;
    m_startButton->setText(state == RunState::Paused ? tr("Resume") : tr("Start"));
    m_startButton->setEnabled(!running && !m_modelFolder.isEmpty());
    m_pauseButton->setText(state == RunState::Paused ? tr("End Run") : tr("Pause"));
    m_pauseButton->setEnabled(state == RunState::Running || state == RunState::Paused);
    for (QWidget* w : std::initializer_list<QWidget*>{m_groups, m_start, m_trainText, m_validation,
                                                      m_calibration, m_output})
        w->setEnabled(editable);
    m_settingsForm->setFieldsEnabled(editable);
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
        if (QGuiApplication::platformName() != QLatin1String("offscreen"))
            QDesktopServices::openUrl(QUrl::fromLocalFile(r.htmlPath));
    });
}
}  // namespace gqa
