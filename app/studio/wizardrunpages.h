// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The last four pages of the ConversionWizard: training settings with a memory and time estimate
// (conversionestimate.h), the run (TrainingRunner: progress, Pause/Resume; Back pauses with a
// checkpoint and entering the page again resumes), the evaluation (EvaluationTask: held-out
// perplexity and KV-cache bytes per token of the original and the exported model) and the export
// (folder, verification, Open Folder).

#include <atomic>
#include <memory>

#include <QWizardPage>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QThread;
class QTimer;

namespace gqa {

class ConversionWizard;

class WizardSettingsPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardSettingsPage(ConversionWizard* wizard);
    void initializePage() override;
    bool isComplete() const override;
    bool validatePage() override;

private:
    void updateEstimate();

    ConversionWizard* m_wizard;
    QComboBox* m_scheme = nullptr;
    QSpinBox* m_steps = nullptr;
    QDoubleSpinBox* m_learningRate = nullptr;
    QSpinBox* m_batch = nullptr;
    QSpinBox* m_seqLen = nullptr;
    QLineEdit* m_teacher = nullptr;
    QLineEdit* m_train = nullptr;
    QLineEdit* m_heldOut = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_dtype = nullptr;
    QLabel* m_estimate = nullptr;
};

class WizardTrainPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardTrainPage(ConversionWizard* wizard);
    void initializePage() override;
    /// Back: pauses the run (checkpoint).
    void cleanupPage() override;
    bool isComplete() const override;

private:
    void start();
    void togglePause();

    ConversionWizard* m_wizard;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_loss = nullptr;
    QPushButton* m_pause = nullptr;
    QTimer* m_drain = nullptr;
    bool m_done = false;
};

class WizardEvaluatePage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardEvaluatePage(ConversionWizard* wizard);
    void initializePage() override;
    void cleanupPage() override;
    bool isComplete() const override;

private:
    ConversionWizard* m_wizard;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QTableWidget* m_table = nullptr;
    QPushButton* m_cancel = nullptr;
    bool m_done = false;
};

/// Also offers "Write Report" (app/report: runreport.h): the report's data are gathered on a
/// worker thread, then report.html/.pdf are drawn and written into the run folder.
class WizardExportPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardExportPage(ConversionWizard* wizard);
    /// Stops and waits for a report still being gathered.
    ~WizardExportPage() override;
    void initializePage() override;
    /// True while a report is being gathered or written.
    bool isWritingReport() const { return m_reportThread != nullptr; }

private:
    void startReport();

    ConversionWizard* m_wizard;
    QLabel* m_summary = nullptr;
    QPushButton* m_open = nullptr;
    QPushButton* m_report = nullptr;
    QLabel* m_reportStatus = nullptr;
    QThread* m_reportThread = nullptr;
    std::shared_ptr<std::atomic_bool> m_stopReport;
};

}  // namespace gqa
