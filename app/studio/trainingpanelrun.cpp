// SPDX-License-Identifier: GPL-3.0-or-later
// The Training tab's run lifecycle: start (with the question about a run already in the output
// folder), pause, end a paused run, and the held-out comparison after a finished run. The form
// and the plots are in trainingpanel.cpp.
#include <cmath>
#include <exception>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>

#include "evaluationtask.h"
#include "runfile/runfolder.h"
#include "trainingpanel.h"
#include "trainingstartchoice.h"

namespace gqa {

// --- the held-out comparison after a run (one perplexity definition: modelcomparison.h) --------

void TrainingPanel::connectEvaluation() {
    m_evaluation = new EvaluationTask(this);
    connect(m_evaluation, &EvaluationTask::started, this, [this] {
        m_pauseButton->setText(tr("Stop Measuring"));
        m_pauseButton->setEnabled(true);
    });
    connect(m_evaluation, &EvaluationTask::progress, this, [this](double f, const QString&) {
        if (m_state != RunState::Finished) return;  // a new run has the status line
        m_status->setText(m_finishedText + QLatin1Char('\n') +
                          tr("Measuring held-out perplexity of both models… %1%")
                              .arg(int(std::lround(100.0 * f))));
    });
    connect(m_evaluation, &EvaluationTask::resultReady, this, [this](const EvaluationResult& r) {
        if (m_state != RunState::Finished) return;
        m_status->setText(m_finishedText + QLatin1Char('\n') +
                          tr("Held-out perplexity: converted %1, original %2 (%3).")
                              .arg(r.exported.perplexity, 0, 'f', 2)
                              .arg(r.original.perplexity, 0, 'f', 2)
                              .arg(r.protocol));
    });
    connect(m_evaluation, &EvaluationTask::failed, this, [this](const QString& message) {
        if (m_state == RunState::Finished)
            m_status->setText(m_finishedText + QLatin1Char('\n') +
                              tr("Held-out perplexity not measured: %1").arg(message));
    });
    connect(m_evaluation, &EvaluationTask::cancelled, this, [this] {
        if (m_state == RunState::Finished)
            m_status->setText(m_finishedText + QLatin1Char('\n') +
                              tr("Held-out perplexity not measured (stopped)."));
    });
    connect(m_evaluation, &EvaluationTask::finished, this, [this] { setState(m_state); });
}

void TrainingPanel::measureHeldOut(const TrainingOutcome& o) {
    const TrainingSettings s = settings();
    if (s.validationFile.isEmpty() || o.exportFolder.isEmpty()) return;
    EvaluationRequest request;
    request.originalFolder = s.modelFolder;
    request.exportFolder = o.exportFolder;
    request.textFile = s.validationFile;
    request.device = s.device;
    m_evaluation->start(request);
}

void TrainingPanel::startRun() {
    if (m_runner->isRunning() || m_modelFolder.isEmpty()) return;
    if (m_evaluation->isRunning()) m_evaluation->cancel();  // the last run's measurement
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

}  // namespace gqa
