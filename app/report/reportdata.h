// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a run report shows, gathered from a conversion run's folder (run.h5 + the exported model)
// into plain values: the model's identity and size, the training and calibration settings, the
// library versions, the similarity before/after alignment and the chosen groups (re-derived with
// analyzeHeads from the stored calibration statistics, for the run's G), the training curves and
// gate trajectory, the export's verification, and an evaluation of the original MHA model against
// the exported GQA model (perplexity on a bounded prefix of a text, KV-cache bytes per token),
// plus the evaluations `gqa-cli eval --run` stored in the run file.
// Gathering is the slow part (analysis, two perplexity runs); it runs without a display and
// reports progress through ReportProgress, which may cancel (gqa::Cancelled). No torch or widget
// types appear here so that the studio can hold the values.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <QString>
#include <QStringList>

namespace gqa {

/// fraction 0..1 of the whole report and the stage text; returns false to cancel.
using ReportProgress = std::function<bool(double fraction, const QString& stage)>;

struct ReportConfig {
    QString runFolder;       ///< the training output folder (run.h5, model/, ...)
    QString runFile;         ///< empty: <runFolder>/run.h5
    QString exportFolder;    ///< empty: the run file's result.export_folder, else <runFolder>/model
    QString outputFolder;    ///< empty: runFolder; report.html, report_files/, report.pdf go here
    QString evaluationText;  ///< empty: the first calibration input file (noted as not held out)
    /// Perplexity on at most this many tokens (0: skip); the wizard's kComparisonMaxTokens.
    std::int64_t maxTokens = 8192;
    int similarityLayers = 4;  ///< layers shown as before/after heatmaps (evenly spaced)
    bool writePdf = true;
};

struct ReportEvaluationRow {
    QString name;    ///< "original MHA" / "exported GQA"
    QString folder;  ///< model folder
    std::int64_t kvHeads = 0;
    std::uint64_t kvBytesPerToken = 0;
    double perplexity = 0.0;  ///< NaN when not evaluated
    std::int64_t tokensScored = 0;
};

/// One evaluation stored in the run file by `gqa-cli eval --run`, as a ready table.
struct ReportStoredEvaluation {
    QString time;                   ///< UTC, as recorded
    QStringList setup;              ///< what was measured and how, one line each
    QStringList header;             ///< column names
    std::vector<QStringList> rows;  ///< one per model
};

struct ReportLayerSimilarity {
    int layer = 0;
    int heads = 0;
    std::vector<double> before, after;         ///< [heads * heads] row-major
    double meanBefore = 0.0, meanAfter = 0.0;  ///< mean off-diagonal
};

struct ReportData {
    QString runFolder, runFile, modelFolder, modelName, exportFolder;
    QString family;  ///< "GemmaForCausalLM: RMSNorm (1 + w), ...": ModelConfig::familySummary
    QString configJson, settingsJson;  ///< pretty-printed
    QString heldOutText;        ///< the run's validation file, when its run file recorded one
    QStringList configSummary;  ///< "name: value" lines
    std::int64_t parameterCount = 0;
    int layers = 0, heads = 0, headDim = 0, groups = 0;
    QStringList calibrationSummary;
    QStringList versions;  ///< "name: value" lines

    std::vector<ReportLayerSimilarity> similarity;
    std::vector<double> meanSimilarityBefore, meanSimilarityAfter;  ///< per layer
    std::vector<std::vector<std::vector<std::int64_t>>> groupings;  ///< per layer, per group
    /// Where `groupings` come from: "searched by the run", "given by the user (…)", "consecutive
    /// heads (…)", or "searched by the report (…)" for runs that recorded none.
    QString groupingSource;
    /// Per layer, the predicted merge cost at the run's G (share of K/V signal lost, mean of keys
    /// and values): mean-pool (consecutive heads), aligned mean, least-squares merge.
    struct LayerMergeCost {
        double meanPool = 0.0, aligned = 0.0, leastSquares = 0.0;
    };
    std::vector<LayerMergeCost> mergeCosts;

    std::vector<std::string> metricNames;
    std::vector<std::vector<double>> metrics;           ///< rows as in the run file
    std::vector<std::vector<double>> gates;             ///< per update, layers * heads
    std::vector<std::pair<double, double>> validation;  ///< (step, loss)

    bool exportFound = false, exportVerified = false;
    double exportMaxRelativeLogitDiff = 0.0;

    QString evaluationTextFile, evaluationNote;
    QString evaluationProtocol;  ///< how the perplexities were measured (ModelComparison)
    std::vector<ReportEvaluationRow> evaluation;
    QStringList notes;  ///< what was skipped and why

    /// The evaluations stored in the run file, oldest first.
    std::vector<ReportStoredEvaluation> storedEvaluations;

    std::vector<double> column(const std::string& name) const;
};

/// Gathers a report's content. gqa::InputError when the run file is missing or holds no model
/// identity; a missing calibration, training history, export or evaluation text becomes a note.
ReportData gatherReportData(const ReportConfig& config, const ReportProgress& progress);

}  // namespace gqa
