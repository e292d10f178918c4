// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The "Training" tab: settings of a conversion run (KV heads, start from aligned or mean-pooled
// heads, steps, learning rate, gate scheme, data, device), Start / Pause / Resume, a progress bar
// with elapsed and remaining time, and the live plots of the run: loss terms, expected sparsity
// against its target, learning rates, tokens/s, and the gate heatmap with its history slider.
// Metrics flow worker -> MetricBuffer -> a 40 ms timer here -> plots (never one signal per
// update). A finished or unfinished run's history can be opened from its run file, and a second
// run overlaid (dashed) for comparison.
//
// A run is in one of the RunState states, and the buttons, the editable settings and the status
// line follow from it alone (setState). The output folder is used as typed; its default names the
// model, G and the start and follows them until the user edits it. Starting on a folder that holds
// a run asks first: resume it, overwrite it, or choose another folder. The plots of the previous
// run stay until the new run's first update arrives, so a start that fails loses nothing. A
// finished run with held-out text is then scored against the original model under the one
// comparison protocol of the wizard and the report (Stop Measuring cancels that).
//
// The groups are searched when the run starts, unless the Similarity tab handed over its groups
// ("Use these groups for training", edits included): then the run uses exactly those for their G,
// and the "Groups" row says so until the user searches instead, picks another G or another model.

#include <functional>

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
class EvaluationTask;
class ReportTask;

class TrainingPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int kRedrawIntervalMs = 40;
    /// Characters a settings combo shows at its narrowest (its list shows whole items), so that
    /// the settings column and the plots fit a 1024-pixel screen.
    static constexpr int kComboMinimumCharacters = 12;

    enum class RunState {
        Idle,      ///< nothing started since the model was opened; settings editable
        Running,   ///< settings locked; Pause
        Pausing,   ///< the checkpoint is being written
        Paused,    ///< checkpoint on disk; Resume, or End Run to change the settings
        Finished,  ///< exported; settings editable for the next run
        Failed,    ///< the reason in the status line; settings editable
    };
    enum class ExistingRunChoice { Resume, Overwrite, ChooseAnother, Cancel };
    /// Asked when Start finds a run in the output folder (default: a message box).
    using ExistingRunChooser = std::function<ExistingRunChoice(const QString& folder)>;

    explicit TrainingPanel(QWidget* parent = nullptr);

    /// Fills the form for a model (KV-head choices, default data and output folders).
    void setModel(const QString& folder, int heads, int layers);
    TrainingSettings settings() const;
    void setSettings(const TrainingSettings& settings);
    /// Sets only the run's length (updates, batch, sequence length): for short demonstration runs.
    void setRunLength(int steps, int batchSize, int seqLen);
    /// Groups chosen in the Similarity tab (per layer, original head indices), for G = `groups`
    /// (selected here); `description` says what they are ("3 layers edited by hand").
    void setGivenGroups(int groups,
                        const std::vector<std::vector<std::vector<std::int64_t>>>& groupings,
                        const QString& description);
    /// Back to searching the groups when the run starts.
    void clearGivenGroups();
    bool hasGivenGroups() const { return !m_givenGroups.empty(); }
    /// The "Groups" row: where the next run's groups come from.
    QString groupsSourceText() const;
    TrainingRunner* runner() const { return m_runner; }
    bool isRunning() const { return m_runner->isRunning(); }
    RunState runState() const { return m_state; }
    void setExistingRunChooser(ExistingRunChooser chooser) { m_chooser = std::move(chooser); }

    /// Loads the history stored in a run file (InputError text on failure, empty on success);
    /// `compare` overlays it dashed on the current plots instead of replacing them.
    QString openRun(const QString& runFile, bool compare = false);

    LivePlot* lossPlot() const { return m_loss; }
    LivePlot* sparsityPlot() const { return m_sparsity; }
    GateHeatmap* gateHeatmap() const { return m_gates; }
    QLabel* statusLabel() const { return m_status; }
    ReportTask* reportTask() const { return m_reportTask; }
    /// After a finished run with held-out text: the original and the export scored under the
    /// one comparison protocol (core/eval/modelcomparison.h), shown with the protocol.
    EvaluationTask* evaluationTask() const { return m_evaluation; }
    /// Writes the run report (docs/report.md) of a run folder on a worker thread and opens it
    /// (not under the offscreen platform); empty: the last finished run, else asks for a folder.
    /// The Report button cancels it while it runs.
    void writeReport(const QString& runFolder = QString());

public Q_SLOTS:
    /// Starts (or, when paused, resumes) a run with the settings shown.
    void startRun();
    void pauseRun();
    /// Leaves a paused run as it is on disk and unlocks the settings.
    void endPausedRun();
    /// Drains the metric buffer into the plots (the redraw timer calls this).
    void drainMetrics();

Q_SIGNALS:
    void runFinished(const gqa::TrainingOutcome& outcome);

private:
    QWidget* buildForm();
    QWidget* buildPlots();
    void setState(RunState state);
    /// The default output folder for the chosen G and start, unless the user typed one.
    void updateDefaultOutput();
    /// The "Groups" row follows G, the start and the given groups.
    void updateGroupsSource();
    /// Asks what to do with the run already in `folder`; false: do not start now.
    bool settleExistingRun(const QString& folder);
    void connectReportTask();
    void connectEvaluation();
    void measureHeldOut(const TrainingOutcome& outcome);
    void appendSamples(const std::vector<TrainingSample>& samples, bool compare);
    static QString duration(double seconds);

    TrainingRunner* m_runner = nullptr;
    QTimer* m_redraw = nullptr;
    QString m_modelFolder;
    int m_layers = 0, m_heads = 0;

    QComboBox* m_groups = nullptr;
    QComboBox* m_start = nullptr;
    QLabel* m_groupsSource = nullptr;
    QPushButton* m_searchInstead = nullptr;
    std::vector<std::vector<std::vector<std::int64_t>>> m_givenGroups;  ///< empty: searched
    int m_givenG = 0;
    QString m_givenDescription;
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
    EvaluationTask* m_evaluation = nullptr;
    QString m_finishedText;  ///< the finished run's line, above the measurement
    QString m_lastRunFolder;
    RunState m_state = RunState::Idle;
    ExistingRunChooser m_chooser;
    bool m_outputEdited = false;        ///< the user typed an output folder: keep it
    bool m_clearOnFirstSample = false;  ///< a new run started: its first update replaces the plots
};

}  // namespace gqa
