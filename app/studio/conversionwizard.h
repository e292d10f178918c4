// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The guided conversion (File › Convert…): a QWizard that walks through
//   model -> calibration data -> calibrate -> analyse and choose G -> training settings
//   -> train -> evaluate -> export.
// It computes nothing itself: calibration and analysis run through HeadAnalysisTask, the run
// through TrainingRunner (TrainingSettings), the evaluation through EvaluationTask; the pages
// (wizardsetuppages.h, wizardrunpages.h) share one ConversionPlan that each page fills in
// validatePage(). Leaving a running page with Back, or closing the wizard, pauses the training
// (the core writes a checkpoint; entering the Train page again resumes it) and cancels the
// calibration or evaluation, so nothing already computed is lost.

#include <functional>

#include <QString>
#include <QStringList>
#include <QWizard>

#include "evaluationtask.h"
#include "headanalysisdata.h"
#include "trainingrunner.h"

namespace gqa {

class HeadAnalysisTask;

/// What the pages decided and what the tasks returned so far.
struct ConversionPlan {
    QString modelFolder;
    int heads = 0;
    QStringList calibrationFiles;
    int calibrationSequences = 32;
    QString outputFolder;  ///< run.h5, aligned model, checkpoint and export go here
    HeadAnalysisData analysis;
    TrainingSettings settings;
    TrainingOutcome outcome;
    EvaluationResult evaluation;
};

class ConversionWizard : public QWizard {
    Q_OBJECT
public:
    enum PageId {
        ModelPageId,
        DataPageId,
        CalibratePageId,
        GroupingPageId,
        SettingsPageId,
        TrainPageId,
        EvaluatePageId,
        ExportPageId
    };

    explicit ConversionWizard(const QString& modelFolder = {}, QWidget* parent = nullptr);
    ~ConversionWizard() override;

    ConversionPlan& plan() { return m_plan; }
    HeadAnalysisTask* analysisTask() const { return m_analysis; }
    TrainingRunner* runner() const { return m_runner; }
    EvaluationTask* evaluationTask() const { return m_evaluation; }
    /// True while any of the three tasks has a worker running.
    bool isBusy() const;
    /// Pauses training (checkpoint), cancels the other tasks and waits for their workers.
    void stopWork();
    /// Asked before Cancel stops a training run; true closes. Default: a message box. Tests
    /// answer for the user.
    void setCloseConfirmer(std::function<bool()> confirmer) {
        m_confirmClose = std::move(confirmer);
    }

public Q_SLOTS:
    /// Cancel / Escape / the close button: while training runs, asks first; then stops the work
    /// (see stopWork) and closes.
    void reject() override;

private:
    ConversionPlan m_plan;
    std::function<bool()> m_confirmClose;
    HeadAnalysisTask* m_analysis = nullptr;
    TrainingRunner* m_runner = nullptr;
    EvaluationTask* m_evaluation = nullptr;
};

}  // namespace gqa
