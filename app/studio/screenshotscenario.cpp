// SPDX-License-Identifier: GPL-3.0-or-later
#include "screenshotscenario.h"

#include <memory>

#include <QTabWidget>

#include "groupingpane.h"
#include "headanalysistask.h"
#include "mainwindow.h"
#include "similaritypanel.h"
#include "gateheatmap.h"
#include "trainingpanel.h"

#include <QLabel>

namespace gqa {
namespace {
QString plainTitle(QString text) { return text.remove(QLatin1Char('&')).trimmed(); }
}  // namespace

bool selectTab(MainWindow& window, const QString& name) {
    QTabWidget* tabs = window.tabs();
    for (int i = 0; i < tabs->count(); ++i)
        if (plainTitle(tabs->tabText(i)).compare(name.trimmed(), Qt::CaseInsensitive) == 0) {
            tabs->setCurrentIndex(i);
            return true;
        }
    return false;
}

void prepareScenario(MainWindow& window, const ScreenshotScenario& scenario,
                     const std::function<void()>& ready,
                     const std::function<void(const QString&)>& failed) {
    if (!scenario.tab.isEmpty() && !selectTab(window, scenario.tab)) {
        QStringList names;
        for (int i = 0; i < window.tabs()->count(); ++i)
            names << plainTitle(window.tabs()->tabText(i)).toLower();
        failed(QStringLiteral("no tab '%1' (tabs: %2)")
                   .arg(scenario.tab, names.join(QStringLiteral(", "))));
        return;
    }
    if (scenario.trainSteps > 0) {
        TrainingPanel* training = window.trainingPanel();
        training->setRunLength(scenario.trainSteps, 2, 128);
        // A screenshot run replaces an earlier screenshot run in the same folder, unasked.
        training->setExistingRunChooser(
            [](const QString&) { return TrainingPanel::ExistingRunChoice::Overwrite; });
        // At the end every gate is 0; a quarter into the run shows them closing.
        QObject::connect(
            training, &TrainingPanel::runFinished, training,
            [training] {
                GateHeatmap* gates = training->gateHeatmap();
                gates->showEntry(gates->entryCount() / 4);
            },
            Qt::SingleShotConnection);
        QObject::connect(training, &TrainingPanel::runFinished, training, ready,
                         Qt::SingleShotConnection);
        QObject::connect(training->runner(), &TrainingRunner::failed, training,
                         [failed](const QString& message) {
                             failed(QStringLiteral("training failed: ") + message);
                         });
        QObject::connect(training->runner(), &TrainingRunner::finished, training,
                         [training, failed] {
                             if (training->statusLabel()->text().startsWith(QStringLiteral("No ")))
                                 failed(training->statusLabel()->text());
                         });
        training->startRun();
        if (!training->isRunning()) failed(training->statusLabel()->text());
        return;
    }
    if (!scenario.analyse) {
        ready();
        return;
    }
    SimilarityPanel* panel = window.similarityPanel();
    if (panel->modelFolder().isEmpty()) {
        failed(QStringLiteral("--analyse needs a model folder"));
        return;
    }
    HeadAnalysisRequest request = panel->defaultRequest();
    if (!scenario.calibrationText.isEmpty()) request.inputFiles = scenario.calibrationText;
    if (request.inputFiles.isEmpty()) {
        failed(QStringLiteral(
            "--analyse: no calibration text found (emma.txt in share/gqa-studio/text "
            "or data/corpus/text); give --calibration-text FILE"));
        return;
    }
    auto connection = std::make_shared<QMetaObject::Connection>();
    *connection = QObject::connect(panel->task(), &HeadAnalysisTask::failed, panel,
                                   [failed](const QString& message) {
                                       failed(QStringLiteral("analysis failed: ") + message);
                                   });
    QObject::connect(
        panel, &SimilarityPanel::analysisFinished, panel,
        [panel, ready, connection](bool succeeded) {
            QObject::disconnect(*connection);
            if (!succeeded) return;  // `failed` was told
            GroupingPane* grouping = panel->groupingPane();
            if (!grouping->isComputing()) {
                ready();
                return;
            }
            QObject::connect(grouping, &GroupingPane::idle, panel, ready, Qt::SingleShotConnection);
        },
        Qt::SingleShotConnection);
    panel->startAnalysis(request);
}

}  // namespace gqa
