// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The last four pages of the ConversionWizard: training settings with a memory and time estimate
// (conversionestimate.h), the run (TrainingRunner: progress, Pause/Resume; Back pauses with a
// checkpoint and entering the page again resumes), the evaluation (EvaluationTask: held-out
// perplexity and KV-cache bytes per token of the original and the exported model) and the export
// (folder, verification, Open Folder).

#include <QWizardPage>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTimer;

namespace gqa {

class ConversionWizard;
class TrainingSettingsForm;
class ReportTask;

class WizardSettingsPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardSettingsPage(ConversionWizard* wizard);
    void initializePage() override;
    bool isComplete() const override;
    bool validatePage() override;

private:
    void updateEstimate();
    /// Shown when the held-out text is also training or calibration text.
    void updateHeldOutWarning();
    QStringList trainingAndCalibrationFiles() const;

    ConversionWizard* m_wizard;
    TrainingSettingsForm* m_form = nullptr;  ///< the Training tab's form too
    QLineEdit* m_teacher = nullptr;
    QLineEdit* m_train = nullptr;
    QLineEdit* m_heldOut = nullptr;
    QLabel* m_heldOutWarning = nullptr;
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

/// Also offers "Write Report" (a ReportTask: report.html/.pdf into the run folder); the button
/// cancels the report while it is being gathered.
class WizardExportPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardExportPage(ConversionWizard* wizard);
    void initializePage() override;
    /// True while a report is being gathered or written.
    bool isWritingReport() const;

private:
    void startReport();
    void connectReportTask();

    ConversionWizard* m_wizard;
    QLabel* m_summary = nullptr;
    QPushButton* m_open = nullptr;
    QPushButton* m_report = nullptr;
    QLabel* m_reportStatus = nullptr;
    ReportTask* m_reportTask = nullptr;
};

}  // namespace gqa
