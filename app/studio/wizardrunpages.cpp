// SPDX-License-Identifier: GPL-3.0-or-later
#include "wizardrunpages.h"

#include <cmath>
#include <exception>

#include <QComboBox>
#include <QDesktopServices>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSet>
#include <QSpinBox>
#include <QTableWidget>
#include <QTimer>
#include <QUrl>
#include <QVBoxLayout>

#include "conversionestimate.h"
#include "conversionwizard.h"
#include "io/modelconfig.h"
#include "pathrow.h"
#include "reporttask.h"
#include "trainingsettingsform.h"

namespace gqa {
namespace {
/// By the demo corpus's convention (the Training tab proposes the same), its held-out novel.
const QString kHeldOutNovel = QStringLiteral("persuasion.txt");

QString normalized(const QString& path) { return QFileInfo(path.trimmed()).absoluteFilePath(); }

/// A held-out text that is none of `used` (training and calibration files): persuasion.txt
/// beside the first of them, else another .txt beside it; empty when there is none.
QString proposeHeldOutText(const QStringList& used) {
    if (used.isEmpty()) return {};
    QSet<QString> taken;
    for (const QString& f : used) taken.insert(normalized(f));
    const QDir folder = QFileInfo(used.front().trimmed()).absoluteDir();
    QStringList candidates{kHeldOutNovel};
    candidates << folder.entryList({QStringLiteral("*.txt")}, QDir::Files, QDir::Name);
    for (const QString& name : candidates) {
        const QString path = folder.filePath(name);
        if (QFileInfo(path).isFile() && !taken.contains(normalized(path))) return path;
    }
    return {};
}
}  // namespace

// --- training settings -----------------------------------------------------------------------

WizardSettingsPage::WizardSettingsPage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Training settings"));
    setSubTitle(
        tr("The grouped model is distilled from the teacher while L0 gates fade the "
           "aligned MHA heads into their groups."));
    m_form = new TrainingSettingsForm(this);
    m_teacher = new QLineEdit(this);
    m_teacher->setObjectName(QStringLiteral("teacherEdit"));
    m_train = new QLineEdit(this);
    m_train->setObjectName(QStringLiteral("trainEdit"));
    m_train->setToolTip(tr(".txt files, or one prompt/answer .jsonl file, separated by ';'"));
    m_heldOut = new QLineEdit(this);
    m_heldOut->setObjectName(QStringLiteral("heldOutEdit"));
    m_heldOut->setToolTip(
        tr("Text the model is scored on after conversion: use text that is not among the "
           "training or calibration files, or the perplexity flatters the model"));
    m_heldOutWarning = new QLabel(this);
    m_heldOutWarning->setObjectName(QStringLiteral("heldOutWarning"));
    m_heldOutWarning->setWordWrap(true);
    m_heldOutWarning->setStyleSheet(QStringLiteral("color: #b35900"));
    m_heldOutWarning->hide();
    m_estimate = new QLabel(this);
    m_estimate->setObjectName(QStringLiteral("estimateLabel"));
    m_estimate->setWordWrap(true);
    m_estimate->setTextFormat(Qt::RichText);

    auto* form = m_form->layout();  // one form: the shared settings, then this page's rows
    form->addRow(tr("Teacher"), pathRow(m_teacher, BrowseFor::Folder));
    form->addRow(tr("Training text"),
                 pathRow(m_train, BrowseFor::Files, tr("Text (*.txt *.jsonl);;All files (*)")));
    form->addRow(tr("Held-out text"),
                 pathRow(m_heldOut, BrowseFor::File, tr("Text (*.txt);;All files (*)")));
    form->addRow(QString(), m_heldOutWarning);
    form->addRow(tr("Estimate"), m_estimate);
    auto* page = new QVBoxLayout(this);
    page->setContentsMargins(0, 0, 0, 0);  // the form keeps its own
    page->addWidget(m_form);
    connect(m_form, &TrainingSettingsForm::changed, this, &WizardSettingsPage::updateEstimate);
    for (QLineEdit* edit : {m_teacher, m_train, m_heldOut})
        connect(edit, &QLineEdit::textChanged, this, &QWizardPage::completeChanged);
    connect(m_teacher, &QLineEdit::textChanged, this, &WizardSettingsPage::updateEstimate);
    for (QLineEdit* edit : {m_train, m_heldOut})
        connect(edit, &QLineEdit::textChanged, this, &WizardSettingsPage::updateHeldOutWarning);
}

