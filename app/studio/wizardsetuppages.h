// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The first four pages of the ConversionWizard: choose the model, the calibration data and the
// run folder, calibrate + analyse (HeadAnalysisTask, with progress and Cancel), then choose G and
// the grouping from the analysis' predicted merge costs. Each page writes its choices into the
// wizard's ConversionPlan in validatePage().

#include <QWizardPage>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace gqa {

class ConversionWizard;
struct HeadAnalysisData;

class WizardModelPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardModelPage(ConversionWizard* wizard);
    void initializePage() override;
    bool isComplete() const override;
    bool validatePage() override;

private:
    void describe();

    ConversionWizard* m_wizard;
    QLineEdit* m_folder = nullptr;
    QLabel* m_summary = nullptr;
    bool m_valid = false;
};

class WizardDataPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardDataPage(ConversionWizard* wizard);
    void initializePage() override;
    bool isComplete() const override;
    bool validatePage() override;

private:
    ConversionWizard* m_wizard;
    QLineEdit* m_calibration = nullptr;
    QSpinBox* m_sequences = nullptr;
    QLineEdit* m_output = nullptr;
};

class WizardCalibratePage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardCalibratePage(ConversionWizard* wizard);
    void initializePage() override;
    /// Back: cancels a running calibration.
    void cleanupPage() override;
    bool isComplete() const override;

private:
    void start();
    void finish(const HeadAnalysisData& data);

    ConversionWizard* m_wizard;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QPushButton* m_cancel = nullptr;
    QPushButton* m_retry = nullptr;
    bool m_done = false;
};

class WizardGroupingPage : public QWizardPage {
    Q_OBJECT
public:
    explicit WizardGroupingPage(ConversionWizard* wizard);
    void initializePage() override;
    bool validatePage() override;

private:
    ConversionWizard* m_wizard;
    QTableWidget* m_table = nullptr;
    QComboBox* m_groups = nullptr;
    QComboBox* m_grouping = nullptr;
};

}  // namespace gqa
