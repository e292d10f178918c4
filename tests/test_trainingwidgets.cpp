// SPDX-License-Identifier: GPL-3.0-or-later
// The training side of the studio: the metric hand-over buffer, the live plot's smoothing and
// volume, the gate heatmap's history slider and its image/CSV export, and the training facade on
// a tiny real run: it delivers progress and a verified export, pause stops the worker with a
// checkpoint, and the GUI thread stays responsive (event-loop latency measured while the worker
// trains).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QMenu>
#include <QSignalSpy>
#include <QSlider>
#include <QTimer>
#include <gtest/gtest.h>
#include <qcustomplot.h>

#include "gateheatmap.h"
#include "liveplot.h"
#include "mainwindow.h"
#include "metricbuffer.h"
#include "testsupport.h"
#include "tinyrunfolder.h"
#include "evaluationtask.h"
#include "trainingpanel.h"
#include "trainingrunner.h"
#include "trainingsettingsform.h"
#include "io/tensorconvert.h"
#include "training/conversiontraining.h"

namespace gqa {
namespace {

constexpr int kMaxEventLoopLatencyMs = 100;  // the bound for a responsive window

TEST(MetricBuffer, HandsOverEverySampleInOrderAcrossThreads) {
    MetricBuffer buffer;
    std::thread worker([&] {
        for (int i = 1; i <= 1000; ++i) buffer.append({double(i), {{"loss", 1.0 / i}}, {}});
    });
    std::vector<TrainingSample> all;
    while (all.size() < 1000) {
        for (auto& s : buffer.take()) all.push_back(std::move(s));
        std::this_thread::yield();
    }
    worker.join();
    ASSERT_EQ(all.size(), 1000u);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(all[std::size_t(i)].step, double(i + 1));
    EXPECT_TRUE(buffer.take().empty());
}

TEST(LivePlot, SmoothsWithAnExponentialMovingAverage) {
    LivePlot plot(QStringLiteral("loss"));
    plot.addSeries(QStringLiteral("loss"), Qt::blue, false, QStringLiteral("total loss"));
    EXPECT_EQ(plot.legendLabel(QStringLiteral("loss")), QStringLiteral("total loss"));
    plot.setSmoothing(0.5);
    // Three points are too few for any window (a tenth of the run): drawn as they are.
    plot.append(QStringLiteral("loss"), {1, 2, 3}, {4.0, 2.0, 0.0});
    EXPECT_EQ(plot.smoothedValues(QStringLiteral("loss")), (QVector<double>{4.0, 2.0, 0.0}));
    // At 20 points a window of 2 updates (weight 0.5) fits: the whole curve is redrawn with it.
    QVector<double> x, y;
    for (int i = 4; i <= 20; ++i) x << i, y << 4.0;
    plot.append(QStringLiteral("loss"), x, y);
    QVector<double> smoothed = plot.smoothedValues(QStringLiteral("loss"));
    ASSERT_EQ(smoothed.size(), 20);
    EXPECT_EQ(smoothed.mid(0, 4), (QVector<double>{4.0, 3.0, 1.5, 2.75}));
    plot.setSmoothing(0.0);  // recomputed from the raw values
    EXPECT_EQ(plot.smoothedValues(QStringLiteral("loss")).mid(0, 3),
              (QVector<double>{4.0, 2.0, 0.0}));
    // The default 0.90 (a 10-update window) is capped on a 30-update run to 3 updates.
    plot.setSmoothing(0.9);
    EXPECT_NEAR(plot.effectiveSmoothing(30), 1.0 - 1.0 / 3.0, 1e-12);
    EXPECT_DOUBLE_EQ(plot.effectiveSmoothing(1000), 0.9);
    plot.append(QStringLiteral("unknown"), {1}, {1.0});  // ignored, no crash
    EXPECT_EQ(plot.pointCount(QStringLiteral("unknown")), 0);
}

// Legend labels are never cut: two per row when they fit the plot's width, else one.
TEST(LivePlot, LegendTakesOneColumnWhenTwoLabelsDoNotFit) {
    LivePlot plot(QStringLiteral("sparsity"));
    plot.addSeries(QStringLiteral("a"), Qt::blue, false, QStringLiteral("expected sparsity"));
    plot.addSeries(QStringLiteral("b"), Qt::red, false, QStringLiteral("target sparsity"));
    plot.resize(250, 200);
    plot.show();
    QApplication::processEvents();
    EXPECT_EQ(plot.plot()->legend->wrap(), 1);
    plot.resize(800, 300);
    QApplication::processEvents();
    EXPECT_EQ(plot.plot()->legend->wrap(), 2);
}

// Hovering names the update and every series' raw and smoothed value there.
TEST(LivePlot, TooltipShowsTheValuesAtTheUpdateUnderThePointer) {
    LivePlot plot(QStringLiteral("loss"));
    plot.addSeries(QStringLiteral("loss"), Qt::blue, false, QStringLiteral("total loss"));
    plot.setSmoothing(0.0);
    EXPECT_TRUE(plot.pointText(5).isEmpty());
    plot.append(QStringLiteral("loss"), {1, 2, 3}, {4.0, 2.5, 1.0});
    EXPECT_TRUE(plot.pointText(0.5).isEmpty());  // before the first update
    EXPECT_EQ(plot.pointText(2.4), QStringLiteral("update 2 — total loss 2.5 (smoothed 2.5)"));
    EXPECT_EQ(plot.pointText(99), QStringLiteral("update 3 — total loss 1 (smoothed 1)"));
}

TEST(LivePlot, TakesAHundredThousandPointsAndSavesThem) {
    LivePlot plot(QStringLiteral("loss"));
    plot.addSeries(QStringLiteral("loss"), Qt::blue);
    plot.resize(600, 400);
    QVector<double> x, y;
    for (int i = 0; i < 100000; ++i) {
        x << i;
        y << std::sin(i * 0.001);
    }
    plot.append(QStringLiteral("loss"), x, y);
    plot.refresh();
    EXPECT_EQ(plot.pointCount(QStringLiteral("loss")), 100000);
    const std::string folder = test::scratchFolder("liveplot");
    const QString png = QString::fromStdString(folder + "/plot.png");
    const QString csv = QString::fromStdString(folder + "/plot.csv");
    EXPECT_TRUE(plot.saveImage(png));
    EXPECT_TRUE(plot.saveCsv(csv));
    EXPECT_GT(std::filesystem::file_size(png.toStdString()), 1000u);
    std::ifstream in(csv.toStdString());
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    EXPECT_EQ(lines, 100001);
}

TEST(GateHeatmap, FollowsNewUpdatesUnlessScrubbedBack) {
    GateHeatmap map;
    map.setShape(2, 3);
    map.appendGates(1, {1, 1, 1, 1, 1, 1});
    map.appendGates(2, {0.5, 1, 1, 1, 1, 0.25});
    EXPECT_EQ(map.shownEntry(), 1);
    EXPECT_DOUBLE_EQ(map.shownValue(1, 2), 0.25);
    map.showEntry(0);
    map.appendGates(3, {0, 0, 0, 0, 0, 0});
    EXPECT_EQ(map.entryCount(), 3);
    EXPECT_EQ(map.shownEntry(), 0);  // stays where the user put it
    EXPECT_DOUBLE_EQ(map.shownValue(1, 2), 1.0);
    map.showEntry(2);
    map.appendGates(4, {0, 0, 0, 0, 0, 0});
    EXPECT_EQ(map.shownEntry(), 3);  // at the end again: follows
    map.appendGates(5, {1, 2});      // wrong size: ignored
    EXPECT_EQ(map.entryCount(), 4);
}

// Before the first update the map was solid black, which reads as "every gate merged".
TEST(GateHeatmap, IsEmptyBeforeTheFirstUpdate) {
    GateHeatmap map;
    map.resize(300, 300);
    map.setShape(2, 4);
    map.show();
    map.plot()->replot();
    const QImage image = map.plot()->toPixmap().toImage();
    const QPoint centre = map.plot()->axisRect()->rect().center();
    EXPECT_EQ(QColor(image.pixel(centre)), QColor(Qt::white));
    map.appendGates(1, std::vector<double>(8, 0.0));
    map.plot()->replot();
    EXPECT_NE(QColor(map.plot()->toPixmap().toImage().pixel(centre)), QColor(Qt::white));
}

TEST(GateHeatmap, SavesTheShownUpdateAsImageAndCsvFromItsContextMenu) {
    GateHeatmap map;
    map.resize(420, 320);
    map.show();  // laid out: the saved image has the widget's size
    EXPECT_EQ(map.toCsv(), QStringLiteral("update,layer\n"));  // no shape, nothing shown
    map.setShape(2, 3);
    EXPECT_EQ(map.toCsv(), QStringLiteral("update,layer,0,1,2\n"));
    map.appendGates(10, {1, 0.5, 0.25, 0, 0, 0.1});
    map.appendGates(20, {0, 0, 0, 0, 0, 0});
    map.showEntry(0);  // the CSV is the update shown, not the latest
    const QString csv = QStringLiteral("update,layer,0,1,2\n10,0,1,0.5,0.25\n10,1,0,0,0.1\n");
    EXPECT_EQ(map.toCsv(), csv);

    const std::string folder = test::scratchFolder("gateheatmap-export");
    const QString csvPath = QString::fromStdString(folder + "/gates.csv");
    const QString png = QString::fromStdString(folder + "/gates.png");
    const QString pdf = QString::fromStdString(folder + "/gates.pdf");
    ASSERT_TRUE(map.saveCsv(csvPath));
    QFile written(csvPath);
    ASSERT_TRUE(written.open(QIODevice::ReadOnly));
    EXPECT_EQ(QString::fromUtf8(written.readAll()), csv);
    ASSERT_TRUE(map.saveImage(png));
    const QImage image(png);
    EXPECT_FALSE(image.isNull());
    EXPECT_GT(image.width(), 100);
    ASSERT_TRUE(map.saveImage(pdf));
    QFile pdfFile(pdf);
    ASSERT_TRUE(pdfFile.open(QIODevice::ReadOnly));
    EXPECT_TRUE(pdfFile.read(5) == "%PDF-");
    EXPECT_FALSE(map.saveCsv(QStringLiteral("/nonexistent-folder/gates.csv")));

    // Right-click opens the same menu as the other plots (closed from a timer while it runs).
    QStringList actions;
    QTimer::singleShot(100, [&] {
        if (auto* menu = map.plot()->findChild<QMenu*>()) {
            for (const QAction* action : menu->actions()) actions << action->text();
            menu->close();
        }
    });
    Q_EMIT map.plot()->customContextMenuRequested(QPoint(20, 20));
    EXPECT_EQ(map.plot()->contextMenuPolicy(), Qt::CustomContextMenu);
    ASSERT_EQ(actions.size(), 2);
    EXPECT_TRUE(actions[0].contains(QStringLiteral("PNG or PDF")));
    EXPECT_TRUE(actions[1].contains(QStringLiteral("CSV")));
}

using test::TinyRunFolder;

/// Largest gap between ticks of a 10 ms timer while `until` is false (the GUI thread's latency).
template <class Predicate>
qint64 maxEventLoopGapWhile(Predicate running, int timeoutMs) {
    QElapsedTimer clock, total;
    clock.start();
    total.start();
    qint64 worst = 0;
    QTimer tick;
    tick.setInterval(10);
    QObject::connect(&tick, &QTimer::timeout, [&] { worst = std::max(worst, clock.restart()); });
    tick.start();
    while (running() && total.elapsed() < timeoutMs)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    return worst;
}

TEST(TrainingRunner, DeliversProgressAndAVerifiedExportWithoutBlockingTheGui) {
    const TinyRunFolder folder;
    TrainingRunner runner;
    QSignalSpy progress(&runner, &TrainingRunner::progress);
    QSignalSpy result(&runner, &TrainingRunner::resultReady);
    QSignalSpy failed(&runner, &TrainingRunner::failed);
    QSignalSpy finished(&runner, &TrainingRunner::finished);
    runner.start(folder.settings(30, test::scratchFolder("runner") + "/out"));
    std::size_t samples = 0;
    QTimer drain;
    QObject::connect(&drain, &QTimer::timeout, [&] { samples += runner.buffer().take().size(); });
    drain.start(TrainingPanel::kRedrawIntervalMs);
    const qint64 worst = maxEventLoopGapWhile([&] { return finished.isEmpty(); }, 120000);
    samples += runner.buffer().take().size();
    ASSERT_TRUE(failed.isEmpty()) << failed.front().front().toString().toStdString();
    ASSERT_EQ(result.size(), 1);
    const auto outcome = result.front().front().value<TrainingOutcome>();
    EXPECT_EQ(outcome.steps, 30);
    EXPECT_TRUE(outcome.exportVerified);
    EXPECT_EQ(samples, 30u);
    EXPECT_GE(progress.size(), 1);
    EXPECT_LT(worst, kMaxEventLoopLatencyMs);
}

TEST(TrainingRunner, PauseStopsTheWorkerWithACheckpointAndStartResumes) {
    const TinyRunFolder folder;
    const std::string output = test::scratchFolder("runner-pause") + "/out";
    TrainingRunner runner;
    QSignalSpy paused(&runner, &TrainingRunner::cancelled);
    QSignalSpy finished(&runner, &TrainingRunner::finished);
    runner.start(folder.settings(100000, output));
    std::size_t samples = 0;
    QElapsedTimer clock;
    clock.start();
    while (samples < 3 && clock.elapsed() < 60000) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        samples += runner.buffer().take().size();
    }
    ASSERT_GE(samples, 3u);
    runner.pause();
    ASSERT_TRUE(finished.wait(30000));
    EXPECT_EQ(paused.size(), 1);
    EXPECT_FALSE(runner.isRunning());
    EXPECT_TRUE(std::filesystem::exists(output + "/checkpoint/trainer_state.json"));
}

TEST(TrainingPanel, OpensTheHistoryOfARunFile) {
    const TinyRunFolder folder;
    const std::string output = test::scratchFolder("panel-run") + "/out";
    TrainingRunner runner;
    QSignalSpy finished(&runner, &TrainingRunner::finished);
    runner.start(folder.settings(8, output));
    ASSERT_TRUE(finished.wait(120000));
    TrainingPanel panel;
    EXPECT_TRUE(panel.openRun(QString::fromStdString(output + "/run.h5")).isEmpty());
    EXPECT_EQ(panel.lossPlot()->pointCount(QStringLiteral("loss")), 8);
    EXPECT_EQ(panel.gateHeatmap()->entryCount(), 8);
    EXPECT_TRUE(panel.openRun(QString::fromStdString(output + "/run.h5"), true).isEmpty());
    EXPECT_EQ(panel.lossPlot()->pointCount(QStringLiteral("loss (compared)")), 8);
    EXPECT_FALSE(panel.openRun(QStringLiteral("/nonexistent/run.h5")).isEmpty());
}

// The states of a run drive the buttons and the editable settings; the output folder is used as
// typed (it was a prefix: "runs/x" became "runs/x2-least-squares"), and a folder that holds a run
// is never started on without asking. Plots survive a start that does not happen.
TEST(TrainingPanel, RunStatesButtonsAndTheOutputFolderAsTyped) {
    using State = TrainingPanel::RunState;
    using Choice = TrainingPanel::ExistingRunChoice;
    const TinyRunFolder folder;
    const QString output = QString::fromStdString(test::scratchFolder("panel-states") + "/x");
    TrainingPanel panel;
    panel.setModel(QString::fromStdString(folder.model), 4, 2);
    EXPECT_EQ(panel.runState(), State::Idle);
    auto* start = panel.findChild<QPushButton*>(QStringLiteral("startTrainingButton"));
    auto* pause = panel.findChild<QPushButton*>(QStringLiteral("pauseTrainingButton"));
    auto* out = panel.findChild<QLineEdit*>(QStringLiteral("outputFolderEdit"));
    auto* groups = panel.findChild<QComboBox*>(QStringLiteral("kvHeadsCombo"));
    ASSERT_TRUE(start && pause && out && groups);
    // The default names the model, G and the start, and follows G until the user types.
    EXPECT_TRUE(out->text().endsWith(QStringLiteral("-gqa2-least-squares")))
        << out->text().toStdString();
    groups->setCurrentIndex(groups->findData(1));
    EXPECT_TRUE(out->text().endsWith(QStringLiteral("-gqa1-least-squares")));
    panel.setSettings(folder.settings(100000, output.toStdString()));
    out->setText(output);
    EXPECT_TRUE(start->isEnabled());
    EXPECT_FALSE(pause->isEnabled());

    panel.startRun();
    EXPECT_EQ(panel.runState(), State::Running);
    EXPECT_FALSE(start->isEnabled());
    EXPECT_TRUE(pause->isEnabled());
    EXPECT_FALSE(groups->isEnabled());
    EXPECT_FALSE(out->isEnabled());
    QElapsedTimer clock;
    clock.start();
    while (panel.lossPlot()->pointCount(QStringLiteral("loss")) < 3 && clock.elapsed() < 60000) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        panel.drainMetrics();
    }
    ASSERT_GE(panel.lossPlot()->pointCount(QStringLiteral("loss")), 3);
    panel.pauseRun();
    EXPECT_EQ(panel.runState(), State::Pausing);
    QSignalSpy finished(panel.runner(), &TrainingRunner::finished);
    ASSERT_TRUE(finished.wait(30000));
    EXPECT_EQ(panel.runState(), State::Paused);
    EXPECT_EQ(start->text(), QStringLiteral("Resume"));
    EXPECT_EQ(pause->text(), QStringLiteral("End Run"));
    EXPECT_TRUE(pause->isEnabled());
    EXPECT_FALSE(out->isEnabled());  // a paused run's settings are its own
    EXPECT_FALSE(panel.statusLabel()->text().contains(QStringLiteral("cancelled")));
    // The folder as typed, no suffix.
    EXPECT_TRUE(std::filesystem::exists(output.toStdString() + "/checkpoint/trainer_state.json"));
    const int points = panel.lossPlot()->pointCount(QStringLiteral("loss"));

