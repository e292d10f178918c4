// SPDX-License-Identifier: GPL-3.0-or-later
#include "wizardsetuppages.h"

#include <exception>

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "io/modelfamily.h"
#include "runfile/runfolder.h"
#include "conversionestimate.h"
#include "conversionwizard.h"
#include "headanalysistask.h"
#include "headanalysisworker.h"
#include "io/modelconfig.h"
#include "pathrow.h"
#include "trainingstartchoice.h"

namespace gqa {
namespace {
QStringList splitFiles(const QString& text) {
    QStringList files;
    for (const QString& f : text.split(QLatin1Char(';'), Qt::SkipEmptyParts))
        if (!f.trimmed().isEmpty()) files << f.trimmed();
    return files;
}

}  // namespace

// --- model ----------------------------------------------------------------------------------

WizardModelPage::WizardModelPage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Model"));
    setSubTitle(
        tr("The multi-head attention model (a Hugging Face folder of a supported family) to "
           "convert."));
    m_folder = new QLineEdit(this);
    m_folder->setObjectName(QStringLiteral("modelFolderEdit"));
    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Model folder"), pathRow(m_folder, BrowseFor::Folder));
    form->addRow(m_summary);
    connect(m_folder, &QLineEdit::textChanged, this, &WizardModelPage::describe);
}

void WizardModelPage::initializePage() {
    if (m_folder->text().isEmpty()) m_folder->setText(m_wizard->plan().modelFolder);
    describe();
}

void WizardModelPage::describe() {
    m_valid = false;
    const QString folder = m_folder->text().trimmed();
    if (folder.isEmpty()) {
        m_summary->setText(tr("Choose a model folder."));
    } else {
        try {
            const ModelConfig c = ModelConfig::fromFile(
                QFile::encodeName(QDir(folder).filePath(QStringLiteral("config.json")))
                    .toStdString());
            m_valid = c.isMha();
            m_summary->setText(
                c.isMha()
                    ? tr("%6: %1 layers, %2 heads of dimension %3, %4 M parameters. KV cache: "
                         "%5 per token.")
                          .arg(c.numLayers)
                          .arg(c.numHeads)
                          .arg(c.headDim)
                          .arg(double(c.parameterCount()) / 1e6, 0, 'f', 2)
                          .arg(formatBytes(
                              double(c.kvCacheBytesPerToken(c.numKvHeads, dtypeSize(c.dtype)))))
                          .arg(QString::fromStdString(c.traits().architecture))
                    : tr("This model already uses grouped-query attention (%1 KV heads for %2 "
                         "heads); choose a multi-head attention model.")
                          .arg(c.numKvHeads)
                          .arg(c.numHeads));
            m_wizard->plan().heads = int(c.numHeads);
        } catch (const std::exception& e) {
            m_summary->setText(QString::fromLocal8Bit(e.what()));
        }
    }
    Q_EMIT completeChanged();
}

bool WizardModelPage::isComplete() const { return m_valid; }

bool WizardModelPage::validatePage() {
    m_wizard->plan().modelFolder = QDir::cleanPath(m_folder->text().trimmed());
    return m_valid;
}

// --- calibration data -------------------------------------------------------------------------

WizardDataPage::WizardDataPage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Calibration data"));
    setSubTitle(
        tr("Text whose attention statistics decide which heads share a KV head, and the "
           "folder that will hold this run (run file, checkpoints, the exported model)."));
    m_calibration = new QLineEdit(this);
    m_calibration->setObjectName(QStringLiteral("calibrationEdit"));
    m_calibration->setToolTip(tr(".txt or .jsonl files, separated by ';'"));
    m_sequences = new QSpinBox(this);
    m_sequences->setObjectName(QStringLiteral("calibrationSequencesSpin"));
    m_sequences->setRange(1, 4096);
    m_sequences->setValue(HeadAnalysisRequest::kDefaultSequences);
    m_output = new QLineEdit(this);
    m_output->setObjectName(QStringLiteral("outputEdit"));
    auto* form = new QFormLayout(this);
    form->addRow(tr("Calibration text"), pathRow(m_calibration, BrowseFor::Files,
                                                 tr("Text (*.txt *.jsonl);;All files (*)")));
    form->addRow(tr("Sequences"), m_sequences);
    form->addRow(tr("Run folder"), pathRow(m_output, BrowseFor::Folder));
    connect(m_calibration, &QLineEdit::textChanged, this, &QWizardPage::completeChanged);
    connect(m_output, &QLineEdit::textChanged, this, &QWizardPage::completeChanged);
}

