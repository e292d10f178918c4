// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The "Training" tab: settings of a conversion run (KV heads, start from aligned or mean-pooled
// heads, steps, learning rate, gate scheme, data, device), Start / Pause / Resume, a progress bar
// with elapsed and remaining time, and the live plots of the run: loss terms, expected sparsity
// against its target, learning rates, tokens/s, and the gate heatmap with its history slider.
// Metrics flow worker -> MetricBuffer -> a 40 ms timer here -> plots (never one signal per
// update). A finished or unfinished run's history can be opened from its run file, and a second
// run overlaid (dashed) for comparison.

#include <QString>
#include <QWidget>

#include "trainingrunner.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QTimer;

namespace gqa {
class TrainingSettingsForm;

class GateHeatmap;
class LivePlot;
class ReportTask;

class TrainingPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int kRedrawIntervalMs = 40;

    explicit TrainingPanel(QWidget* parent = nullptr);

    /// Fills the form for a model (KV-head choices, default data and output folders).
    void setModel(const QString& folder, int heads, int layers);
    TrainingSettings settings() const;
    void setSettings(const TrainingSettings& settings);
    /// Sets only the run's length (updates, batch, sequence length): for short demonstration runs.
    void setRunLength(int steps, int batchSize, int seqLen);
    TrainingRunner* runner() const { return m_runner; }
    bool isRunning() const { return m_runner->isRunning(); }

    /// Loads the history stored in a run file (InputError text on failure, empty on success);
    /// `compare` overlays it dashed on the current plots instead of replacing them.
    QString openRun(const QString& runFile, bool compare = false);

    LivePlot* lossPlot() const { return m_loss; }
    LivePlot* sparsityPlot() const { return m_sparsity; }
    GateHeatmap* gateHeatmap() const { return m_gates; }
    QLabel* statusLabel() const { return m_status; }
    ReportTask* reportTask() const { return m_reportTask; }
    /// Writes the run report (docs/report.md) of a run folder on a worker thread and opens it
    /// (not under the offscreen platform); empty: the last finished run, else asks for a folder.
    /// The Report button cancels it while it runs.
    void writeReport(const QString& runFolder = QString());

public Q_SLOTS:
    void startRun();
    void pauseRun();
    /// Drains the metric buffer into the plots (the redraw timer calls this).
    void drainMetrics();

Q_SIGNALS:
    void runFinished(const gqa::TrainingOutcome& outcome);

private:
    QWidget* buildForm();
    QWidget* buildPlots();
    void setRunning(bool running);
    void connectReportTask();
    void appendSamples(const std::vector<TrainingSample>& samples, bool compare);
    static QString duration(double seconds);

    TrainingRunner* m_runner = nullptr;
    QTimer* m_redraw = nullptr;
    QString m_modelFolder;
    int m_layers = 0, m_heads = 0;

    QComboBox* m_groups = nullptr;
    QComboBox* m_start = nullptr;
    TrainingSettingsForm* m_settingsForm = nullptr;  ///< the wizard's form too
    QLineEdit* m_trainText = nullptr;
    QLineEdit* m_validation = nullptr;
    QLineEdit* m_calibration = nullptr;
    QLineEdit* m_output = nullptr;
    QPushButton* m_startButton = nullptr;
    QPushButton* m_pauseButton = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QSlider* m_smoothing = nullptr;

    LivePlot* m_loss = nullptr;
    LivePlot* m_sparsity = nullptr;
    LivePlot* m_lrPlot = nullptr;
    LivePlot* m_speed = nullptr;
    GateHeatmap* m_gates = nullptr;
    QPushButton* m_reportButton = nullptr;  ///< "Cancel Report" while a report is written
    ReportTask* m_reportTask = nullptr;
    QString m_lastRunFolder;
};

}  // namespace gqa