    pause->click();  // End Run
    EXPECT_EQ(panel.runState(), State::Idle);
    EXPECT_EQ(start->text(), QStringLiteral("Start"));
    EXPECT_TRUE(out->isEnabled());

    // Start on the folder of that run: asked; Cancel starts nothing and keeps the plots.
    QStringList asked;
    Choice answer = Choice::Cancel;
    panel.setExistingRunChooser([&](const QString& f) {
        asked << f;
        return answer;
    });
    panel.startRun();
    EXPECT_EQ(asked, QStringList{output});
    EXPECT_FALSE(panel.isRunning());
    EXPECT_EQ(panel.runState(), State::Idle);
    EXPECT_EQ(panel.lossPlot()->pointCount(QStringLiteral("loss")), points);
    // Another Folder proposes a fresh one and waits for Start.
    answer = Choice::ChooseAnother;
    panel.startRun();
    EXPECT_EQ(out->text(), output + QStringLiteral("-2"));
    EXPECT_FALSE(panel.isRunning());
    // Overwrite deletes the old run's files and starts afresh there.
    out->setText(output);
    answer = Choice::Overwrite;
    panel.startRun();
    EXPECT_EQ(panel.runState(), State::Running);
    EXPECT_FALSE(std::filesystem::exists(output.toStdString() + "/checkpoint/trainer_state.json"));
    // Paused at once, before the first training checkpoint: nothing to resume, and the tab says
    // so instead of "Paused with a checkpoint" (what it said, while the folder held none).
    panel.pauseRun();
    ASSERT_TRUE(finished.wait(60000));
    EXPECT_FALSE(std::filesystem::exists(output.toStdString() + "/checkpoint/trainer_state.json"));
    EXPECT_EQ(panel.runState(), State::Idle);
    EXPECT_TRUE(panel.statusLabel()->text().contains(QStringLiteral("nothing to resume")))
        << panel.statusLabel()->text().toStdString();
    EXPECT_EQ(start->text(), QStringLiteral("Start"));
}

