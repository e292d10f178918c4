// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/installlayout.h"

#include <cstdlib>
#include <system_error>

namespace gqa {
namespace fs = std::filesystem;

fs::path executablePath() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe;
}

fs::path installPrefix() {
    const fs::path exe = executablePath();
    return exe.empty() ? fs::path() : exe.parent_path().parent_path();
}

fs::path pluginDir() {
    const fs::path prefix = installPrefix();
    return prefix.empty() ? fs::path() : prefix / "lib" / "gqa-studio";
}

fs::path dataDir() {
    if (const char* env = std::getenv("GQA_DATA_DIR"); env && *env) return fs::path(env);
    const fs::path prefix = installPrefix();
    return prefix.empty() ? fs::path() : prefix / "share" / "gqa-studio";
}

fs::path demoModelDir() {
    const fs::path data = dataDir();
    return data.empty() ? fs::path() : data / "models" / "demo";
}

fs::path demoTextDir() {
    const fs::path data = dataDir();
    return data.empty() ? fs::path() : data / "text";
}

}  // namespace gqa
