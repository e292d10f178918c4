// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The similarity analysis as one blocking function for a worker thread: calibrate the model on
// text (or reuse the statistics its run file already holds for the same model and settings), run
// core's analyzeHeads, add the other criterion's similarity matrices, and convert everything to
// plain values (HeadAnalysisData). Progress fractions cover the whole run; the sink's "stop"
// makes it throw gqa::Cancelled at the next safe point.
//
// Run files live in studioRunsFolder()/<model folder name>.h5 (studiopaths.h), never next to the
// model (model folders are often read-only); reopening the same model with the same calibration
// settings skips the calibration.

#include <QString>
#include <QStringList>

#include "headanalysisdata.h"
#include "base/progress.h"

namespace gqa {

struct HeadAnalysisRequest {
    static constexpr int kDefaultSequences = 32;
    static constexpr int kDefaultSequenceLength = 256;

    QString modelFolder;
    QStringList inputFiles;  ///< .txt or .jsonl calibration text
    int sequences = kDefaultSequences;
    int sequenceLength = kDefaultSequenceLength;  ///< clamped to the model's max positions
    int batchSize = 8;
    QString runFile;  ///< empty: defaultRunFilePath(modelFolder)
    bool reuseCalibration = true;
};

/// studioRunsFolder()/<name of the model folder>-<8 hex digits of the SHA-1 of its canonical
/// path>.h5: one file per model folder, also when two folders have the same name.
QString defaultRunFilePath(const QString& modelFolder);
/// emma.txt in demoTextFolder() (the installed or build-tree demo text, else data/corpus/text
/// in the working directory); empty when none exists.
QString defaultCalibrationText();

/// Throws InputError (bad model, missing tokenizer, too little text), Cancelled, or Error.
HeadAnalysisData runHeadAnalysis(const HeadAnalysisRequest& request, ProgressSink& progress);

}  // namespace gqa