// One perplexity definition: a finished run with held-out text is scored against the original
// under the comparison protocol of the wizard and the report, both numbers shown with it; the
// validation loss on training windows is not called a perplexity.
TEST(TrainingPanel, AFinishedRunIsScoredAgainstTheOriginalUnderTheComparisonProtocol) {
    const TinyRunFolder folder;
    const QString output = QString::fromStdString(test::scratchFolder("panel-held-out") + "/run");
    TrainingPanel panel;
    panel.setModel(QString::fromStdString(folder.model), 4, 2);
    panel.setSettings(folder.settings(2, output.toStdString()));
    panel.findChild<QLineEdit*>(QStringLiteral("outputFolderEdit"))->setText(output);
    QSignalSpy measured(panel.evaluationTask(), &EvaluationTask::resultReady);
    QSignalSpy failed(panel.evaluationTask(), &EvaluationTask::failed);
    // Its end, not a time: finished() can come before or after a wait on resultReady returns,
    // and the button only changes back with it.
    QSignalSpy done(panel.evaluationTask(), &EvaluationTask::finished);
    panel.startRun();
    ASSERT_TRUE(measured.wait(120000))
        << (failed.isEmpty() ? "" : failed.front().front().toString().toStdString());
    EXPECT_EQ(panel.runState(), TrainingPanel::RunState::Finished);
    const QString status = panel.statusLabel()->text();
    EXPECT_TRUE(status.contains(QStringLiteral("final validation loss"))) << status.toStdString();
    EXPECT_TRUE(status.contains(QStringLiteral("Held-out perplexity: converted ")))
        << status.toStdString();
    EXPECT_TRUE(status.contains(QStringLiteral(", original "))) << status.toStdString();
    EXPECT_TRUE(status.contains(QStringLiteral("train.txt"))) << status.toStdString();  // protocol
    const auto result = measured.front().front().value<EvaluationResult>();
    EXPECT_GT(result.original.perplexity, 1.0);
    EXPECT_GT(result.exported.perplexity, 1.0);
    auto* pause = panel.findChild<QPushButton*>(QStringLiteral("pauseTrainingButton"));
    if (done.isEmpty()) ASSERT_TRUE(done.wait(60000));
    EXPECT_EQ(pause->text(), QStringLiteral("Pause"));
    EXPECT_FALSE(pause->isEnabled());
}

