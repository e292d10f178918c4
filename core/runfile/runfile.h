// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The run file: one HDF5 file per conversion run, the single record of every stage's result.
// Layout (documented for h5py users in docs/run-file.md):
//
//   /                      attrs format = "gqa-studio-run", format_version = 1
//   /model                 attrs config_json, model_folder, checksum ("fnv1a64:..." of tensors)
//   /calibration           attrs input_files (strings), input_checksum, num_sequences,
//                          sequence_length, batch_size, tokens, num_layers
//   /calibration/layer_000/{keys,values}/{raw,normalized}
//                          float64 [H*d, H*d], attrs heads, head_dim, tokens (on keys/values)
//   /training              attrs settings_json, metric_names (strings); datasets
//                          metrics float64 [N, M] (one row per optimiser update, columns in
//                          metric_names order), gates float64 [N, layers, heads],
//                          validation float64 [K, 2] (step, loss)
//   /evaluation            one group eval_000, eval_001, ... per `gqa-cli eval --run`
//                          (append-only), each with attrs time, settings_json, warnings and a
//                          group model_000, ... per evaluated model (identity, KV cache,
//                          perplexity, tasks/task_000, ..., decode/points [P, 7])
//
// Crash safety: every stage write copies the file to `<path>.tmp`, writes the stage there, closes
// it and renames it over `<path>` (atomic on POSIX). An interruption leaves the previous file
// intact; at worst a stale `.tmp` remains and is overwritten by the next write. The price is one
// copy of the file per stage write.
//
// HDF5's own error printing is silenced; HDF5 failures become gqa::Error (or InputError for a
// file the user gave) naming the path.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/calibration.h"
#include "eval/decodespeed.h"
#include "analysis/headstatistics.h"
#include "eval/multiplechoice.h"
#include "eval/perplexity.h"
#include "training/traininghistory.h"

namespace gqa {

/// What identifies a model: the exact config.json and the tensor bytes.
struct ModelIdentity {
    std::string configJson;   ///< config.json text
    std::string modelFolder;  ///< absolute path when recorded (informational)
    std::string checksum;     ///< modelChecksum(folder)
};

/// filesChecksum over the folder's *.safetensors files in name order (streams every byte once).
std::string modelChecksum(const std::string& folder);
/// Reads config.json and computes the checksum; InputError naming what is missing.
ModelIdentity modelIdentity(const std::string& folder);

struct StoredCalibration {
    CalibrationSettings settings;
    std::vector<LayerStatistics> layers;
};

/// One model of a stored evaluation: what `gqa-cli eval` measured for it.
struct EvaluatedModel {
    std::string name;        ///< as shown in the table (the folder's last component)
    ModelIdentity identity;  ///< config.json text, folder, tensor checksum
    std::int64_t kvHeads = 0, parameters = 0;
    std::uint64_t kvCacheBytesPerToken = 0;  ///< in the compute dtype
    std::optional<PerplexityResult> perplexity;
    std::vector<MultipleChoiceResult> tasks;  ///< stored: the scores, not items and warnings
    std::optional<DecodeSpeedResult> decode;  ///< stored: the per-model fields and points
};

/// One evaluation (one `gqa-cli eval --run` call): the settings it used and every model's results.
struct EvaluationRecord {
    std::string time;          ///< UTC, ISO 8601 ("2026-11-27T09:30:00Z"); empty: set on append
    std::string settingsJson;  ///< device, dtype, text, tasks, decode settings (informational)
    std::vector<EvaluatedModel> models;
    std::vector<std::string> warnings;
};

class RunFile {
public:
    static constexpr const char* kFormat = "gqa-studio-run";
    static constexpr std::int64_t kFormatVersion = 1;

    /// Creates (or replaces) a run file holding only the format marker.
    static RunFile create(const std::string& path);
    /// Opens an existing run file. InputError when the file is missing, is not HDF5, has no
    /// GQA Studio format marker, or was written by a newer format version.
    static RunFile open(const std::string& path);

    const std::string& path() const { return m_path; }

    void writeModelIdentity(const ModelIdentity& identity);
    bool hasModelIdentity() const;
    ModelIdentity readModelIdentity() const;

    /// Replaces any stored calibration.
    void writeCalibration(const CalibrationSettings& settings,
                          const std::vector<LayerStatistics>& layers);
    bool hasCalibration() const;
    StoredCalibration readCalibration() const;
    /// True when the file holds a calibration with these settings (input files, their checksum
    /// when both are known, number and length of sequences) for the same model (same config.json
    /// text and tensor checksum).
    bool calibrationMatches(const ModelIdentity& model, const CalibrationSettings& settings) const;
    bool calibrationMatches(const std::string& modelFolder,
                            const CalibrationSettings& settings) const;

    /// Replaces the stored training history (group /training): settings JSON (string attr), metric
    /// names, metrics [N, M] float64, gates [N, layers, heads] float64, validation [K, 2] float64
    /// (step, loss). Error (nothing written) when the history's rows or gates do not match its
    /// names and shape. Each call rewrites the file (see crash safety above): call it at
    /// checkpoints and at the end of a run, not every update.
    void writeTrainingHistory(const TrainingHistory& history,
                              const std::vector<std::pair<std::int64_t, double>>& validation,
                              const std::string& settingsJson);
    bool hasTrainingHistory() const;
    struct StoredTraining {
        TrainingHistory history;
        std::vector<std::pair<std::int64_t, double>> validation;
        std::string settingsJson;
    };
    /// InputError naming the path when there is no /training or its datasets disagree in shape.
    StoredTraining readTrainingHistory() const;

    /// Appends one evaluation to /evaluation (entries already there are kept as they are) and
    /// returns its index. Crash-safe like every stage write: an interruption keeps the file as it
    /// was before the call.
    std::int64_t appendEvaluation(const EvaluationRecord& record);
    std::int64_t evaluationCount() const;
    /// "/evaluation/eval_007" for index 7.
    static std::string evaluationEntryName(std::int64_t index);
    /// Every stored evaluation, oldest first; InputError naming the entry when one is damaged.
    std::vector<EvaluationRecord> readEvaluations() const;

private:
    explicit RunFile(std::string path) : m_path(std::move(path)) {}
    std::string m_path;
};

/// For tests and repair tools: an HDF5 file without the run-file marker, a way to rewrite the
/// stored format_version (to check that newer files are refused), and one to rewrite the stored
/// training metric names in place (renaming metrics; or, with the wrong count, a malformed file).
void createPlainHdf5File(const std::string& path);
void setRunFileFormatVersion(const std::string& path, std::int64_t version);
void setTrainingMetricNames(const std::string& path, const std::vector<std::string>& names);

}  // namespace gqa
