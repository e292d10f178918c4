// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The layout of a conversion run's output folder, named in this one place. Every front end (the
// CLI's convert/train/align, the studio's Training tab and wizard, the report) finds the run's
// files through it, so a rename here moves them all.
//
//   run.h5               the run file (runfile.h): calibration, analysis, training history,
//                        evaluations
//   aligned-mha/         the aligned MHA model the training starts from (float32)
//   checkpoint/          the resumable training state (trainingcheckpoint.h)
//   model/               the exported, verified GQA model
//   convert-config.json  the resolved settings of the whole run (pipeline/conversionrunconfig.h)
//   tokens-train.bin, tokens-validation.bin   token caches of text inputs (tokendataset.h)

#include <string>

namespace gqa {

class RunFolder {
public:
    static constexpr const char* kRunFileName = "run.h5";
    static constexpr const char* kAlignedModelName = "aligned-mha";
    static constexpr const char* kCheckpointName = "checkpoint";
    static constexpr const char* kExportName = "model";
    static constexpr const char* kResolvedConfigName = "convert-config.json";
    static constexpr const char* kTrainTokensName = "tokens-train.bin";
    static constexpr const char* kValidationTokensName = "tokens-validation.bin";

    explicit RunFolder(std::string root);

    const std::string& root() const { return m_root; }
    std::string runFile() const;
    std::string alignedModel() const;
    std::string checkpoint() const;
    std::string exportedModel() const;
    std::string resolvedConfig() const;
    std::string trainTokens() const;
    std::string validationTokens() const;

    /// True when the folder holds a training checkpoint or an export (a run was started there).
    bool holdsRun() const;
    /// Deletes the run's own files and folders listed above, and nothing else (a user's files in
    /// the same folder stay). Error naming the path when one cannot be removed.
    void removeRun() const;

private:
    std::string file(const char* name) const;
    std::string m_root;
};

}  // namespace gqa