// The smoothing slider smooths the measured curves only; schedules are drawn as they are.
TEST(TrainingPanel, SmoothingLeavesTheExactCurvesAlone) {
    TrainingPanel panel;
    auto* slider = panel.findChild<QSlider*>(QStringLiteral("smoothingSlider"));
    ASSERT_NE(slider, nullptr);
    slider->setValue(50);
    EXPECT_DOUBLE_EQ(panel.lossPlot()->smoothing(), 0.5);
    EXPECT_DOUBLE_EQ(panel.sparsityPlot()->smoothing(), 0.0);
}

TEST(MainWindow, ClosingDuringARunAsksThenPausesWithACheckpoint) {
    const TinyRunFolder folder;
    MainWindow window;
    ASSERT_TRUE(window.openModelFolder(QString::fromStdString(folder.model)));
    TrainingPanel* panel = window.trainingPanel();
    const std::string output = test::scratchFolder("close-run") + "/out";
    panel->runner()->start(folder.settings(100000, output));
    int asked = 0;
    window.setCloseConfirmer([&] { return ++asked == 2; });  // "no" first, then "yes"
    QElapsedTimer clock;
    clock.start();
    while (!std::filesystem::exists(output + "/checkpoint") && clock.elapsed() < 60000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    EXPECT_FALSE(window.close());  // declined: keeps running
    EXPECT_TRUE(panel->isRunning());
    EXPECT_TRUE(window.close());
    EXPECT_EQ(asked, 2);
    EXPECT_FALSE(panel->isRunning());
    EXPECT_TRUE(std::filesystem::exists(output + "/checkpoint/trainer_state.json"));
}

}  // namespace
}  // namespace gqa

