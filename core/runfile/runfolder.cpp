// SPDX-License-Identifier: GPL-3.0-or-later
#include "runfile/runfolder.h"

#include <filesystem>

#include "base/error.h"

namespace gqa {
namespace fs = std::filesystem;

RunFolder::RunFolder(std::string root) : m_root(std::move(root)) {}

std::string RunFolder::file(const char* name) const { return (fs::path(m_root) / name).string(); }
std::string RunFolder::runFile() const { return file(kRunFileName); }
std::string RunFolder::alignedModel() const { return file(kAlignedModelName); }
std::string RunFolder::checkpoint() const { return file(kCheckpointName); }
std::string RunFolder::exportedModel() const { return file(kExportName); }
std::string RunFolder::resolvedConfig() const { return file(kResolvedConfigName); }
std::string RunFolder::trainTokens() const { return file(kTrainTokensName); }
std::string RunFolder::validationTokens() const { return file(kValidationTokensName); }

bool RunFolder::holdsRun() const {
    std::error_code ec;
    return fs::exists(checkpoint(), ec) || fs::exists(exportedModel(), ec);
}

void RunFolder::removeRun() const {
    for (const std::string& path : {runFile(), alignedModel(), checkpoint(), exportedModel(),
                                    resolvedConfig(), trainTokens(), validationTokens()}) {
        std::error_code ec;
        fs::remove_all(path, ec);
        if (ec) throw Error(path + ": cannot remove (" + ec.message() + ")");
    }
}

}  // namespace gqa