void WizardDataPage::initializePage() {
    if (m_calibration->text().isEmpty()) m_calibration->setText(defaultCalibrationText());
    if (m_output->text().isEmpty()) {
        const QString name = QFileInfo(m_wizard->plan().modelFolder).fileName();
        m_output->setText(
            QDir(QDir::homePath())
                .filePath(QStringLiteral("GQA Studio runs/") + name + QStringLiteral("-gqa")));
    }
}

bool WizardDataPage::isComplete() const {
    const QStringList files = splitFiles(m_calibration->text());
    if (files.isEmpty() || m_output->text().trimmed().isEmpty()) return false;
    for (const QString& f : files)
        if (!QFileInfo::exists(f)) return false;
    return true;
}

bool WizardDataPage::validatePage() {
    ConversionPlan& plan = m_wizard->plan();
    plan.calibrationFiles = splitFiles(m_calibration->text());
    plan.calibrationSequences = m_sequences->value();
    plan.outputFolder = QDir::cleanPath(m_output->text().trimmed());
    return QDir().mkpath(plan.outputFolder);
}

// --- calibrate ---------------------------------------------------------------------------------

WizardCalibratePage::WizardCalibratePage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Calibrate"));
    setSubTitle(
        tr("Runs the model on the calibration text, collects the key and value "
           "statistics of every head and measures how similar the heads are."));
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("calibrationProgress"));
    m_progress->setRange(0, 1000);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_retry = new QPushButton(tr("Start again"), this);
    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(m_retry);
    buttons->addWidget(m_cancel);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addLayout(buttons);
    layout->addStretch();
    HeadAnalysisTask* task = wizard->analysisTask();
    connect(m_cancel, &QPushButton::clicked, task, &HeadAnalysisTask::cancel);
    connect(m_retry, &QPushButton::clicked, this, &WizardCalibratePage::start);
    connect(task, &HeadAnalysisTask::progress, this, [this](double f, const QString& stage) {
        m_progress->setValue(int(f * 1000));
        m_status->setText(stage);
    });
    connect(task, &HeadAnalysisTask::resultReady, this, &WizardCalibratePage::finish);
    connect(task, &HeadAnalysisTask::failed, this, [this](const QString& message) {
        m_status->setText(tr("Calibration failed: %1").arg(message));
    });
    connect(task, &HeadAnalysisTask::cancelled, this,
            [this] { m_status->setText(tr("Cancelled. Start again, or go back.")); });
    connect(task, &HeadAnalysisTask::finished, this, [this] {
        m_cancel->setEnabled(false);
        m_retry->setEnabled(!m_done);
    });
}

void WizardCalibratePage::initializePage() { start(); }

void WizardCalibratePage::start() {
    m_done = false;
    Q_EMIT completeChanged();
    const ConversionPlan& plan = m_wizard->plan();
    HeadAnalysisRequest request;
    request.modelFolder = plan.modelFolder;
    request.inputFiles = plan.calibrationFiles;
    request.sequences = plan.calibrationSequences;
    // The run's own file: the training's preparation finds these statistics there again.
    request.runFile = QString::fromStdString(
        RunFolder(QFile::encodeName(plan.outputFolder).toStdString()).runFile());
    m_progress->setValue(0);
    m_status->setText(tr("Starting…"));
    m_cancel->setEnabled(true);
    m_retry->setEnabled(false);
    m_wizard->analysisTask()->start(request);
}