QStringList WizardSettingsPage::trainingAndCalibrationFiles() const {
    QStringList used = m_train->text().split(QLatin1Char(';'), Qt::SkipEmptyParts);
    used << m_wizard->plan().calibrationFiles;
    return used;
}

void WizardSettingsPage::updateHeldOutWarning() {
    const QString heldOut = m_heldOut->text().trimmed();
    bool overlaps = false;
    for (const QString& f : trainingAndCalibrationFiles())
        overlaps = overlaps || (!heldOut.isEmpty() && normalized(f) == normalized(heldOut));
    m_heldOutWarning->setText(
        overlaps ? tr("This file is also training or calibration text: its perplexity will "
                      "look better than on text the model has not seen.")
                 : QString());
    m_heldOutWarning->setVisible(overlaps);
}

void WizardSettingsPage::initializePage() {
    const ConversionPlan& plan = m_wizard->plan();
    if (m_teacher->text().isEmpty()) m_teacher->setText(plan.modelFolder);
    if (m_train->text().isEmpty()) m_train->setText(plan.calibrationFiles.join(QLatin1Char(';')));
    if (m_heldOut->text().isEmpty()) {
        // Unseen text when there is some; else the training text, with the warning shown.
        const QString unseen = proposeHeldOutText(trainingAndCalibrationFiles());
        m_heldOut->setText(!unseen.isEmpty()                 ? unseen
                           : plan.calibrationFiles.isEmpty() ? QString()
                                                             : plan.calibrationFiles.front());
    }
    updateHeldOutWarning();
    updateEstimate();
}

void WizardSettingsPage::updateEstimate() {
    try {
        const ModelConfig c = ModelConfig::fromFile(
            QFile::encodeName(
                QDir(m_wizard->plan().modelFolder).filePath(QStringLiteral("config.json")))
                .toStdString());
        const ConversionPlan& plan = m_wizard->plan();
        const bool separateTeacher =
            !m_teacher->text().trimmed().isEmpty() &&
            QDir::cleanPath(m_teacher->text().trimmed()) != QDir::cleanPath(plan.modelFolder);
        TrainingSettings shown;
        m_form->apply(shown);
        const ConversionEstimate e = estimateConversion(
            c, plan.settings.groups, shown.steps, shown.batchSize, shown.seqLen, shown.compute,
            shown.device, separateTeacher, plan.settings.start == TrainingStart::LeastSquares);
        const QString rate =
            e.measuredRate
                ? tr("the demo model's measured speed on 2 CPU cores (docs/benchmarks.md) as "
                     "%1 GFLOP/s")
                      .arg(e.flopsPerSecond / 1e9, 0, 'f', 0)
                : tr("an assumed %1 TFLOP/s (no GPU has been measured yet)")
                      .arg(e.flopsPerSecond / 1e12, 0, 'f', 0);
        m_estimate->setText(
            tr("<b>about %1 of tensor memory at the peak</b> (weights %2 + gradients and "
               "AdamW state %3 + teacher %4 + activations %5; peak during the %6; %7 "
               "parameters trained; the LibTorch runtime adds a few hundred MiB)"
               "<br><b>training time: %8</b> at ~%9 tokens/s<br><i>An estimate: %10 applied "
               "to the run's FLOPs. Calibration and export add a little.</i>")
                .arg(formatBytes(e.totalBytes()), formatBytes(e.weightBytes),
                     formatBytes(e.optimizerBytes), formatBytes(e.teacherBytes),
                     formatBytes(e.activationBytes), QString::fromStdString(e.plan.peakPhase),
                     QLocale().toString(qlonglong(e.plan.trainableParameters)),
                     formatDuration(e.seconds))
                .arg(e.tokensPerSecond, 0, 'f', 0)
                .arg(rate));
    } catch (const std::exception& e) {
        m_estimate->setText(QString::fromLocal8Bit(e.what()));
    }
}

