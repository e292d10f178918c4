// SPDX-License-Identifier: GPL-3.0-or-later
#include "conversionwizard.h"

#include <QMessageBox>

#include "headanalysistask.h"
#include "wizardrunpages.h"
#include "wizardsetuppages.h"

namespace gqa {

ConversionWizard::ConversionWizard(const QString& modelFolder, QWidget* parent) : QWizard(parent) {
    setObjectName(QStringLiteral("conversionWizard"));
    setWindowTitle(tr("Convert to GQA"));
    setWizardStyle(QWizard::ModernStyle);
    setOption(QWizard::NoBackButtonOnLastPage);
    m_plan.modelFolder = modelFolder;
    m_analysis = new HeadAnalysisTask(this);
    m_runner = new TrainingRunner(this);
    m_evaluation = new EvaluationTask(this);
    setPage(ModelPageId, new WizardModelPage(this));
    setPage(DataPageId, new WizardDataPage(this));
    setPage(CalibratePageId, new WizardCalibratePage(this));
    setPage(GroupingPageId, new WizardGroupingPage(this));
    setPage(SettingsPageId, new WizardSettingsPage(this));
    setPage(TrainPageId, new WizardTrainPage(this));
    setPage(EvaluatePageId, new WizardEvaluatePage(this));
    setPage(ExportPageId, new WizardExportPage(this));
    setStartId(ModelPageId);
    resize(760, 600);
    m_confirmClose = [this] {
        return QMessageBox::question(this, tr("Training is running"),
                                     tr("The conversion is training. Pause it (a checkpoint is "
                                        "written; the same output folder resumes it) and close "
                                        "the wizard?")) == QMessageBox::Yes;
    };
}

ConversionWizard::~ConversionWizard() { stopWork(); }

bool ConversionWizard::isBusy() const {
    return m_analysis->isRunning() || m_runner->isRunning() || m_evaluation->isRunning();
}

void ConversionWizard::stopWork() {
    if (m_runner->isRunning()) {
        m_runner->pause();
        m_runner->wait(-1);
    }
    if (m_analysis->isRunning()) {
        m_analysis->cancel();
        m_analysis->waitForWorker();
    }
    if (m_evaluation->isRunning()) {
        m_evaluation->cancel();
        m_evaluation->wait(-1);
    }
}

void ConversionWizard::reject() {
    if (m_runner->isRunning() && m_confirmClose && !m_confirmClose()) return;
    stopWork();
    QWizard::reject();
}

}  // namespace gqa