void WizardCalibratePage::finish(const HeadAnalysisData& data) {
    m_wizard->plan().analysis = data;
    m_done = true;
    m_progress->setValue(1000);
    QString text = data.reusedCalibration
                       ? tr("Reused the calibration stored in %1.").arg(data.runFile)
                       : tr("Calibrated on %1 tokens.").arg(data.tokens);
    if (!data.warnings.isEmpty()) text += QLatin1Char('\n') + data.warnings.join(QLatin1Char('\n'));
    m_status->setText(text);
    Q_EMIT completeChanged();
}

void WizardCalibratePage::cleanupPage() {
    if (m_wizard->analysisTask()->isRunning()) m_wizard->analysisTask()->cancel();
}

bool WizardCalibratePage::isComplete() const { return m_done; }

// --- analyse and choose G ------------------------------------------------------------------------

WizardGroupingPage::WizardGroupingPage(ConversionWizard* wizard) : m_wizard(wizard) {
    setTitle(tr("Choose G and the grouping"));
    setSubTitle(
        tr("G is the number of KV heads per layer after the conversion. The predicted "
           "merge cost is the share of key/value signal lost when each group's heads are "
           "merged (0 = free, 1 = all lost), averaged over layers."));
    m_table = new QTableWidget(0, 5, this);
    m_table->setObjectName(QStringLiteral("groupingTable"));
    m_table->setHorizontalHeaderLabels({tr("G"), tr("KV cache"), tr("cost: aligned"),
                                        tr("cost: least squares"), tr("cost: mean-pool")});
    m_table->horizontalHeaderItem(2)->setToolTip(tr("similar heads grouped, aligned, averaged"));
    m_table->horizontalHeaderItem(3)->setToolTip(
        tr("aligned and averaged, each query head's projections refitted (docs/method.md §7.2)"));
    m_table->horizontalHeaderItem(4)->setToolTip(tr("consecutive heads averaged (the baseline)"));
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_groups = new QComboBox(this);
    m_groups->setObjectName(QStringLiteral("groupsCombo"));
    m_grouping = new QComboBox(this);
    m_grouping->setObjectName(QStringLiteral("groupingCombo"));
    fillTrainingStarts(m_grouping);
    auto* form = new QFormLayout;
    form->addRow(tr("KV heads (G)"), m_groups);
    form->addRow(tr("Start from"), m_grouping);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_table);
    layout->addLayout(form);
    connect(m_table, &QTableWidget::currentCellChanged, this,
            [this](int row) { m_groups->setCurrentIndex(row); });
}

void WizardGroupingPage::initializePage() {
    const HeadAnalysisData& a = m_wizard->plan().analysis;
    m_groups->clear();
    m_table->setRowCount(0);
    for (int g : a.groupCounts) {
        if (g >= a.heads) continue;
        const GroupingData* data = a.precomputed(g, a.driver);
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        auto cell = [&](int column, const QString& text) {
            m_table->setItem(row, column, new QTableWidgetItem(text));
        };
        cell(0, QString::number(g));
        cell(1, tr("%1% of MHA").arg(100.0 * g / a.heads, 0, 'f', 1));
        cell(2, data ? QString::number(data->meanAlignedCost(), 'f', 3) : tr("n/a"));
        cell(3, data ? QString::number(data->meanLeastSquaresCost(), 'f', 3) : tr("n/a"));
        cell(4, data ? QString::number(data->meanBaselineCost(), 'f', 3) : tr("n/a"));
        m_groups->addItem(QString::number(g), g);
    }
    // A middle G is a sensible start: half the KV heads when possible.
    const int half = m_groups->findData(a.heads / 2);
    m_groups->setCurrentIndex(half >= 0 ? half : 0);
}

bool WizardGroupingPage::validatePage() {
    if (m_groups->currentIndex() < 0) return false;
    TrainingSettings& s = m_wizard->plan().settings;
    s.groups = m_groups->currentData().toInt();
    s.start = selectedTrainingStart(m_grouping);
    return true;
}

}  // namespace gqa