bool WizardSettingsPage::isComplete() const {
    if (!QFileInfo(m_teacher->text().trimmed()).isDir()) return false;
    if (!QFileInfo::exists(m_heldOut->text().trimmed())) return false;
    const QStringList files = m_train->text().split(QLatin1Char(';'), Qt::SkipEmptyParts);
    for (const QString& f : files)
        if (!QFileInfo::exists(f.trimmed())) return false;
    return !files.isEmpty();
}

bool WizardSettingsPage::validatePage() {
    ConversionPlan& plan = m_wizard->plan();
    TrainingSettings& s = plan.settings;
    s.modelFolder = plan.modelFolder;
    const QString teacher = QDir::cleanPath(m_teacher->text().trimmed());
    s.teacherFolder = teacher == plan.modelFolder ? QString() : teacher;
    s.calibrationFiles = plan.calibrationFiles;
    s.calibrationSequences = plan.calibrationSequences;
    s.trainFiles.clear();
    for (const QString& f : m_train->text().split(QLatin1Char(';'), Qt::SkipEmptyParts))
        s.trainFiles << f.trimmed();
    s.validationFile = m_heldOut->text().trimmed();
    s.outputFolder = plan.outputFolder;
    m_form->apply(s);
    s.checkpointEvery = std::max(1, std::min(50, s.steps / 4));
    s.evalEvery = 0;
    return true;
}

// --- train -----------------------------------------------------------------------------------

WizardTrainPage::WizardTrainPage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Train"));
    setSubTitle(
        tr("Pause writes a checkpoint; Resume, or coming back to this page, continues "
           "from it. Back and Cancel pause too."));
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("trainingProgress"));
    m_progress->setRange(0, 1000);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_loss = new QLabel(this);
    m_pause = new QPushButton(tr("Pause"), this);
    m_pause->setObjectName(QStringLiteral("pauseButton"));
    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(m_pause);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(m_loss);
    layout->addLayout(buttons);
    layout->addStretch();
    m_drain = new QTimer(this);
    m_drain->setInterval(200);
    TrainingRunner* runner = wizard->runner();
    connect(m_drain, &QTimer::timeout, this, [this, runner] {
        const auto samples = runner->buffer().take();
        if (samples.empty()) return;
        for (const auto& [name, value] : samples.back().metrics)
            if (name == "loss")
                m_loss->setText(
                    tr("update %1: loss %2").arg(samples.back().step).arg(value, 0, 'f', 4));
    });
    connect(m_pause, &QPushButton::clicked, this, &WizardTrainPage::togglePause);
    connect(runner, &TrainingRunner::progress, this,
            [this](double f, const QString& stage, double elapsed, double remaining) {
                m_progress->setValue(int(f * 1000));
                m_status->setText(
                    std::isnan(remaining)
                        ? tr("%1 — %2 elapsed").arg(stage, formatDuration(elapsed))
                        : tr("%1 — %2 elapsed, about %3 left")
                              .arg(stage, formatDuration(elapsed), formatDuration(remaining)));
            });
    connect(runner, &TrainingRunner::resultReady, this, [this](const TrainingOutcome& o) {
        m_wizard->plan().outcome = o;
        m_done = true;
        m_progress->setValue(1000);
        m_status->setText(tr("Done: %1 updates at %2 tokens/s.%3")
                              .arg(o.steps)
                              .arg(o.tokensPerSecond, 0, 'f', 0)
                              .arg(o.warnings.isEmpty()
                                       ? QString()
                                       : QLatin1Char('\n') + o.warnings.join(QLatin1Char('\n'))));
        Q_EMIT completeChanged();
    });
    connect(runner, &TrainingRunner::cancelled, this, [this] {
        if (m_wizard->runner()->isRunning()) return;  // late news of a run already resumed
        m_status->setText(
            tr("Paused; the checkpoint is in %1.").arg(m_wizard->plan().outputFolder));
        m_pause->setText(tr("Resume"));
    });
    connect(runner, &TrainingRunner::failed, this, [this](const QString& message) {
        m_status->setText(tr("Training failed: %1").arg(message));
        m_pause->setText(tr("Start again"));
    });
    connect(runner, &TrainingRunner::finished, this, [this] {
        m_drain->stop();
        m_pause->setEnabled(!m_done);
    });
}

