// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared by the libFuzzer targets: a per-process scratch folder (on tmpfs when there is one) for
// readers that take paths, and FUZZ_CHECK for invariants whose violation is a finding.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace gqa::fuzz {

/// Aborts (a libFuzzer crash) with the failed condition when an invariant does not hold.
#define FUZZ_CHECK(condition)                                                          \
    do {                                                                               \
        if (!(condition)) {                                                            \
            std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, \
                         #condition);                                                  \
            std::abort();                                                              \
        }                                                                              \
    } while (0)

/// A folder private to this process: $GQA_FUZZ_TMPDIR, else /dev/shm when writable, else the
/// system temp folder, plus "gqa-fuzz-<pid>". Created on first use, removed at normal exit (a
/// crashed process leaves it behind; scripts/fuzz.sh runs targets in a folder it removes).
inline const std::filesystem::path& scratchDir() {
    // Never destroyed, so that the atexit handler can still use it.
    static const std::filesystem::path* const dir = [] {
        namespace fs = std::filesystem;
        fs::path base;
        if (const char* env = std::getenv("GQA_FUZZ_TMPDIR"); env && *env)
            base = env;
        else if (::access("/dev/shm", W_OK) == 0)
            base = "/dev/shm";
        else
            base = fs::temp_directory_path();
        auto* d = new fs::path(base / ("gqa-fuzz-" + std::to_string(::getpid())));
        fs::create_directories(*d);
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(scratchDir(), ec);
        });
        return d;
    }();
    return *dir;
}

/// Writes `size` bytes to scratchDir()/name and returns the path.
inline std::string writeScratchFile(const std::string& name, const void* data, std::size_t size) {
    const std::string path = (scratchDir() / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), std::streamsize(size));
    out.close();
    if (!out) {
        std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
        std::abort();
    }
    return path;
}

}  // namespace gqa::fuzz