namespace gqa {
namespace {

// The studio's defaults are core's: a change of a default in ConversionTrainingConfig shows up
// here instead of the two drifting apart.
TEST(TrainingSettingsForm, DefaultsAreCoresAndBothFrontEndsShareTheForm) {
    const TrainingSettings studio;
    const ConversionTrainingConfig core;
    EXPECT_EQ(studio.steps, core.steps);
    EXPECT_EQ(studio.batchSize, core.batchSize);
    EXPECT_EQ(studio.seqLen, core.seqLen);
    EXPECT_DOUBLE_EQ(studio.learningRate, core.learningRate);
    EXPECT_EQ(studio.gateScheme, core.gates.scheme);
    EXPECT_EQ(toTorch(studio.compute), core.compute);
    EXPECT_EQ(studio.checkpointEvery, core.checkpointEvery);
    EXPECT_EQ(studio.evalEvery, core.evalEvery);

    TrainingSettingsForm form;
    TrainingSettings shown;
    shown.steps = 1;
    form.apply(shown);
    EXPECT_EQ(shown.steps, core.steps);
    shown.steps = 77;
    shown.gateScheme = GateScheme::HardConcrete;
    shown.compute = DType::BF16;
    form.setSettings(shown);
    TrainingSettings back;
    form.apply(back);
    EXPECT_EQ(back.steps, 77);
    EXPECT_EQ(back.gateScheme, GateScheme::HardConcrete);
    EXPECT_EQ(back.compute, DType::BF16);

    TrainingPanel panel;
    EXPECT_NE(panel.findChild<TrainingSettingsForm*>(), nullptr);
}

}  // namespace
}  // namespace gqa