void WizardTrainPage::initializePage() { start(); }

void WizardTrainPage::start() {
    TrainingRunner* runner = m_wizard->runner();
    if (runner->isRunning()) runner->wait(-1);  // a pause still writing its checkpoint
    m_done = false;
    Q_EMIT completeChanged();
    m_pause->setText(tr("Pause"));
    m_pause->setEnabled(true);
    m_status->setText(tr("Preparing the aligned model…"));
    runner->start(m_wizard->plan().settings);  // may first deliver the last run's finished()
    m_drain->start();
}

void WizardTrainPage::togglePause() {
    if (m_wizard->runner()->isRunning()) {
        m_status->setText(tr("Pausing: writing a checkpoint…"));
        m_wizard->runner()->pause();
    } else {
        start();
    }
}

void WizardTrainPage::cleanupPage() {
    if (m_wizard->runner()->isRunning()) m_wizard->runner()->pause();
}

bool WizardTrainPage::isComplete() const { return m_done; }

// --- evaluate --------------------------------------------------------------------------------

WizardEvaluatePage::WizardEvaluatePage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Evaluate"));
    setSubTitle(
        tr("Perplexity on the held-out text (at most 8192 tokens) and KV-cache size of "
           "the original and the converted model."));
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1000);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_table = new QTableWidget(2, 4, this);
    m_table->setObjectName(QStringLiteral("evaluationTable"));
    m_table->setHorizontalHeaderLabels(
        {tr("model"), tr("perplexity"), tr("KV heads"), tr("KV cache per token")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setMaximumHeight(120);
    m_cancel = new QPushButton(tr("Cancel"), this);
    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(m_cancel);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(m_table);
    layout->addLayout(buttons);
    layout->addStretch();
    EvaluationTask* task = wizard->evaluationTask();
    connect(m_cancel, &QPushButton::clicked, task, &EvaluationTask::cancel);
    connect(task, &EvaluationTask::progress, this, [this](double f, const QString& stage) {
        m_progress->setValue(int(f * 1000));
        m_status->setText(stage);
    });
    connect(task, &EvaluationTask::failed, this, [this](const QString& message) {
        m_status->setText(tr("Evaluation failed: %1").arg(message));
    });
    connect(task, &EvaluationTask::cancelled, this,
            [this] { m_status->setText(tr("Evaluation cancelled.")); });
    connect(task, &EvaluationTask::finished, this, [this] { m_cancel->setEnabled(false); });
    connect(task, &EvaluationTask::resultReady, this, [this](const EvaluationResult& r) {
        m_wizard->plan().evaluation = r;
        const ModelEvaluation* rows[2] = {&r.original, &r.exported};
        const QString names[2] = {tr("original (MHA)"), tr("converted (GQA)")};
        for (int i = 0; i < 2; ++i) {
            m_table->setItem(i, 0, new QTableWidgetItem(names[i]));
            m_table->setItem(i, 1,
                             new QTableWidgetItem(QString::number(rows[i]->perplexity, 'f', 3)));
            m_table->setItem(i, 2, new QTableWidgetItem(QString::number(rows[i]->kvHeads)));
            m_table->setItem(i, 3,
                             new QTableWidgetItem(tr("%1 bytes").arg(rows[i]->kvBytesPerToken)));
        }
        m_progress->setValue(1000);
        m_status->setText(tr("Scored %1 tokens. The KV cache is %2% of the original's.")
                              .arg(r.original.tokensScored)
                              .arg(100.0 * double(r.exported.kvBytesPerToken) /
                                       double(std::max<qint64>(1, r.original.kvBytesPerToken)),
                                   0, 'f', 1));
        m_done = true;
        Q_EMIT completeChanged();
    });
}

void WizardEvaluatePage::initializePage() {
    const ConversionPlan& plan = m_wizard->plan();
    m_done = false;
    m_table->clearContents();
    m_cancel->setEnabled(true);
    EvaluationRequest request;
    request.originalFolder = plan.modelFolder;
    request.exportFolder = plan.outcome.exportFolder;
    request.textFile = plan.settings.validationFile;
    request.device = plan.settings.device;
    m_wizard->evaluationTask()->start(request);
}

void WizardEvaluatePage::cleanupPage() { m_wizard->evaluationTask()->cancel(); }

bool WizardEvaluatePage::isComplete() const { return m_done; }

// --- export ----------------------------------------------------------------------------------

WizardExportPage::WizardExportPage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Export"));
    setSubTitle(
        tr("The converted model is a standard Hugging Face folder of the same family with "
           "num_key_value_heads = G."));
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("exportSummary"));
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_open = new QPushButton(tr("Open Folder"), this);
    m_open->setObjectName(QStringLiteral("openFolderButton"));
    m_report = new QPushButton(tr("Write Report"), this);
    m_report->setObjectName(QStringLiteral("writeReportButton"));
    m_report->setToolTip(
        tr("report.html and report.pdf in the run folder: settings, similarity, "
           "groups, curves, gates and the evaluation"));
    m_reportStatus = new QLabel(this);
    m_reportStatus->setObjectName(QStringLiteral("reportStatus"));
    m_reportStatus->setWordWrap(true);
    m_reportStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_open);
    buttons->addWidget(m_report);
    buttons->addStretch();
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addLayout(buttons);
    layout->addWidget(m_reportStatus);
    layout->addStretch();
    connectReportTask();
    connect(m_report, &QPushButton::clicked, this, &WizardExportPage::startReport);
    connect(m_open, &QPushButton::clicked, this, [this] {
        QDesktopServices::openUrl(QUrl::fromLocalFile(m_wizard->plan().outcome.exportFolder));
    });
    setFinalPage(true);
}

void WizardExportPage::initializePage() {
    const TrainingOutcome& o = m_wizard->plan().outcome;
    m_summary->setText(
        tr("Exported to %1\n%2\nRun file (curves, gates, groupings): %3")
            .arg(QDir::toNativeSeparators(o.exportFolder),
                 o.exportVerified
                     ? tr("Verified: the exported GQA model reproduces the trained model's logits.")
                     : tr("NOT verified: the exported model's logits differ from the trained "
                          "model's; see the warnings of the run."),
                 QDir::toNativeSeparators(o.runFile)));
}

bool WizardExportPage::isWritingReport() const { return m_reportTask->isRunning(); }

void WizardExportPage::startReport() {
    if (m_reportTask->isRunning()) {
        m_reportTask->cancel();
        return;
    }
    const ConversionPlan& plan = m_wizard->plan();
    ReportConfig config;
    config.runFolder = plan.outputFolder;
    config.exportFolder = plan.outcome.exportFolder;
    config.evaluationText = plan.settings.validationFile;
    m_reportStatus->setText(tr("Gathering the report…"));
    if (m_reportTask->start(config)) m_report->setText(tr("Cancel Report"));
}

void WizardExportPage::connectReportTask() {
    m_reportTask = new ReportTask(this);
    connect(m_reportTask, &ReportTask::progress, this, [this](double f, const QString& stage) {
        m_reportStatus->setText(tr("Gathering the report (%1%): %2").arg(int(f * 100)).arg(stage));
    });
    connect(m_reportTask, &ReportTask::failed, this, [this](const QString& message) {
        m_reportStatus->setText(tr("Report not written: %1").arg(message));
    });
    connect(m_reportTask, &ReportTask::cancelled, this,
            [this] { m_reportStatus->setText(tr("Report cancelled; nothing was written.")); });
    connect(m_reportTask, &ReportTask::resultReady, this, [this](const ReportResult& r) {
        m_reportStatus->setText(tr("Report written: %1").arg(QDir::toNativeSeparators(r.htmlPath)));
    });
    connect(m_reportTask, &ReportTask::finished, this,
            [this] { m_report->setText(tr("Write Report")); });
}

}  // namespace gqa
